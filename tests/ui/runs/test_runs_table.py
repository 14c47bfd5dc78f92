"""Runs page table: a QAbstractTableModel of the project's three real tiny runs (conftest.py),
sorted by value, filtered, renamed with F2, tagged, and deleted after a confirmation that lists
what goes (a Cancel deletes nothing, Delete leaves no row, point or folder behind)."""

from __future__ import annotations

import dataclasses
import os

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from workbench.store import ProjectStore
from workbench.ui.runs.progress_line import StepRate
from workbench.ui.runs.run_commands import parse_tags
from workbench.ui.runs.table_model import COLUMN_KEYS
from workbench.ui.shell.main_window import RUNS


def _open(window, trained_runs):
    assert window.open_project(trained_runs.path)
    window.set_page(RUNS)
    return window.runs_page


def _column(page, key: str) -> list[str]:
    col = COLUMN_KEYS.index(key)
    return [page.proxy.index(r, col).data() for r in range(page.proxy.rowCount())]


def _names(page) -> list[str]:
    return _column(page, "name")


def _click_header(page, qtbot, col: int) -> None:
    table, header = page.table, page.table.horizontalHeader()
    table.scrollTo(page.proxy.index(0, col))
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def test_the_table_shows_each_run_and_sorts_by_value(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    store = window.ctx.store
    runs = {r.name: r for r in store.list_runs()}
    assert sorted(_names(page)) == ["lr-high", "lr-low", "rank-4"]
    row = {key: page.proxy.index(_names(page).index("lr-low"), i).data() for i, key in enumerate(COLUMN_KEYS)}
    run = runs["lr-low"]
    assert row["status"] == "completed" and row["steps"] == "4 / 4" and row["model"] == "tiny-gpt2-demo"
    assert row["dataset"].startswith("Shop support chats") and row["author"] == "tester"
    assert row["last_loss"] == f"{run.last_loss:.4f}" and row["best_loss"] == f"{run.best_loss:.4f}"
    assert row["best_eval_loss"] == f"{run.best_eval_loss:.4f}"
    assert row["tokens_per_s"] and row["peak_memory"].endswith(("MB", "GB")) and row["duration"].endswith("s")

    # Sorting compares values, not their text; a header click sorts, a second one reverses.
    col = COLUMN_KEYS.index("best_eval_loss")
    by_value = sorted(runs, key=lambda n: runs[n].best_eval_loss)
    _click_header(page, qtbot, col)
    assert _names(page) == by_value
    _click_header(page, qtbot, col)
    assert _names(page) == by_value[::-1]
    # The selection follows its run through a sort.
    page.select_runs([runs["rank-4"].id])
    page.table.sortByColumn(COLUMN_KEYS.index("name"), Qt.SortOrder.AscendingOrder)
    assert _names(page) == ["lr-high", "lr-low", "rank-4"]
    assert [r.name for r in page.selected_runs()] == ["rank-4"]


def test_empty_cells_sort_last_both_ways(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    run = window.ctx.store.get_run(trained_runs.ids["lr-low"])
    page.model.update_run(dataclasses.replace(run, best_eval_loss=None))  # as a run that never evaluated
    col = COLUMN_KEYS.index("best_eval_loss")
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        page.table.sortByColumn(col, order)
        assert _names(page)[-1] == "lr-low" and _column(page, "best_eval_loss")[-1] == ""


def test_a_live_update_changes_one_row_without_a_reset(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    model = page.model
    run = window.ctx.store.get_run(trained_runs.ids["lr-high"])
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, bottom, *_: changed.append((top.row(), bottom.row())))
    resets = model.resets
    window.ctx.run_changed.emit(dataclasses.replace(run, step=3, total_steps=8, last_loss=1.25))
    row = model.row_of(run.id)
    assert changed == [(row, row)] and model.resets == resets
    assert page.proxy.index(_names(page).index("lr-high"), COLUMN_KEYS.index("steps")).data() == "3 / 8"
    # runs_changed with the same list keeps the model (and the selection) as it is.
    page.select_runs([run.id])
    window.ctx.refresh_runs()
    assert model.resets == resets and [r.id for r in page.selected_runs()] == [run.id]


def test_the_filter_matches_name_model_dataset_status_and_tags(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    page.filter_edit.setText("rank")
    assert _names(page) == ["rank-4"]
    page.filter_edit.setText("LR- completed")  # every word, any case
    assert sorted(_names(page)) == ["lr-high", "lr-low"]
    page.filter_edit.setText("gpt2 shop")
    assert len(_names(page)) == 3
    page.filter_edit.setText("failed")
    assert _names(page) == []
    page.filter_edit.clear()
    assert len(_names(page)) == 3
    # Ctrl+F goes to the filter box.
    page.table.setFocus()
    page.filter_edit.clearFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.filter_edit.hasFocus()


def test_f2_renames_the_run_in_place(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    run_id = trained_runs.ids["lr-low"]
    page.select_runs([run_id], run_id)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "lr-low"
    editor.setText("slow and steady")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "slow and steady" in _names(page), timeout=5000)
    assert window.ctx.store.get_run(run_id).name == "slow and steady"
    assert page.selected_run().id == run_id
    assert "slow and steady" in page.details.toPlainText()


def test_tags_are_set_on_the_selection_and_found_by_the_filter(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    ids = [trained_runs.ids["lr-high"], trained_runs.ids["rank-4"]]
    page.select_runs(ids)
    assert page.actions.tag.isEnabled()
    page.actions.tag.trigger()
    dialog = page.commands.dialog
    assert dialog is not None and dialog.isVisible() and dialog.textValue() == ""
    dialog.setTextValue("baseline, high lr ,baseline")
    dialog.accept()
    qtbot.waitUntil(lambda: _column(page, "tags").count("baseline, high lr") == 2, timeout=5000)
    assert [window.ctx.store.get_run(i).tags for i in ids] == [["baseline", "high lr"]] * 2
    page.filter_edit.setText("baseline")
    assert sorted(_names(page)) == ["lr-high", "rank-4"]
    assert parse_tags(" a, b ,, a") == ["a", "b"]


def _delete_dialog(page, qtbot) -> QMessageBox:
    qtbot.waitUntil(lambda: isinstance(page.commands.dialog, QMessageBox) and page.commands.dialog.isVisible(),
                    timeout=15000)
    return page.commands.dialog


def _button(box: QMessageBox, text: str):
    return next(b for b in box.buttons() if b.text().replace("&", "") == text)


def test_delete_asks_first_then_removes_everything_of_the_run(window, qtbot, trained_runs):
    from workbench.services import run_metrics

    page = _open(window, trained_runs)
    run_id = trained_runs.ids["lr-low"]
    folder = os.path.join(trained_runs.path, "runs", run_id)
    assert os.path.isdir(folder) and run_metrics.metric_names(trained_runs.path, run_id)
    page.select_runs([run_id], run_id)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    box = _delete_dialog(page, qtbot)
    assert box.text() == "Delete the run lr-low? This cannot be undone."
    details = box.informativeText()
    assert "lr-low: 2 checkpoints, its adapter" in details and "on disk" in details

    _button(box, "Cancel").click()  # nothing happens
    qtbot.waitUntil(lambda: page.commands.dialog is None, timeout=5000)
    assert os.path.isdir(folder) and window.ctx.store.get_run(run_id).name == "lr-low"
    assert len(_names(page)) == 3

    page.actions.delete.trigger()  # the same from the Run menu
    _button(_delete_dialog(page, qtbot), "Delete").click()
    qtbot.waitUntil(lambda: "lr-low" not in _names(page), timeout=15000)
    assert sorted(_names(page)) == ["lr-high", "rank-4"]
    assert not os.path.exists(folder)
    others = {trained_runs.ids["lr-high"], trained_runs.ids["rank-4"]}
    assert set(os.listdir(os.path.join(trained_runs.path, "runs"))) == others  # no trash folder left
    assert run_metrics.metric_names(trained_runs.path, run_id) == []
    assert run_id not in {r.id for r in window.ctx.store.list_runs()}
    store = ProjectStore.open(trained_runs.path)  # a fresh connection sees the same
    try:
        assert sorted(r.name for r in store.list_runs()) == ["lr-high", "rank-4"]
    finally:
        store.close()


def test_the_context_menu_and_the_run_menu_hold_the_page_actions(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    page.select_runs([trained_runs.ids["lr-high"]])
    texts = [a.text() for a in page.context_menu.actions() if not a.isSeparator()]
    for text in ("Chat with This Run", "Resume", "Cancel Run", "Compare", "Duplicate Settings…", "Rename…",
                 "Tags…", "Open Folder", "Export merged model…", "Export Metrics…", "Delete…"):
        assert text in texts
    assert page.menu_button.menu().actions() and page.actions.rename.shortcut().toString() == "F2"
    assert page.actions.delete.shortcut() == QKeySequence(QKeySequence.StandardKey.Delete)
    # A finished run: chat and export are on, cancel off; one run selected: compare off.
    assert page.actions.chat.isEnabled() and page.export.action.isEnabled()
    assert not page.actions.cancel.isEnabled() and not page.actions.compare.isEnabled()


def test_step_rate_follows_the_recent_speed():
    rate = StepRate(window_s=10)
    assert rate.rate() is None and rate.eta_s(0, 100) is None
    for t in range(0, 11):
        rate.add(float(t), t * 2)  # 2 steps/s
    assert rate.rate() == pytest.approx(2.0) and rate.eta_s(20, 100) == pytest.approx(40.0)
    for t in range(11, 31):
        rate.add(float(t), 20 + (t - 10))  # slows to 1 step/s: the last 10 s count
    assert rate.rate() == pytest.approx(1.0, rel=0.15)
    rate.add(31.0, 5)  # resumed from an earlier checkpoint: measured afresh
    assert rate.rate() is None


def test_duplicate_settings_open_the_train_page_with_the_run_s_settings(window, qtbot, trained_runs):
    from workbench.ui.shell.main_window import TRAIN

    page = _open(window, trained_runs)
    run_id = trained_runs.ids["lr-low"]
    run = window.ctx.store.get_run(run_id)
    page.select_runs([run_id], run_id)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert window.current_page() == TRAIN
    train = window.train_page
    config, problems = train.config()
    assert problems == [] and config == run.train_config
    assert train.dataset_combo.currentData() == run.dataset_version_id
    assert train.model_combo.currentData() == run.base_model_id


def test_open_folder_shows_the_run_s_folder(window, qtbot, trained_runs):
    from PySide6.QtCore import QObject, QUrl, Slot
    from PySide6.QtGui import QDesktopServices

    class Catcher(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.urls: list[str] = []

        @Slot(QUrl)
        def show(self, url: QUrl) -> None:
            self.urls.append(url.toLocalFile())

    catcher = Catcher()
    QDesktopServices.setUrlHandler("file", catcher, "show")  # what the desktop would be asked to open
    try:
        page = _open(window, trained_runs)
        run_id = trained_runs.ids["rank-4"]
        page.select_runs([run_id], run_id)
        page.actions.open_folder.trigger()
        assert [os.path.normpath(u) for u in catcher.urls] == [os.path.join(trained_runs.path, "runs", run_id)]
    finally:
        QDesktopServices.unsetUrlHandler("file")


def test_runs_listed_while_the_page_was_hidden_can_be_selected(window, qtbot, trained_runs):
    """A run added while another page shows is not in the table yet (hidden pages do not
    reload); selecting it (the window does after a start) reads the list first."""
    from workbench.core.clock import new_id
    from workbench.ui.shell.main_window import TRAIN

    page = _open(window, trained_runs)
    window.set_page(TRAIN)
    store = window.ctx.store
    old = store.get_run(trained_runs.ids["lr-high"])
    new = store.add_run(id=new_id(), name="added-later", dataset_version_id=old.dataset_version_id,
                        base_model_id=old.base_model_id, config=old.config, status="cancelled",
                        work_dir=os.path.join("runs", "elsewhere"))
    window.ctx.refresh_runs()  # as after a start or a queue edit
    assert page.model.row_of(new.id) < 0 and page.stale
    page.select_runs([old.id, new.id], new.id)
    assert sorted(r.name for r in page.selected_runs()) == ["added-later", "lr-high"]
    assert page.selected_run().id == new.id
