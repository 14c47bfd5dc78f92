"""Runs page, several runs at once (the three real tiny runs of conftest.py): selecting them
overlays their curves with a legend entry each; the Compare tab lists only the settings that
differ and their final and best metrics; Compare pins the overlay; the curves export as CSV and
Parquet, the chart as PNG and SVG."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workbench.ui.shell.main_window import RUNS


def _open(window, trained_runs):
    assert window.open_project(trained_runs.path)
    window.set_page(RUNS)
    return window.runs_page


def _show(page, qtbot, ids):
    page.select_runs(ids, ids[0])
    qtbot.waitUntil(lambda: set(page.feed.ready) == set(ids), timeout=30000)
    chart = page.chart
    qtbot.waitUntil(lambda: chart.built and chart.legend is not None and len(chart.legend.items) >= len(ids),
                    timeout=15000)
    return chart


def _in_table_order(page, names) -> list[str]:
    """Several runs are drawn and compared in the table's order."""
    col = 0
    shown = [page.proxy.index(r, col).data() for r in range(page.proxy.rowCount())]
    return [n for n in shown if n in names]


def _legend(chart) -> list[str]:
    return [label.text for _sample, label in chart.legend.items]


def test_selected_runs_are_overlaid_and_compared(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    names = _in_table_order(page, ("lr-high", "lr-low", "rank-4"))
    ids = [trained_runs.ids[n] for n in names]
    chart = _show(page, qtbot, ids)
    assert _legend(chart) == list(names)  # one entry per run, in the selection's order
    for run_id in ids:  # each run's whole history is on the chart: its 4 logged steps
        data = chart.data(run_id)
        assert data is not None and list(data.buffers["loss"].step) == [1, 2, 3, 4]

    # Compare tab: only the settings that differ (learning rate, rank, alpha), one column per run.
    diff = page.compare.diff_model
    assert set(diff.keys()) == {"learning_rate", "r", "alpha"}
    lr = {"lr-high": "0.005", "lr-low": "0.001", "rank-4": "0.005"}
    rank = {"lr-high": "8", "lr-low": "8", "rank-4": "4"}
    assert diff.values("learning_rate") == tuple(lr[n] for n in names)
    assert diff.values("r") == tuple(rank[n] for n in names)
    headers = [diff.headerData(i, Qt.Orientation.Horizontal) for i in range(diff.columnCount())]
    assert headers == list(names)
    colours = [diff.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DecorationRole).toImage().pixelColor(
        5, 5).name() for i in range(diff.columnCount())]
    assert colours == [chart.run_color(i) for i in range(3)]  # the chart's colour of each run
    # The summary: the runs' own final and best values.
    summary = page.compare.summary_model
    runs = [window.ctx.store.get_run(i) for i in ids]
    assert summary.values("Best eval loss") == tuple(f"{r.best_eval_loss:.4f}" for r in runs)
    assert summary.values("Final train loss") == tuple(f"{r.last_loss:.4f}" for r in runs)
    assert summary.values("Steps") == ("4", "4", "4")
    assert page.compare.views.isVisibleTo(page.compare) and not page.compare.message.isVisibleTo(page.compare)

    # Two runs that differ in rank only.
    page.select_runs([trained_runs.ids["lr-high"], trained_runs.ids["rank-4"]])
    assert set(diff.keys()) == {"r", "alpha"}
    # One run: nothing to compare.
    page.select_runs([ids[0]])
    assert diff.rowCount() == 0 and page.compare.message.isVisibleTo(page.compare)


def test_compare_pins_the_overlay_while_another_run_is_selected(window, qtbot, trained_runs):
    page = _open(window, trained_runs)
    ids = [trained_runs.ids[n] for n in _in_table_order(page, ("lr-high", "lr-low"))]
    _show(page, qtbot, ids)
    assert page.actions.compare.isEnabled() and page.compare_button.isVisible()
    page.actions.compare.trigger()
    assert page.tabs.tabText(page.tabs.currentIndex()) == "Compare"
    page.select_runs([trained_runs.ids["rank-4"]])
    assert [r.run_id for r in page.chart.runs] == ids  # still the pinned two
    assert page.selected_run().name == "rank-4" and "rank-4" in page.details.toPlainText()
    page.actions.compare.trigger()  # off: the chart follows the selection again
    assert [r.run_id for r in page.chart.runs] == [trained_runs.ids["rank-4"]]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_metrics_export_as_csv_and_parquet(window, qtbot, trained_runs, tmp_path, suffix):
    import pyarrow.csv
    import pyarrow.parquet

    page = _open(window, trained_runs)
    ids = [trained_runs.ids["lr-high"], trained_runs.ids["rank-4"]]
    page.select_runs(ids)
    assert page.actions.export_metrics.isEnabled()
    out = str(tmp_path / f"curves{suffix}")
    task = page.export_metrics(out)
    qtbot.waitUntil(lambda: not task.running, timeout=30000)
    assert task.outcome == "finished", task.error
    table = pyarrow.csv.read_csv(out) if suffix == ".csv" else pyarrow.parquet.read_table(out)
    assert table.column_names == ["run_id", "run_name", "step", "epoch", "t", "metric", "value"]
    assert table.num_rows == task.result > 0
    assert set(table.column("run_name").to_pylist()) == {"lr-high", "rank-4"}
    rows = table.to_pylist()
    run = window.ctx.store.get_run(ids[0])
    losses = [r["value"] for r in rows if r["run_id"] == ids[0] and r["metric"] == "loss"]
    assert len(losses) == 4 and losses[-1] == pytest.approx(run.last_loss)
    assert "Exported" in window.statusBar().currentMessage()


def test_chart_exports_png_and_svg(window, qtbot, trained_runs, tmp_path):
    from PySide6.QtGui import QImage

    page = _open(window, trained_runs)
    _show(page, qtbot, [trained_runs.ids["lr-high"], trained_runs.ids["lr-low"]])
    png = page.charts.export_chart(".png", str(tmp_path / "chart.png"))
    image = QImage(png)
    assert not image.isNull() and image.width() > 100 and image.height() > 100
    svg = page.charts.export_chart(".svg", str(tmp_path / "chart"))
    assert svg.endswith(".svg")
    text = open(svg, encoding="utf-8").read()
    assert "<svg" in text[:2000] and "lr-high" in text and "lr-low" in text
