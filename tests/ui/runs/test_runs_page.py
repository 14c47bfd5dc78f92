"""Runs page: a live run re-attached through its journal shows its status, a growing loss curve
(appended, never reloaded), a progress line with an ETA and its log; Cancel asks the child to
stop cooperatively (STOP file), and the page follows it.

The child here is a small stand-in for a training process that speaks the real protocol (it
sleeps, and answers the STOP file with a `cancelled` event), so the test exercises the real
store, RunManager re-attach, ingest, poll timer and plot without loading torch."""

from __future__ import annotations

import os
import textwrap

import pytest

from workbench.store import ProjectStore
from tests.helpers.live_run import live_run as make_live_run
from workbench.ui.shell.main_window import CHAT, RUNS

CHILD = textwrap.dedent("""
    import json, os, sys, time
    spec, journal, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    work = os.path.dirname(spec)
    print("stand-in trainer: loading the model", file=sys.stderr, flush=True)
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(stop):
        time.sleep(0.05)
    # While HOLD exists the child is "saving" (tests look at the stopping state meanwhile).
    while time.time() < deadline and os.path.exists(os.path.join(work, "HOLD")):
        time.sleep(0.05)
    # As the real child does on a stop: a checkpoint at the last step, then `cancelled`.
    steps = [json.loads(line)["payload"].get("step", 0) for line in open(journal)
             if '"progress"' in line]
    ckpt = os.path.join(work, "checkpoints", f"checkpoint-{max(steps or [0])}")
    os.makedirs(ckpt, exist_ok=True)
    open(os.path.join(ckpt, "trainer_state.json"), "w").write("{}")
    with open(journal, "a") as f:
        f.write(json.dumps({"seq": 1000, "kind": "cancelled", "t": time.time(),
                            "payload": {"adapter_path": None, "step": 0}}) + "\\n")
""")


@pytest.fixture
def live_run(tmp_path, make_jsonl):
    """A project holding a run whose 'child' is alive and writes the run's journal."""
    with make_live_run(tmp_path, make_jsonl(20), CHILD) as (path, run_id, writer, proc):
        for step in (1, 2, 3):
            writer.emit("progress", step=step, total_steps=40, epoch=0.1 * step)
            writer.emit("log", step=step, values={"loss": 3.0 - 0.1 * step, "learning_rate": 2e-4})
        yield path, run_id, writer, proc


def _cell(page, key: str, row: int = 0) -> str:
    from workbench.ui.runs.table_model import COLUMN_KEYS

    return page.proxy.index(row, COLUMN_KEYS.index(key)).data()


def _losses(page, run_id: str) -> list[float]:
    data = page.chart.data(run_id)
    return [] if data is None or "loss" not in data.buffers else list(data.buffers["loss"].value)


def test_live_run_curve_status_and_cancel(window, qtbot, live_run):
    path, run_id, writer, proc = live_run
    assert window.open_project(path)  # RunManager re-attaches through the journal
    window.set_page(RUNS)
    page = window.runs_page
    assert page.chart.built
    assert page.proxy.rowCount() == 1
    assert (_cell(page, "name"), _cell(page, "status"), _cell(page, "steps")) == ("live-run", "running", "3 / 40")
    assert (_cell(page, "last_loss"), _cell(page, "best_loss"), _cell(page, "model")) == ("2.7000", "2.7000", "tiny")
    assert page.selected_run().id == run_id
    qtbot.waitUntil(lambda: _losses(page, run_id) == pytest.approx([2.9, 2.8, 2.7]), timeout=15000)
    loads: list[str] = []
    page.feed.loaded.connect(loads.append)
    assert not page.actions.delete.isEnabled()  # a training run cannot be deleted
    # The status bar follows the running job.
    assert window.job_progress.isVisible()
    assert window.job_progress.format() == "step 3 / 40" and window.job_progress.value() == 75  # per mille
    assert "live-run" in window.job_label.text()
    # The Logs tab shows what the child wrote to stderr.
    page.tabs.setCurrentWidget(page.logs)
    qtbot.waitUntil(lambda: "stand-in trainer: loading the model" in page.logs.text.toPlainText(), timeout=15000)

    # New points arrive while the page is open: appended to the curve, not loaded again.
    for step in range(4, 12):
        writer.emit("progress", step=step, total_steps=40, epoch=0.1 * step)
        writer.emit("log", step=step, values={"loss": 3.0 - 0.1 * step})
    writer.close()
    qtbot.waitUntil(lambda: len(_losses(page, run_id)) == 11, timeout=15000)
    assert _losses(page, run_id)[-1] == pytest.approx(1.9) and loads == []
    qtbot.waitUntil(lambda: _cell(page, "steps") == "11 / 40", timeout=15000)
    assert window.job_progress.format() == "step 11 / 40"
    # The progress line: step, share and, once the speed was measured between two polls, an ETA.
    line = page.progress_line
    assert line.isVisible() and line.label.text().startswith("Step 11 / 40 · 28%")
    assert "left" in line.label.text() and "steps/s" in line.label.text()

    # Cancel: the child sees the STOP file, saves (HOLD keeps it there a while), reports
    # `cancelled`, exits; the page and the status bar follow.
    assert page.cancel_button.isEnabled()
    assert not page.chat_button.isEnabled()
    assert not page.resume_button.isEnabled()
    assert page.resume_button.toolTip() == ("<p>The run is still training.</p>"
                                            "<p>Cancel it first; it saves a checkpoint as it stops.</p>")
    hold = os.path.join(path, "runs", run_id, "HOLD")
    open(hold, "w").close()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: "stopping, saving its adapter" in window.job_label.text(), timeout=15000)
    assert window.job_label.text().startswith("Training live-run")
    qtbot.wait(300)  # a few polls and refreshes: Cancel stays off while the run stops
    assert not page.cancel_button.isEnabled()
    os.remove(hold)
    qtbot.waitUntil(lambda: _cell(page, "status") == "cancelled", timeout=15000)
    assert proc.wait(5) == 0
    assert not page.cancel_button.isEnabled() and not line.isVisible()
    assert window.job_status.isHidden()
    # Nothing in the status bar still says the run is stopping once it has stopped.
    assert "Stopping" not in window.statusBar().currentMessage()
    assert "cancelled" in page.details.toPlainText()
    assert "live-run" in page.details.toPlainText()
    # It stopped cooperatively, so it left a checkpoint: Resume is offered, saying from where.
    assert page.resume_button.isEnabled()
    assert page.resume_button.toolTip() == "<p>Continue from its checkpoint at step 11 as the same run.</p>"
    assert page.actions.delete.isEnabled()


