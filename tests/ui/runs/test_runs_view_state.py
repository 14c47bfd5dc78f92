"""Runs page: what the user chose (selected and compared runs, metric, x axis, log scale,
smoothing, tab, sort, splitter sizes) comes back when the project opens again, per project."""

from __future__ import annotations

from PySide6.QtCore import Qt

from workbench.store import ProjectStore
from workbench.ui.runs.table_model import COLUMN_KEYS
from workbench.ui.runs.view_state import RunsViewState
from workbench.ui.shell.main_window import RUNS


def test_the_view_is_remembered_per_project(window, qtbot, trained_runs, tmp_path):
    assert window.open_project(trained_runs.path)
    window.set_page(RUNS)
    page = window.runs_page
    ids = [trained_runs.ids["lr-low"], trained_runs.ids["rank-4"]]
    page.select_runs(ids, ids[1])
    page.actions.compare.trigger()  # pinned: lr-low and rank-4
    ids = page.view().compared  # in the table's order
    page.select_runs([trained_runs.ids["lr-high"]])
    panel = page.charts
    panel.tabs.setCurrentIndex(2)  # Learning rate
    panel.x_combo.setCurrentIndex(panel.x_combo.findData("epoch"))
    panel.log_check.setChecked(True)
    panel.smoothing_slider.setValue(80)
    page.tabs.setCurrentIndex(page.tabs.indexOf(page.logs))
    page.table.sortByColumn(COLUMN_KEYS.index("best_loss"), Qt.SortOrder.DescendingOrder)
    page.splitter.setSizes([150, 550])
    name_col = COLUMN_KEYS.index("name")
    page.table.setColumnWidth(name_col, 333)
    page.table.horizontalHeader().moveSection(COLUMN_KEYS.index("tags"), 1)  # Tags next to the name
    qtbot.waitUntil(lambda: page.charts.view_state()["smoothing"] == 0.8, timeout=5000)
    wanted = page.view()
    assert set(wanted.compared) == {trained_runs.ids["lr-low"], trained_runs.ids["rank-4"]}
    assert wanted.selected == [trained_runs.ids["lr-high"]]
    assert wanted.chart == {"metric": "learning_rate", "x_axis": "epoch", "log_y": True, "smoothing": 0.8}

    # Another project has a view of its own (nothing selected there from this one).
    other = ProjectStore.create(str(tmp_path / "Other.wbproj"))
    other_path = other.path
    other.close()
    assert window.open_project(other_path)
    assert page.selected_runs() == [] and page.view().compared == []

    assert window.open_project(trained_runs.path)
    window.set_page(RUNS)
    got = page.view()
    assert got.selected == wanted.selected and got.compared == wanted.compared
    assert got.chart == wanted.chart and got.tab == "Logs"
    assert (got.sort_column, got.sort_descending) == ("best_loss", True)
    assert page.actions.compare.isChecked()
    assert [r.run_id for r in page.chart.runs] == ids
    assert panel.x_combo.currentData() == "epoch" and panel.log_check.isChecked()
    assert abs(got.splitters["main"][0] - 150) <= 5
    header = page.table.horizontalHeader()
    assert page.table.columnWidth(name_col) == 333 and header.visualIndex(COLUMN_KEYS.index("tags")) == 1


def test_a_damaged_saved_view_is_ignored():
    state = RunsViewState.from_dict({"selected": "not a list", "chart": [1], "splitters": {"main": [1, -2]},
                                     "tab": None, "compared": ["a", 2]})
    assert state == RunsViewState(compared=["a", "2"])
