"""Screenshots of every page of the real app, on the demo project with a finished run.

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m tools.screenshots [OUT_DIR]

The Train page is taken twice: train.png with the basics (as a new user sees it) and
train_advanced.png with Advanced open, both once its memory verdict and max-length check
have arrived. The Runs page shows three runs of the demo (different learning rates and ranks,
the last two trained from the queue) overlaid, with the settings that differ.

Everything (demo project, tiny model, settings) lives in a scratch data folder (--data-dir,
default ./out/screenshot-data) so the user's own projects and settings are never touched. The
run is trained by the real engine child and the chat reply comes from the real chat child.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = ("datasets", "models", "train", "runs", "chat")
# The demo's runs: (name, LoRA rank, learning rate); the first is the one chatted with.
RUNS_TRAINED = (("support-lora-1", 16, "5e-3"), ("support-lora-2", 16, "2e-3"), ("support-lora-3", 8, "5e-3"))
PROMPTS = ("Hi, where is my order? It has been a week.", "Can I return the kettle I bought?")


def wait_for(app, predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def settle(app, seconds: float = 0.6) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def wait_for_train_checks(app, train) -> None:
    """Until the Train page's max-length check and memory verdict are on screen."""
    wait_for(app, lambda: not train.fit.measuring and not train.memory.pending
             and not train.form.widgets["target_modules"].task, 120, "the Train page's checks")
    settle(app, 0.3)


def start_window(args):
    """Isolated data and settings under args.data_dir, then the real app's window, shown.

    -> (data_dir, app, window). Shared by the screenshot scripts."""
    data_dir = os.path.abspath(args.data_dir)
    os.makedirs(data_dir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    # Before importing the app: it reads these at start.
    os.environ["WORKBENCH_DATA_DIR"] = data_dir
    os.environ["WORKBENCH_SETTINGS_FILE"] = os.path.join(data_dir, "settings.ini")
    os.environ.setdefault("WORKBENCH_USER", "alex")

    from workbench.ui.common import theme
    from workbench.ui.app import create_application
    from workbench.ui.shell.main_window import MainWindow

    app = create_application(sys.argv[:1])
    theme.apply_theme(app, args.theme)
    window = MainWindow()
    window.ask_about_active_runs = lambda count: "stop"
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    settle(app, 0.3)
    return data_dir, app, window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=os.path.join(REPO, "resources", "screenshots"))
    parser.add_argument("--data-dir", default=os.path.join(REPO, "out", "screenshot-data"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--steps", type=int, default=60, help="training steps of the demo run")
    parser.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    data_dir, app, window = start_window(args)
    from workbench.ui.shell.main_window import CHAT, DATASETS, RUNS, TRAIN

    task = window.open_demo_project(os.path.join(data_dir, "projects", "Demo.wbproj"))
    failed: list[BaseException] = []
    task.failed.connect(failed.append)
    wait_for(app, lambda: window.ctx is not None or bool(failed), 900, "the demo project")
    if failed:
        raise SystemExit(f"screenshots: the demo project failed: {failed[0]}")
    ctx = window.ctx
    assert ctx is not None

    done = {r.name: r for r in ctx.store.list_runs() if r.status == "completed"}
    missing = [spec for spec in RUNS_TRAINED if spec[0] not in done]
    if missing:
        form = window.train_page
        window.set_page(TRAIN)
        started = []
        for i, (name, r, lr) in enumerate(missing):
            form.r_spin.setValue(r)
            form.alpha_spin.setValue(2 * r)
            form.lr_edit.setText(lr)
            form.steps_spin.setValue(args.steps)
            form.batch_spin.setValue(8)
            form.length_spin.setValue(160)
            form.name_edit.setText(name)
            run_id = form.start() if i == 0 else form.enqueue()  # the others wait in the queue
            if run_id is None:
                raise SystemExit(f"screenshots: the run {name} could not start")
            started.append(run_id)
            window.set_page(TRAIN)
        wait_for(app, lambda: not ctx.active_run_ids() and not ctx.runs.queued_run_ids(), 3600, "the training runs")
        for run_id in started:
            trained = ctx.store.get_run(run_id)
            if trained.status != "completed":
                raise SystemExit(f"screenshots: the run {trained.name} ended {trained.status}: {trained.error}")
            done[trained.name] = trained
    run = done[RUNS_TRAINED[0][0]]
    overlaid = [done[name].id for name, _r, _lr in RUNS_TRAINED]

    # Datasets: a multi-turn conversation selected.
    window.set_page(DATASETS)
    page = window.datasets_page
    model = page.rows_model
    row = next((i for i in range(model.rowCount()) if model.index(i, 1).data().count("U") >= 2), 0)
    page.rows_view.selectRow(row)
    # Train: a ready-to-start form for the next run.
    window.train_page.name_edit.setText(f"support-lora-{len(RUNS_TRAINED) + 1}")
    # Runs: the three overlaid, their results and the settings that differ.
    runs_page = window.runs_page
    runs_page.select_runs(overlaid, run.id)
    runs_page.tabs.setCurrentWidget(runs_page.compare)

    train = window.train_page
    train.advanced_action.setChecked(False)  # basics first, as a new user sees it
    for index, name in enumerate(PAGES[:4]):
        window.set_page(index)
        settle(app)
        if index == TRAIN:
            wait_for_train_checks(app, train)
        if index == RUNS:
            wait_for(app, lambda: set(runs_page.feed.ready) == set(overlaid), 120, "the runs' curves")
            settle(app)
        window.grab().save(os.path.join(args.out, f"{name}.png"))
        print(f"screenshots: {name}.png")

    # Train again with Advanced open, scrolled to its groups.
    window.set_page(TRAIN)
    train.advanced_action.setChecked(True)
    settle(app)
    wait_for_train_checks(app, train)
    train.scroll.ensureWidgetVisible(train.advanced, 0, 0)
    settle(app, 0.3)
    window.grab().save(os.path.join(args.out, "train_advanced.png"))
    print("screenshots: train_advanced.png")
    train.advanced_action.setChecked(False)

    # Chat with the finished run's adapter: two real exchanges.
    window.set_page(RUNS)
    runs_page.select_run(run.id)
    runs_page.chat_button.click()
    chat = window.chat_page
    wait_for(app, lambda: chat.state in ("ready", "failed"), 300, "the chat model")
    if chat.state != "ready":
        raise SystemExit(f"screenshots: chat failed: {chat.client.error if chat.client else ''}")
    chat.settings_panel.system_edit.setPlainText("You are a friendly support agent. Answer briefly.")
    chat.temperature_spin.setValue(0.3)
    chat.max_tokens_spin.setValue(80)
    chat.settings_panel.seed_spin.setValue(7)
    for prompt in PROMPTS:
        chat.input.setPlainText(prompt)
        chat.send()
        wait_for(app, lambda: chat.state == "ready", 300, "a chat reply")
    # A second answer to the last message: the reply shows its branch arrows (‹ 2/2 ›).
    chat.settings_panel.seed_spin.setValue(8)
    chat.regenerate()
    wait_for(app, lambda: chat.state == "ready", 300, "a regenerated reply")
    window.set_page(CHAT)
    settle(app)
    window.grab().save(os.path.join(args.out, "chat.png"))
    print("screenshots: chat.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