def test_dead_child_is_shown_interrupted_with_advice(window, qtbot, live_run):
    path, run_id, writer, proc = live_run
    proc.kill()
    proc.wait(5)
    assert window.open_project(path)
    window.set_page(RUNS)
    page = window.runs_page
    assert _cell(page, "status") == "interrupted"
    details = page.details.toPlainText()
    assert "ended while Workbench was closed" in details
    assert "It saved no checkpoint: start a new run with the same settings." in details
    assert not page.cancel_button.isEnabled()
    # The curve recorded before the crash is still there.
    qtbot.waitUntil(lambda: len(_losses(page, run_id)) == 3, timeout=15000)
    # No checkpoint exists: Resume is off and its tooltip says why and what to do instead.
    assert not page.resume_button.isEnabled()
    tip = page.resume_button.toolTip()
    assert "saved no checkpoint" in tip and "start a new run on the train page" in tip.lower()
    assert "checkpoint steps" not in tip and "chat" not in tip.lower()  # it has no adapter


def test_plot_is_not_built_before_the_page_shows(window, live_run):
    path, *_ = live_run
    window.set_page(0)
    window.open_project(path)
    assert not window.runs_page.chart.built
    # The Train form starts from the newest run's settings.
    assert window.train_page.steps_spin.value() == 40


def test_chat_button_is_for_finished_runs_only(window, qtbot, live_run):
    path, run_id, writer, proc = live_run
    window.open_project(path)
    window.set_page(RUNS)
    assert not window.runs_page.chat_button.isEnabled()
    window.set_page(CHAT)
    assert window.chat_page.select_run(run_id, load=False) is False  # no adapter: not offered
    window.ctx.runs.cancel(run_id)
    qtbot.waitUntil(lambda: window.ctx.active_run_ids() == [], timeout=15000)
    proc.wait(5)


def test_stop_them_on_quit_waits_for_a_reattached_run_without_blocking(window, qtbot, live_run):
    """Quit with Stop Them: the re-attached run gets the cooperative stop (no SIGTERM), the
    window stays live (its timers fire) while it saves, and the window closes by itself after."""
    from PySide6.QtCore import QTimer

    path, run_id, writer, proc = live_run
    assert window.open_project(path)
    work = os.path.join(path, "runs", run_id)
    hold = os.path.join(work, "HOLD")
    open(hold, "w").close()
    ticks: list[bool] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(window.stopping is not None))
    timer.start(20)
    window.close()  # the window's X / File > Quit
    assert window.isVisible() and window.ctx is not None  # returned at once: not closed yet
    assert os.path.exists(os.path.join(work, "STOP")) and proc.poll() is None  # asked, not killed
    dialog = window.stopping
    assert dialog.isVisible() and not dialog.isModal()
    assert "Stopping 1 training run… saving adapters" in dialog.label.text()
    assert dialog.runs_list.item(0).text() == "live-run: saving its adapter and a checkpoint…"
    assert window.statusBar().currentMessage() == "Stopping 1 training run… saving adapters"
    assert not window.outer.isEnabled()  # nothing new starts in a closing project
    qtbot.waitUntil(lambda: sum(ticks) >= 5, timeout=10000)  # the event loop runs meanwhile
    assert window.polling and window.isVisible()
    window.close()  # pressed again: still waiting for the same stop, no second question
    assert window.isVisible()
    os.remove(hold)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20000)
    timer.stop()
    assert window.ctx is None and window.stopping is None
    assert proc.wait(10) == 0  # it ended by itself after saving
    store = ProjectStore.open(path)
    try:
        run = store.get_run(run_id)
        assert run.status == "cancelled" and not run.error
        assert os.path.isfile(os.path.join(work, "checkpoints", "checkpoint-3", "trainer_state.json"))
    finally:
        store.close()


def test_close_project_with_stop_them_then_opens_the_next_project(window, qtbot, live_run, tmp_path):
    path, run_id, writer, proc = live_run
    other = ProjectStore.create(str(tmp_path / "Other.wbproj"))
    other_path = other.path
    other.close()
    assert window.open_project(path)
    hold = os.path.join(path, "runs", run_id, "HOLD")
    open(hold, "w").close()
    assert window.open_project(other_path) is False  # Stop Them: runs are saving first
    assert window.ctx.path == path and window.stopping is not None
    os.remove(hold)
    qtbot.waitUntil(lambda: window.ctx is not None and window.ctx.path == other_path, timeout=20000)
    assert window.isVisible() and window.outer.isEnabled() and window.stopping is None
    assert window.statusBar().currentMessage() == ""
    assert proc.wait(10) == 0
    # Close Project with Stop Them on a project without runs closes at once.
    window.close_action.trigger()
    assert window.ctx is None and window.outer.currentIndex() == 0
