"""The Runs page's chart: one metric of one run, or of several runs overlaid.

Data arrives whenever (load: a run's history from a worker; append: live points from the
poller) into numpy buffers (charts.run_data); a timer redraws at most REDRAW_HZ times a second,
only while the chart is visible and something changed, and hands pyqtgraph only the min/max
decimated points of the visible x range (a few thousand a curve, never a million). pyqtgraph is
imported when the chart is first built, so the window never waits for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from workbench.core import metric_names as mn
from workbench.core.errors import WorkbenchError
from workbench.ui.common import theme
from workbench.ui.runs.charts import curves
from workbench.ui.runs.charts.curves import CurveSpec
from workbench.ui.runs.charts.run_data import X_AXES, RunData
from workbench.ui.runs.charts.series import clamp_weight

REDRAW_HZ = 20
DEFAULT_SMOOTHING = 0.6
EXPORT_SUFFIXES = (".png", ".svg")


@dataclass(frozen=True)
class ChartRun:
    run_id: str
    label: str
    color: Optional[str] = None  # None: the theme palette's colour for the run's position


@dataclass
class _Curve:
    """One line of the chart. While the view follows live data it is two items: `item` holds
    the points up to `frozen` (drawn once, then blitted from its cache) and `tail` the few
    newer ones, the only part drawn again as points arrive."""

    run_id: str
    spec: CurveSpec
    item: Any  # pg.PlotDataItem (named in the legend)
    tail: Any  # pg.PlotDataItem, same style; None until the line has a live tail
    color: str
    single: bool = True  # the only run on the chart (its style depends on it)
    top: Optional[CurveSpec] = None  # the spec of the run's curve the legend names
    key: Any = None  # what its drawn data was computed from
    frozen_key: Any = None  # what `item`'s frozen points were computed from
    frozen: int = 0  # points [0, frozen) are in `item`
    symbols: bool = False
    thick: int = 1  # its pen's width in pixels

    def parts(self) -> list[Any]:
        return [self.item] if self.tail is None else [self.item, self.tail]

    def drawn(self) -> tuple[Any, Any]:
        """The (x, y) handed to pyqtgraph, both items together (display values)."""
        import numpy as np

        parts = [(x, y) for x, y in (i.getData() for i in self.parts()) if x is not None and len(x)]
        if len(parts) == 2:  # the tail starts at the frozen part's last point
            parts[1] = (parts[1][0][1:], parts[1][1][1:])
        if not parts:
            return np.empty(0), np.empty(0)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


class MetricChart(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricChart")
        self._layout = QStackedLayout(self)
        self.placeholder = QLabel()
        self.placeholder.setObjectName("chartPlaceholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setEnabled(False)
        self._layout.addWidget(self.placeholder)
        self.plot_widget: Any = None
        self.legend: Any = None
        self.crosshair: Any = None
        self.runs: list[ChartRun] = []
        self._data: dict[str, RunData] = {}
        self._marks: dict[str, list[Any]] = {}  # run_id -> [CheckpointMark]
        self._curves: list[_Curve] = []
        self._mark_items: list[tuple[str, bool, Any]] = []  # (run_id, best, PlotDataItem)
        self._mark_keys: dict[tuple[str, bool], Any] = {}
        # pg.PlotDataItems on the plot, hidden, for reuse: lines by (run id, names the run)
        self._spare_lines: dict[tuple[str, bool], list[Any]] = {}
        self._spare_marks: list[Any] = []
        self._spare_tails: list[Any] = []
        self._legend: list[tuple[int, str]] = []  # (id of item, name) the legend lists
        self.metric_key = mn.LOSS  # not "metric": QPaintDevice.metric() is a virtual Qt calls
        self.x_axis = "step"
        self.log_y = False
        self.smoothing = DEFAULT_SMOOTHING
        self.redraws = 0  # how many redraws handed pyqtgraph new data (tests)
        self.follow_x = True  # the x range fits all data (until the user pans or zooms)
        self.live = False  # points were appended: leave room for more on the right
        self._follow_target: Optional[tuple[float, float]] = None
        self._follow_range: Optional[tuple[float, float]] = None
        self._follow_y: Optional[tuple[float, float]] = None
        self._dirty = True
        self._items_stale = True
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REDRAW_HZ))
        self.timer.timeout.connect(self._tick)
        self._update_placeholder()

    # -- what to draw -------------------------------------------------------------------
    def set_runs(self, runs: Sequence[ChartRun]) -> None:
        """Draw these runs (several: overlaid). The data of runs no longer drawn is dropped."""
        runs = list(runs)
        if runs == self.runs:
            return
        self.runs = runs
        self.live = False
        self.fit_x()
        ids = {r.run_id for r in runs}
        self._data = {k: v for k, v in self._data.items() if k in ids}
        self._marks = {k: v for k, v in self._marks.items() if k in ids}
        self._restyle()

    def load(self, run_id: str, series: "Mapping[str, Any] | RunData") -> None:
        """A run's full history, from a worker: name -> services.run_metrics.MetricSeries, or
        better run_data.prepare(series, smoothing) built in that worker (a million points
        then cost the GUI thread nothing). Live points appended meanwhile are kept."""
        if isinstance(series, RunData):
            series.adopt(self._data.get(run_id))
            series.set_smoothing(self.smoothing)
            self._data[run_id] = series
        else:
            self._run_data(run_id).load(series)
        self._invalidate()

    def append(self, run_id: str, rows: Iterable[Any]) -> None:
        """Live points (MetricRow) of a drawn run; points of other runs are ignored."""
        if run_id in self._ids():
            if self._run_data(run_id).append(rows):
                self.live = True
                self._invalidate()

    def append_metrics(self, metrics: Mapping[str, Iterable[Any]]) -> None:
        """append() for each run of a poll's {run_id: [MetricRow]} (ctx.run_metrics)."""
        for run_id, rows in metrics.items():
            self.append(run_id, rows)

    def set_metric(self, key: str) -> None:
        if key not in curves.METRICS:
            raise ValueError(f"unknown chart metric {key!r}")
        if key != self.metric_key:
            self.metric_key = key
            self._follow_y = None  # other values: fit y to them
            self._restyle()

    def set_x_axis(self, axis: str) -> None:
        if axis not in X_AXES:
            raise ValueError(f"unknown x axis {axis!r}")
        if axis != self.x_axis:
            self.x_axis = axis
            self._restyle()
            self.fit_x()  # the old x range means nothing on the new axis

    def fit_x(self) -> None:
        """Show all data again, and follow it as it grows."""
        self.follow_x, self._follow_target, self._follow_range, self._follow_y = True, None, None, None
        self._invalidate()

    def set_log_y(self, on: bool) -> None:
        self.log_y = bool(on)
        self._follow_y = None
        for c in self._curves:
            c.key = None  # the same points, in other display values
        if self.plot_widget is not None:
            self.plot_widget.getPlotItem().setLogMode(x=False, y=self.log_y)
        self._invalidate()

    def set_smoothing(self, weight: float) -> None:
        for data in self._data.values():
            data.set_smoothing(weight)
        weight = clamp_weight(weight)
        if (weight > 0) != (self.smoothing > 0):
            self._items_stale = True  # the raw curve shows only beside a smoothed one
        self.smoothing = weight
        self._invalidate()

    def set_checkpoints(self, run_id: str, marks: Sequence[Any]) -> None:
        """The run's checkpoints (services.run_metrics.CheckpointMark) as marks on its curve."""
        self._marks[run_id] = list(marks)
        self._restyle()

    def view_state(self) -> dict[str, Any]:
        return {"metric": self.metric_key, "x_axis": self.x_axis, "log_y": self.log_y,
                "smoothing": self.smoothing}

    def restore_view_state(self, state: Mapping[str, Any]) -> None:
        """Apply a saved view_state(); unknown or bad values keep the current setting."""
        if state.get("metric") in curves.METRICS:
            self.set_metric(state["metric"])
        if state.get("x_axis") in X_AXES:
            self.set_x_axis(state["x_axis"])
        if isinstance(state.get("log_y"), bool):
            self.set_log_y(state["log_y"])
        if isinstance(state.get("smoothing"), (int, float)) and not isinstance(state.get("smoothing"), bool):
            self.set_smoothing(float(state["smoothing"]))

    def has_points(self) -> bool:
        """Whether any drawn curve of the current metric has a point on the current x axis."""
        specs = curves.curve_specs(self.metric_key, self.smoothing, overlay=len(self.runs) > 1)
        return any(d.has(s.name) and d.axis_available(self.x_axis)
                   for d in (self._data.get(i) for i in self._ids()) if d is not None for s in specs)

    # -- building and drawing -----------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.plot_widget is not None

    def ensure_built(self) -> None:
        if self.plot_widget is not None:
            return
        import pyqtgraph as pg  # heavy (numpy + its widgets): first use only

        from workbench.ui.runs.charts import drawing
        from workbench.ui.runs.charts.axes import ChartAxis
        from workbench.ui.runs.charts.crosshair import Crosshair

        self._drawing = drawing

        self._bottom = ChartAxis("bottom")
        self._left = ChartAxis("left")
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": self._bottom, "left": self._left})
        self.plot_widget.setObjectName("metricChartPlot")
        item = self.plot_widget.getPlotItem()
        item.setMenuEnabled(False)
        item.setLogMode(x=False, y=self.log_y)
        view = item.getViewBox()
        view.disableAutoRange()  # the chart fits the view itself (follow_x)
        view.sigStateChanged.connect(self._invalidate)  # e.g. the auto-range button
        view.sigRangeChanged.connect(self._invalidate)
        view.sigResized.connect(self._invalidate)
        self.legend = item.addLegend(offset=(-10, 10))  # top right: losses fall away from it
        self.crosshair = Crosshair(self)
        self._layout.addWidget(self.plot_widget)
        self._items_stale = True
        self.apply_theme()
        self._invalidate()

    def apply_theme(self) -> None:
        """Colours of the current theme (call after it changed)."""
        if self.plot_widget is None:
            return
        import pyqtgraph as pg

        c = theme.colors()
        self.plot_widget.setBackground(c.plot_background)
        item = self.plot_widget.getPlotItem()
        for axis in (self._bottom, self._left):
            axis.setPen(pg.mkPen(c.plot_foreground))
            axis.setTextPen(pg.mkPen(c.plot_foreground))
        item.showGrid(x=True, y=True, alpha=c.plot_grid_alpha)
        self.legend.setLabelTextColor(c.plot_foreground)
        legend_bg = pg.mkColor(c.plot_background)
        legend_bg.setAlpha(215)
        self.legend.setBrush(pg.mkBrush(legend_bg))
        border = pg.mkColor(c.plot_foreground)
        border.setAlpha(60)
        self.legend.setPen(pg.mkPen(border))
        self.crosshair.apply_theme()
        self._restyle()

    def _restyle(self) -> None:
        self._items_stale = True
        self._invalidate()

    def _invalidate(self, *_args: Any) -> None:
        self._dirty = True

    def _tick(self) -> None:
        if not self._dirty or not self.isVisible():
            return
        if self.plot_widget is None:
            if not self.has_points():
                self._dirty = False
                self._update_placeholder()
                return
            self.ensure_built()
        self.redraw()

    def redraw(self) -> None:
        """Draw what changed now (the timer calls it; tests and export may too)."""
        self._dirty = False
        if self.plot_widget is None:
            self._update_placeholder()
            return
        if self._items_stale:
            self._items_stale = False
            self._drawing.build_items(self)
        if self._drawing.draw_curves(self) | self._drawing.draw_marks(self):
            self.redraws += 1
        self._update_placeholder()

    def _update_placeholder(self) -> None:
        if self.plot_widget is not None and self.has_points():
            self._layout.setCurrentWidget(self.plot_widget)
            return
        self.placeholder.setText(self.placeholder_text())
        self._layout.setCurrentWidget(self.placeholder)
        if self.crosshair is not None:
            self.crosshair.hide()

    def placeholder_text(self) -> str:
        if not self.runs:
            return "Select a run to see its curves."
        title = curves.METRICS[self.metric_key][0]
        data = [d for d in (self._data.get(i) for i in self._ids()) if d is not None]
        lacking = [d for d in data if not d.axis_available(self.x_axis)]
        if data and len(lacking) == len(data) and any(d.buffers for d in data):
            who = "This run" if len(self.runs) == 1 else "None of these runs"
            why = curves.X_MISSING[self.x_axis]
            if len(self.runs) > 1:
                why = why.replace("logged no", "logged any").replace("has no", "has")
            return f"{who} {why}: choose another x axis."
        return f"No {title.lower()} values yet: the curve appears with the first logged step."

    def _ids(self) -> list[str]:
        return [r.run_id for r in self.runs]

    def _run_data(self, run_id: str) -> RunData:
        data = self._data.get(run_id)
        if data is None:
            data = self._data[run_id] = RunData(self.smoothing)
        return data

    def run_color(self, index: int) -> str:
        run = self.runs[index]
        if run.color:
            return run.color
        palette = theme.plot_palette()
        return palette[index % len(palette)]

    # -- export -------------------------------------------------------------------------
    def export_image(self, path: str) -> None:
        """Write the chart as it shows now to `path`: .png or .svg by the suffix."""
        from workbench.ui.runs.charts.export import export_chart

        suffix = os.path.splitext(path)[1].lower()
        if suffix not in EXPORT_SUFFIXES:
            raise WorkbenchError(f"Cannot export the chart as {suffix or 'a file without a suffix'}.",
                                 advice="Choose a file name ending in .png or .svg.")
        if not self.has_points():
            raise WorkbenchError("The chart has no curve to export yet.",
                                 advice="Export it once the run has logged a step.")
        self.ensure_built()
        self.redraw()
        export_chart(self, path, suffix)

    # -- Qt -----------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.timer.start()
        self._tick()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self.timer.stop()
        if self.crosshair is not None:
            self.crosshair.hide()

    def data(self, run_id: str) -> Optional[RunData]:
        return self._data.get(run_id)
