"""Screenshots of the Evaluate page of the real app, on the demo project.

    xvfb-run -a -s "-screen 0 1600x1000x24" python -m tools.screenshots_evaluate [OUT_DIR]

A suite is made in the New Suite dialog from the demo chats' test split (the first 24 rows),
with SmolLM2-135M-Instruct as the local judge (pass / fail; the tiny model when the SmolLM2
package is missing), and run by the real eval child on the tiny base model and on the adapter
tools.screenshots trains (support-lora-1, trained here first if the project has none). Twenty
of the adapter's outputs are then rated in the Items tab; the rater is a rule standing in for a
person (pass when the output's ROUGE-L against the reference is above the rated outputs' median).

Writes evaluate.png (results with intervals and the paired test), evaluate_items.png (the
outputs side by side with the reference, the rating bar) and evaluate_judge.png (the judge
against the ratings). Same scratch data folder as tools.screenshots (--data-dir).
"""

from __future__ import annotations

import argparse
import os

from tools.screenshots import REPO, RUNS_TRAINED, settle, start_window, wait_for

SUITE = "support answers"
RATED = 20


def _train_first_run(app, window, ctx, steps: int):
    """support-lora-1 as tools.screenshots trains it, through the Train page."""
    from workbench.ui.shell.main_window import TRAIN

    name, r, lr = RUNS_TRAINED[0]
    form = window.train_page
    window.set_page(TRAIN)
    form.r_spin.setValue(r)
    form.alpha_spin.setValue(2 * r)
    form.lr_edit.setText(lr)
    form.steps_spin.setValue(steps)
    form.batch_spin.setValue(8)
    form.length_spin.setValue(160)
    form.name_edit.setText(name)
    run_id = form.start()
    if run_id is None:
        raise SystemExit("screenshots: the run could not start")
    wait_for(app, lambda: not ctx.active_run_ids(), 3600, "the training run")
    return ctx.store.get_run(run_id)


def _judge_model(ctx):
    from workbench.core.errors import WorkbenchError
    from workbench.services import models

    try:
        return models.ensure_builtin_model(ctx.store, "smollm2")
    except WorkbenchError as exc:
        print(f"screenshots: SmolLM2 unavailable ({exc.user_message}); the tiny model judges")
        return models.ensure_builtin_model(ctx.store, "tiny")


def _make_suite(app, page, judge_name: str) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    page.actions.new_suite.trigger()
    wait_for(app, lambda: getattr(page, "suite_dialog", None) is not None and page.suite_dialog.isVisible(),
             60, "the suite dialog")
    dialog = page.suite_dialog
    dialog.name_edit.setText(SUITE)
    dialog.limit_spin.setValue(24)
    dialog.max_tokens_spin.setValue(40)
    for name in ("chrf", "bleu"):
        dialog.metrics.set_checked(name, True)
    dialog.judge_box.setChecked(True)
    dialog.judge_model.setCurrentIndex(dialog.judge_model.findText(judge_name))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_for(app, lambda: page.view is not None and page.view.suite.name == SUITE, 300, "the suite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", default=os.path.join(REPO, "resources", "screenshots"))
    parser.add_argument("--data-dir", default=os.path.join(REPO, "out", "screenshot-data"))
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--steps", type=int, default=60, help="training steps of the demo run (if trained here)")
    parser.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    data_dir, app, window = start_window(args)
    from workbench.services import dataset_ops
    from workbench.ui.shell.main_window import EVALUATE

    task = window.open_demo_project(os.path.join(data_dir, "projects", "Demo.wbproj"))
    failed: list[BaseException] = []
    task.failed.connect(failed.append)
    wait_for(app, lambda: window.ctx is not None or bool(failed), 900, "the demo project")
    if failed:
        raise SystemExit(f"screenshots: the demo project failed: {failed[0]}")
    ctx = window.ctx
    run = next((r for r in ctx.store.list_runs() if r.name == RUNS_TRAINED[0][0] and r.status == "completed"), None)
    if run is None:
        run = _train_first_run(app, window, ctx, args.steps)
    source = next(v for v in ctx.store.list_versions() if not v.derivation.part)
    dataset_ops.make_split(ctx.store, source.id, seed=3)  # the same split again when it exists
    judge = _judge_model(ctx)
    ctx.datasets_changed.emit()
    ctx.models_changed.emit()

    window.set_page(EVALUATE)
    page = window.evaluate_page
    page.refresh()
    wait_for(app, lambda: not page.busy(), 120, "the Evaluate page")
    if not any(row.suite.name == SUITE for row in page.listing.suites):
        _make_suite(app, page, judge.name)
    wait_for(app, lambda: page.view is not None and page.view.suite.name == SUITE and not page.busy(), 120,
             "the suite's eval runs")
    base_label = next(m.label for m in page.models.models() if m.is_base and m.base_model_id == run.base_model_id)
    adapter_label = next(m.label for m in page.models.models() if m.run_id == run.id and m.checkpoint == "final")
    done = {r.label for r in page.runs_model.runs() if r.status == "completed"}
    todo = [label for label in (base_label, adapter_label) if label not in done]
    if todo:
        page.models.set_checked(todo)
        page.run_button.click()
        # The page's own list (the poller's signals), not the manager: what the user sees.
        wait_for(app, lambda: {r.label for r in page.runs_model.runs() if r.status == "completed"}
                 >= {base_label, adapter_label}, 3600, "the eval runs")
    runs = [next(r for r in page.runs_model.runs() if r.label == label and r.status == "completed")
            for label in (base_label, adapter_label)]
    page.select_eval_runs([r.id for r in runs])
    wait_for(app, lambda: page.comparison is not None and len(page.comparison.runs) == 2 and not page.busy(), 300,
             "the comparison")

    # Rate twenty of the adapter's outputs (the rule stands in for a person; see the docstring).
    items = page.items
    items.rating.target.setCurrentIndex(items.rating.target.findData(runs[1].id))
    wait_for(app, lambda: not page.busy(), 120, "the ratings")
    rated = {r.item_id for r in (page.ratings.ratings if page.ratings else [])}
    scores = sorted(row.score(runs[1].id, "rouge_l") or 0.0 for row in page.comparison.items[:RATED])
    median = scores[len(scores) // 2] if scores else 0.0
    for row in page.comparison.items[:RATED]:
        result = row.results.get(runs[1].id)
        if row.item.id in rated or result is None or result.output is None:
            continue
        score = row.score(runs[1].id, "rouge_l")
        good = score is not None and score > median
        page.rate(runs[1].id, row.item.id, 1.0 if good else 0.0, "pass_fail",
                  "close to the reference" if good else "misses the reference's point")
    wait_for(app, lambda: not page.busy(), 300, "the ratings to be saved")

    window.set_page(EVALUATE)
    page.tabs.setCurrentWidget(page.results)
    settle(app)
    window.grab().save(os.path.join(args.out, "evaluate.png"))
    print("screenshots: evaluate.png")
    page.tabs.setCurrentWidget(items)
    items.select_item(None)  # the item where the two differ most
    settle(app)
    window.grab().save(os.path.join(args.out, "evaluate_items.png"))
    print("screenshots: evaluate_items.png")
    page.tabs.setCurrentWidget(page.judge)
    settle(app)
    window.grab().save(os.path.join(args.out, "evaluate_judge.png"))
    print("screenshots: evaluate_judge.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
