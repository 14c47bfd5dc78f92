"""MetricChart and ChartPanel driven as the Runs page drives them: real widgets, real pyqtgraph
items, histories as services.run_metrics loads them (real tiny runs for the overlay)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from workbench.core import metric_names as mn
from workbench.core.errors import WorkbenchError
from workbench.services.run_metrics import CheckpointMark, MetricSeries
from workbench.ui.runs.charts.chart_panel import ChartPanel
from workbench.ui.runs.charts.curves import EVAL_LABEL, RAW_LABEL, SMOOTH_LABEL
from workbench.ui.runs.charts.metric_chart import ChartRun, MetricChart


def history(n: int, epochs: float = 2.0, eval_every: int = 0) -> dict[str, MetricSeries]:
    steps = np.arange(1, n + 1, dtype=np.int64)
    seq, t = steps * 10, 1_700_000_000.0 + steps * 0.5
    loss = 2.0 * np.exp(-steps / max(1, n / 3)) + 0.3 + 0.05 * np.sin(steps)
    out = {mn.LOSS: MetricSeries(mn.LOSS, seq, steps, t, loss),
           mn.EPOCH: MetricSeries(mn.EPOCH, seq + 1, steps, t, steps * epochs / n),
           mn.LR: MetricSeries(mn.LR, seq + 2, steps, t, 1e-4 * (1 - steps / (n + 1)))}
    if eval_every:
        ev = steps[eval_every - 1::eval_every]
        out[mn.EVAL_LOSS] = MetricSeries(mn.EVAL_LOSS, ev * 10 + 3, ev, 1_700_000_000.0 + ev * 0.5,
                                         2.2 * np.exp(-ev / max(1, n / 3)) + 0.4)
    return out


def live_rows(steps, name=mn.LOSS):
    from workbench.core.records import MetricRow  # the poller's rows (services.run_ingest.metric_rows)

    return [MetricRow(10 * s, int(s), name, 0.25 + 1.0 / s, 1_700_000_000.0 + s * 0.5) for s in steps]


@pytest.fixture
def chart(qtbot):
    w = MetricChart()
    w.resize(800, 400)
    qtbot.addWidget(w)
    return w


def shown(qtbot, w) -> None:
    w.show()
    qtbot.waitExposed(w)


def legend_texts(chart) -> list[str]:
    return [label.text for _sample, label in chart.legend.items]


def curve(chart, run_id, role):
    return next(c for c in chart._curves if c.run_id == run_id and c.spec.role == role)


def test_one_run_shows_raw_smoothed_eval_and_its_checkpoints(qtbot, chart):
    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(200, eval_every=50))
    chart.set_checkpoints("a", [CheckpointMark(100, "/c/100", False), CheckpointMark(200, "/c/200", True)])
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    assert legend_texts(chart) == [RAW_LABEL, SMOOTH_LABEL, EVAL_LABEL, "checkpoint", "best checkpoint"]
    marks = {best: item for _run, best, item in chart._mark_items}
    assert list(marks[True].getData()[0]) == [200.0]
    assert marks[True].opts["symbol"] == "star" and marks[False].opts["symbol"] != "star"
    # The marks sit on the eval loss curve (the best checkpoint is its lowest point).
    ex, ey = curve(chart, "a", "eval").drawn()
    assert marks[True].getData()[1][0] == pytest.approx(ey[list(ex).index(200)])


def test_appending_grows_the_curve_without_reloading(qtbot, chart):
    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(1000))
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    buffer = chart.data("a").buffers[mn.LOSS]
    smoothed = curve(chart, "a", "smoothed")
    body = smoothed.item.getData()[0].copy()
    chart.append("a", live_rows(range(1001, 1021)))
    qtbot.waitUntil(lambda: smoothed.drawn()[0][-1] == 1020, timeout=10000)
    assert chart.data("a").buffers[mn.LOSS] is buffer and len(buffer) == 1020  # grown, not replaced
    # Only the new points were handed to pyqtgraph (the tail); the rest stands, cached.
    np.testing.assert_array_equal(smoothed.item.getData()[0], body)
    assert smoothed.tail.getData()[0][0] == body[-1] and smoothed.tail.getData()[0][-1] == 1020
    # Points of a run the chart does not draw are not its business.
    chart.append("zzz", live_rows([5]))
    assert chart.data("zzz") is None


def test_a_million_points_reach_pyqtgraph_decimated(qtbot, chart):
    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "big run")])
    chart.load("a", history(1_000_000))
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=20000)
    width = int(chart.plot_widget.getPlotItem().getViewBox().width())
    for role in ("raw", "smoothed"):
        x, _y = curve(chart, "a", role).drawn()
        assert 0 < len(x) <= 2 * width + 4
        assert x[0] == 1 and x[-1] == 1_000_000
    # Zoomed in, only the visible part is drawn, at full detail.
    chart.plot_widget.getPlotItem().setXRange(500_000, 500_400, padding=0)
    qtbot.waitUntil(lambda: curve(chart, "a", "raw").drawn()[0][0] >= 499_000, timeout=10000)
    x, _y = curve(chart, "a", "raw").drawn()
    assert list(x) == list(range(499_999, 500_402))


def test_redraws_only_while_visible_and_only_when_something_changed(qtbot, chart):
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(100))
    assert not chart.built  # hidden: pyqtgraph is not even needed yet
    shown(qtbot, chart)
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    qtbot.wait(300)  # the first draw settles (the axes take their width)
    settled = chart.redraws
    qtbot.wait(300)  # several timer ticks with nothing new
    assert chart.redraws == settled
    chart.hide()
    chart.append("a", live_rows([101, 102]))
    qtbot.wait(200)
    assert chart.redraws == settled
    shown(qtbot, chart)
    qtbot.waitUntil(lambda: chart.redraws > settled, timeout=10000)
    assert curve(chart, "a", "smoothed").drawn()[0][-1] == 102


def test_log_scale_plots_log10_of_the_values(qtbot, chart):
    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(50))
    chart.set_metric(mn.LR)
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    chart.set_log_y(True)
    assert chart.plot_widget.getPlotItem().getAxis("left").logMode
    _x, y = curve(chart, "a", "main").drawn()
    np.testing.assert_allclose(y, np.log10(chart.data("a").buffers[mn.LR].value))


def test_x_axis_by_epoch_and_a_clear_word_when_the_run_lacks_it(qtbot, chart):
    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(100, epochs=2.0))
    chart.set_x_axis("epoch")
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    x, _y = curve(chart, "a", "smoothed").drawn()
    assert x[-1] == pytest.approx(2.0)
    chart.set_x_axis("tokens")
    qtbot.waitUntil(lambda: chart._layout.currentWidget() is chart.placeholder, timeout=10000)
    assert chart.placeholder.text() == "This run logged no token counts: choose another x axis."
    with pytest.raises(ValueError):
        chart.set_x_axis("furlongs")


def test_crosshair_names_each_curves_value(qtbot, chart):
    from PySide6.QtCore import QPointF

    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a"), ChartRun("b", "run b")])
    chart.load("a", history(100, eval_every=25))
    chart.load("b", history(80))
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    chart.crosshair.show_at(50.2)
    value_a = chart.data("a").y(mn.LOSS, smoothed=True)[49]
    assert chart.crosshair.text.splitlines()[0] == "step 50"
    assert f"run a: {value_a:.4g}" in chart.crosshair.text
    assert "run a (eval): " in chart.crosshair.text and "run b: " in chart.crosshair.text
    assert chart.crosshair.label.isVisible()
    # The mouse: moves come faster than frames; the latest one shows.
    view = chart.plot_widget.getPlotItem().getViewBox()
    scene = chart.plot_widget.scene()
    chart.crosshair.hide()
    rect = view.sceneBoundingRect()
    for fraction in (0.2, 0.5, 0.8):
        last = QPointF(rect.left() + fraction * rect.width(), rect.center().y())
        scene.sigMouseMoved.emit(last)
    qtbot.waitUntil(lambda: chart.crosshair.text.startswith("step "), timeout=5000)
    shown_step = int(chart.crosshair.text.splitlines()[0].split()[1])
    assert abs(shown_step - view.mapSceneToView(last).x()) <= 1  # the last move, not the first
    scene.sigMouseMoved.emit(QPointF(-50, -50))  # off the plot: it goes
    qtbot.waitUntil(lambda: not chart.crosshair.label.isVisible(), timeout=5000)


def test_export_writes_a_png_and_an_svg(qtbot, chart, tmp_path):
    from PySide6.QtGui import QImage

    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(300, eval_every=100))
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    png, svg = tmp_path / "chart.png", tmp_path / "chart.svg"
    chart.export_image(str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(png))
    assert image.width() > 100 and image.height() > 100
    chart.export_image(str(svg))
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.png", "chart.svg"]  # no temp left
    with pytest.raises(WorkbenchError, match="as .jpg"):
        chart.export_image(str(tmp_path / "chart.jpg"))
    with pytest.raises(WorkbenchError, match="does not exist"):
        chart.export_image(str(tmp_path / "missing" / "chart.png"))


def test_view_state_round_trips_and_bad_values_are_ignored(qtbot, chart):
    chart.set_metric(mn.GRAD_NORM)
    chart.set_x_axis("time")
    chart.set_log_y(True)
    chart.set_smoothing(0.9)
    state = chart.view_state()
    assert state == {"metric": mn.GRAD_NORM, "x_axis": "time", "log_y": True, "smoothing": 0.9}
    other = MetricChart()
    qtbot.addWidget(other)
    other.restore_view_state(state)
    assert other.view_state() == state
    other.restore_view_state({"metric": "nope", "x_axis": 3, "log_y": "yes", "smoothing": 7})
    assert other.view_state() == {**state, "smoothing": 0.99}  # clamped to the slider's range


def test_theme_switch_recolours_the_chart(qtbot, chart, qapp):
    from workbench.ui.common import theme

    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(20))
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    try:
        theme.apply_theme(qapp, "dark")
        chart.apply_theme()
        qtbot.waitUntil(lambda: curve(chart, "a", "smoothed").color == theme.plot_palette()[0], timeout=10000)
        assert chart.plot_widget.backgroundBrush().color().name() == theme.DARK.plot_background
    finally:
        theme.apply_theme(qapp, "light")


# -- the panel ------------------------------------------------------------------------------
def test_panel_controls_drive_the_chart_and_report_the_view(qtbot, tmp_path):
    panel = ChartPanel()
    panel.resize(900, 450)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_runs([ChartRun("a", "run a")])
    panel.load("a", history(100, eval_every=20))
    seen = []
    panel.view_changed.connect(seen.append)
    panel.tabs.setCurrentIndex(2)  # Learning rate
    assert panel.chart.metric_key == mn.LR and seen[-1]["metric"] == mn.LR
    assert not panel.smoothing_slider.isEnabled()  # smoothing is for the training loss
    panel.tabs.setCurrentIndex(0)
    panel.x_combo.setCurrentIndex(1)
    assert panel.chart.x_axis == "epoch" and seen[-1]["x_axis"] == "epoch"
    panel.log_check.setChecked(True)
    assert seen[-1]["log_y"] is True
    panel.smoothing_slider.setValue(85)
    qtbot.waitUntil(lambda: seen[-1]["smoothing"] == pytest.approx(0.85), timeout=5000)
    count = len(seen)
    panel.restore_view_state({"metric": mn.MEMORY, "x_axis": "step", "log_y": False, "smoothing": 0.3})
    assert len(seen) == count  # restoring is not a change by the user
    assert panel.tabs.currentIndex() == 5 and panel.smoothing_slider.value() == 30
    assert not panel.log_check.isChecked() and panel.x_combo.currentData() == "step"
    panel.restore_view_state({"metric": mn.LOSS})
    qtbot.waitUntil(lambda: panel.chart.redraws > 0, timeout=10000)
    written = panel.export_chart(".png", str(tmp_path / "loss"))
    assert written == str(tmp_path / "loss.png") and (tmp_path / "loss.png").stat().st_size > 0


def test_panel_export_error_goes_to_the_error_dialog(qtbot, qapp, tmp_path):
    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_runs([ChartRun("a", "run a")])
    assert panel.export_chart(".png", str(tmp_path / "empty.png")) is None  # nothing drawn yet
    box = next(w for w in qapp.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible())
    assert "no curve to export" in box.text()
    box.close()


def test_a_history_prepared_in_a_worker_keeps_the_live_points_that_came_first(qtbot, chart):
    from workbench.ui.runs.charts.run_data import prepare

    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.append("a", live_rows([101, 102]))  # live, while the worker loads the history
    prepared = prepare(history(100), smoothing=0.3)
    assert len(prepared.y(mn.LOSS, smoothed=True)) == 100  # smoothed in the worker
    chart.load("a", prepared)
    assert chart.data("a") is prepared and prepared.smoothing == chart.smoothing
    assert list(prepared.buffers[mn.LOSS].step[-3:]) == [100, 101, 102]
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    qtbot.waitUntil(lambda: curve(chart, "a", "smoothed").drawn()[0][-1] == 102, timeout=10000)


def test_the_view_follows_live_points_until_the_user_moves_it(qtbot, chart):
    shown(qtbot, chart)
    chart.set_runs([ChartRun("a", "run a")])
    chart.load("a", history(1000))
    qtbot.waitUntil(lambda: chart.redraws > 0, timeout=10000)
    view = chart.plot_widget.getPlotItem().getViewBox()
    assert view.viewRange()[0][1] < 1030  # a finished history fits, no room on the right
    chart.append("a", live_rows(range(1001, 1101)))
    # Past the right edge: the view grows, with room for the next points.
    qtbot.waitUntil(lambda: view.viewRange()[0][1] >= 1100 + 0.09 * 1099, timeout=10000)
    grown = view.viewRange()[0]
    chart.append("a", live_rows(range(1101, 1111)))
    qtbot.waitUntil(lambda: curve(chart, "a", "smoothed").drawn()[0][-1] == 1110, timeout=10000)
    assert view.viewRange()[0] == grown  # inside the room: the view stands still
    chart.plot_widget.getPlotItem().setXRange(100, 200, padding=0)  # the user looks back
    qtbot.waitUntil(lambda: not chart.follow_x, timeout=10000)
    chart.append("a", live_rows(range(1111, 1200)))
    qtbot.wait(200)
    assert view.viewRange()[0] == [100, 200]
    chart.plot_widget.getPlotItem().autoBtnClicked()  # pyqtgraph's "A" button: follow again
    qtbot.waitUntil(lambda: chart.follow_x and view.viewRange()[0][1] > 1199, timeout=10000)
