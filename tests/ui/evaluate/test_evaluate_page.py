"""The Evaluate page end to end with the real eval child on the tiny model: a suite from the
demo data's test split made in the dialog (with the tiny model as judge), Run on the base model,
the progress bar, Cancel after the first batch and Resume (nothing redone), the results table
and the per-item view filling, people rating items with the keyboard and the judge-vs-people
panel following, a second eval run and the paired test, export to CSV and JSONL."""

from __future__ import annotations

import csv
import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from workbench.ui.shell.main_window import EVALUATE

pytestmark = pytest.mark.slow
RUN_WAIT = 600000  # a child's start (torch) takes a minute on a busy machine


@pytest.fixture
def split_project(demo_store):
    """The demo project with its chats split (the test part is the suite's source); its path."""
    from workbench.services import dataset_ops

    version = demo_store.list_versions()[0]
    dataset_ops.make_split(demo_store, version.id, seed=3)
    return demo_store


def _status(page, eval_run_id):
    run = page.runs_model.find(eval_run_id)
    return run.status if run else None


def test_run_cancel_resume_compare_rate_and_export(window, split_project, qtbot, wait_for, tmp_path):
    store = split_project
    assert window.open_project(store.path)
    window.set_page(EVALUATE)
    page = window.evaluate_page
    wait_for(lambda: not page.busy() and page.models.count() > 0)

    # A suite of 8 test items, generated 2 at a time, judged by the tiny model on pass / fail.
    page.actions.new_suite.trigger()
    wait_for(lambda: getattr(page, "suite_dialog", None) is not None and page.suite_dialog.isVisible())
    dialog = page.suite_dialog
    assert dialog.source() == "test_split" and dialog.test_combo.count() == 1
    dialog.name_edit.setText("support answers")
    dialog.limit_spin.setValue(8)
    dialog.max_tokens_spin.setValue(8)
    dialog.batch_spin.setValue(2)
    dialog.judge_box.setChecked(True)
    assert dialog.judge_model.currentText() == "tiny-gpt2-demo" and dialog.rubric.toPlainText()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_for(lambda: page.view is not None and page.view.suite.name == "support answers")
    suite = page.view.suite
    assert suite.source["kind"] == "test_split" and suite.item_count == 8 and suite.has_judge
    assert page.view.judge_scale == "pass_fail"

    # Run on the base model; cancel while it runs, then resume.
    page.models.set_checked(["tiny-gpt2-demo (base)"])
    assert page.actions.run.isEnabled() and page.actions.run.text() == "Run on 1 Model"
    page.run_button.click()
    wait_for(lambda: page.runs_model.rowCount() == 1)
    eval_run_id = page.runs_model.run_at(0).id
    assert page.selected_ids() == [eval_run_id]
    # Cancel as soon as it runs (the child is still loading: it stops after its first batch).
    wait_for(lambda: _status(page, eval_run_id) == "running", RUN_WAIT)
    page.runs_view.selectRow(0)
    assert page.actions.cancel.isEnabled() and not page.actions.resume.isEnabled()
    page.cancel_button.click()
    wait_for(lambda: _status(page, eval_run_id) == "cancelled", RUN_WAIT)
    cancelled_at = page.runs_model.find(eval_run_id).done_items
    assert cancelled_at < 8
    wait_for(lambda: page.actions.resume.isEnabled())
    page.resume_button.click()
    wait_for(lambda: _status(page, eval_run_id) == "completed", RUN_WAIT)
    run = page.runs_model.find(eval_run_id)
    assert run.done_items + run.failed_items == 8

    # The results table: one column for the model, a row per metric with its interval.
    wait_for(lambda: page.comparison is not None and page.comparison.runs[0].status == "completed"
             and not page.busy("compare"))
    results = page.results.model
    assert results.columnCount() == 1 and results.headerData(0, Qt.Orientation.Horizontal) == "tiny-gpt2-demo (base)"
    keys = results.metric_keys()
    assert "exact_match" in keys and "rouge_l" in keys and keys[-1] == "Failed items"
    assert "[" in results.cell("rouge_l", 0) and results.cell("Failed items", 0) == str(run.failed_items)

    # The per-item view: every item, the reference beside the output.
    page.tabs.setCurrentWidget(page.items)
    items = page.items
    assert items.model.rowCount() == 8
    items.select_item(None)
    row = items.current_item()
    assert row.item.references[0] in items.detail.reference.toPlainText() and items.detail.prompt.toPlainText()
    assert items.detail.output_text(eval_run_id) and "Judge" in items.detail.output_text(eval_run_id)

    # The tiny judge writes no verdict Workbench can read: a stand-in judge that does (recorded
    # through the real store) gives the first six items pass, pass, fail, pass, fail, fail.
    order = [items.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole).item.id for r in range(8)]
    for item_id, score in zip(order, (1.0, 1.0, 0.0, 1.0, 0.0, 0.0)):
        store.set_judgement(eval_run_id, item_id, score, "stand-in verdict", None)

    # People rate six items with the keyboard (P / F, each moves to the next item).
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10000)
    items.table.setFocus()
    items.select_item(order[0])
    assert items.rating.actions["Pass"].isEnabled(), items.rating.status.text()
    for key in (Qt.Key.Key_P, Qt.Key.Key_P, Qt.Key.Key_F, Qt.Key.Key_P, Qt.Key.Key_P, Qt.Key.Key_F):
        qtbot.keyClick(items.table, key)
    wait_for(lambda: not page.busy("rate") and page.ratings is not None and len(page.ratings.ratings) == 6)
    assert {r.item_id: r.value for r in page.ratings.ratings} == dict(zip(order, (1.0, 1.0, 0.0, 1.0, 1.0, 0.0)))
    rated_col = items.model.columnCount() - 1
    rated = {items.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole).item.id: items.proxy.index(r, rated_col).data()
             for r in range(8)}
    assert rated[order[0]] == "pass" and rated[order[2]] == "fail" and rated[order[7]] == ""
    # Judge vs people: 5 of 6 agree; Cohen's kappa and the confusion matrix.
    agreement = page.ratings.agreement
    assert agreement is not None and agreement.statistic == "cohen_kappa" and agreement.n == 6
    assert "κ" in page.judge.title.text() and page.judge.message.text()
    confusion = page.judge.confusion
    assert confusion.rowCount() == 2 and sum(int(confusion.item(r, c).text()) for r in range(2) for c in range(2)) == 6

    # A second eval run of the same model: the paired test finds no difference.
    page.models.set_checked(["tiny-gpt2-demo (base)"])
    page.run_button.click()
    wait_for(lambda: page.runs_model.rowCount() == 2)
    second = next(r.id for r in page.runs_model.runs() if r.id != eval_run_id)
    wait_for(lambda: _status(page, second) == "completed", RUN_WAIT)
    assert set(page.selected_ids()) == {eval_run_id, second}
    wait_for(lambda: page.comparison is not None and len(page.comparison.runs) == 2
             and all(r.status == "completed" for r in page.comparison.runs) and page.results.shown_pair is not None)
    pairs = page.results.pairs
    assert pairs.rowCount() >= 3
    verdicts = {pairs.item(r, 7).text() for r in range(pairs.rowCount())}
    assert verdicts == {"no clear difference"}  # greedy decoding: the same outputs twice

    # Export both eval runs: CSV (one row per item, run and metric) and JSONL (one per item and run).
    for name in ("results.csv", "results.jsonl"):
        path = tmp_path / name
        task = page.export_results(str(path))
        assert task is not None
        wait_for(lambda: not task.running)
        assert task.outcome == "finished", task.error
    with open(tmp_path / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["eval_run_id"] for r in rows} == {eval_run_id, second}
    assert {r["metric"] for r in rows} >= {"exact_match", "rouge_l"}
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 16
