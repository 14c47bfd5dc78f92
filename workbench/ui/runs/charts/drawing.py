"""The pyqtgraph side of MetricChart: its curve and checkpoint items, and what each redraw
hands them. Imported when a chart is first built (it imports pyqtgraph).

A curve gets new data only when what it was computed from changed (its points, the x axis,
the smoothing, the visible x range, the width): a redraw after a range change that the
decimation does not see costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from workbench.core import metric_names as mn
from workbench.ui.common import theme
from workbench.ui.runs.charts import curves, ticks
from workbench.ui.runs.charts.curves import EVAL, RAW, CurveSpec

if TYPE_CHECKING:
    from workbench.ui.runs.charts.metric_chart import MetricChart

SYMBOLS_UP_TO = 60  # a curve of this few points shows its points
_Z = {RAW: 0, EVAL: 1, curves.SMOOTH: 2, curves.MAIN: 2}
CHECKPOINT_LABEL = "checkpoint"
BEST_LABEL = "best checkpoint"


def build_items(chart: "MetricChart") -> None:
    """(Re)create the curve and mark items for the chart's runs, metric and smoothing."""
    from workbench.ui.runs.charts.metric_chart import _Curve

    plot = chart.plot_widget.getPlotItem()
    for c in chart._curves:
        plot.removeItem(c.item)
    for _run, _best, item in chart._mark_items:
        plot.removeItem(item)
    chart.legend.clear()
    chart._curves, chart._mark_items = [], []
    specs = curves.curve_specs(chart.metric_key, chart.smoothing)
    single = len(chart.runs) == 1
    top = curves.primary(specs)
    palette = theme.plot_palette()
    chart.legend.setColumnCount(2 if len(chart.runs) > 6 else 1)
    for i, run in enumerate(chart.runs):
        color = chart.run_color(i)
        for spec in specs:
            shade = color
            if single and spec.role == EVAL:  # one run: eval loss in its own colour
                shade = palette[1] if color != palette[1] else palette[2]
            name = spec.label if single else (run.label if spec == top else None)
            item = pg.PlotDataItem([], [], name=name)
            item.setZValue(_Z[spec.role])
            curve = _Curve(run.run_id, spec, item, shade)
            _style(curve, single)
            chart._curves.append(curve)
            plot.addItem(item)
        marks = chart._marks.get(run.run_id) or []
        for best in (False, True):
            if not any(m.best == best for m in marks):
                continue
            name = (BEST_LABEL if best else CHECKPOINT_LABEL) if single else None
            item = pg.PlotDataItem([], [], name=name, pen=None)
            item.setZValue(3)
            _style_mark(item, color, best)
            chart._mark_items.append((run.run_id, best, item))
            plot.addItem(item)
    chart._mark_keys = {}
    c = theme.colors()
    if not single and chart.metric_key == mn.LOSS and chart.runs:
        # The legend names the runs; this says which line of a run is which.
        plot.setTitle("solid: training loss (smoothed) · dashed with dots: eval loss",
                      color=c.muted_text, size="9pt")
    else:
        plot.setTitle(None)
    plot.setLabel("bottom", curves.X_LABELS[chart.x_axis])
    plot.setLabel("left", curves.y_label(chart.metric_key))
    chart._bottom.set_kind(curves.x_kind(chart.x_axis))
    chart._left.set_kind(curves.y_kind(chart.metric_key))


def _style(curve, single: bool) -> None:
    color = pg.mkColor(curve.color)
    role = curve.spec.role
    item = curve.item
    if role == RAW:
        color.setAlpha(110 if theme.current_theme() == "dark" else 90)
        item.setPen(pg.mkPen(color, width=1))
    elif role == EVAL:
        item.setPen(pg.mkPen(color, width=2, style=Qt.PenStyle.SolidLine if single else Qt.PenStyle.DashLine))
        item.setSymbol("o")
        item.setSymbolSize(6)
        item.setSymbolBrush(color)
        item.setSymbolPen(pg.mkPen(theme.colors().plot_background))
    else:
        item.setPen(pg.mkPen(color, width=2))
    if role != EVAL:
        item.setSymbolSize(4)
        item.setSymbolBrush(color)
        item.setSymbolPen(None)


def _style_mark(item, color: str, best: bool) -> None:
    c = theme.colors()
    if best:
        item.setSymbol("star")
        item.setSymbolSize(18)
        item.setSymbolBrush(pg.mkBrush(theme.plot_highlight()))
        item.setSymbolPen(pg.mkPen(c.plot_foreground, width=1))
    else:
        item.setSymbol("d")
        item.setSymbolSize(11)
        item.setSymbolBrush(pg.mkBrush(c.plot_background))
        item.setSymbolPen(pg.mkPen(color, width=2))


def view_window(chart: "MetricChart") -> tuple[Optional[tuple[float, float]], int]:
    """(visible x range, or None while x auto-ranges to all data; width in pixels)."""
    view = chart.plot_widget.getPlotItem().getViewBox()
    width = max(50, int(view.width()))
    if view.state["autoRange"][0]:
        return None, width
    lo, hi = view.viewRange()[0]
    return (float(lo), float(hi)), width


def draw_curves(chart: "MetricChart") -> bool:
    x_range, width = view_window(chart)
    changed = False
    for c in chart._curves:
        data = chart.data(c.run_id)
        version = None if data is None else data.versions.get(c.spec.name)
        key = (version, chart.x_axis, chart.smoothing if c.spec.smoothed else None, x_range, width)
        if key == c.key:
            continue
        c.key = key
        points = None if data is None else data.curve(c.spec.name, c.spec.smoothed, chart.x_axis, x_range, width)
        x, y = points if points is not None else (np.empty(0), np.empty(0))
        symbols = c.spec.role == EVAL or len(x) <= SYMBOLS_UP_TO
        if symbols != c.symbols:
            c.symbols = symbols
            c.item.setSymbol("o" if symbols else None)
        c.item.setData(x, y)
        changed = True
    return changed


def mark_spec(chart: "MetricChart", run_id: str) -> Optional[CurveSpec]:
    """The curve a run's checkpoint marks sit on: the eval loss when the loss chart has it (the
    best checkpoint is the lowest eval loss), else the chart's main curve."""
    specs = curves.curve_specs(chart.metric_key, chart.smoothing)
    data = chart.data(run_id)
    if chart.metric_key == mn.LOSS and data is not None and data.has(mn.EVAL_LOSS):
        return next(s for s in specs if s.role == EVAL)
    return curves.primary(specs)


def draw_marks(chart: "MetricChart") -> bool:
    changed = False
    for run_id, best, item in chart._mark_items:
        data = chart.data(run_id)
        spec = mark_spec(chart, run_id)
        marks = [m for m in chart._marks.get(run_id, ()) if m.best == best]
        key = (None if data is None or spec is None else data.versions.get(spec.name), chart.x_axis,
               chart.smoothing, len(marks))
        if chart._mark_keys.get((run_id, best)) == key:
            continue
        chart._mark_keys[(run_id, best)] = key
        steps = np.array([m.step for m in marks], np.int64)
        at = None if data is None or spec is None else data.at_steps(spec.name, spec.smoothed, chart.x_axis, steps)
        x, y = at if at is not None else (np.empty(0), np.empty(0))
        item.setData(x, y)
        changed = True
    return changed


def values_at(chart: "MetricChart", x_value: float) -> tuple[str, list[tuple[str, str, float, float]]]:
    """What the crosshair shows at x_value: a heading (the x of the nearest point) and, per
    visible curve, (colour, 'label value', x, y) of its point nearest to x_value."""
    single = len(chart.runs) == 1
    labels = {r.run_id: r.label for r in chart.runs}
    kind = curves.y_kind(chart.metric_key)
    rows: list[tuple[str, str, float, float]] = []
    heading: Optional[float] = None
    for c in chart._curves:
        if not c.item.isVisible() or (not single and c.spec.role == RAW):
            continue
        data = chart.data(c.run_id)
        hit = None if data is None else data.nearest(c.spec.name, c.spec.smoothed, chart.x_axis, x_value)
        if hit is None:
            continue
        x, y, _step = hit
        if heading is None:
            heading = x
        label = c.spec.label if single else labels.get(c.run_id, c.run_id) + (" (eval)" if c.spec.role == EVAL else "")
        rows.append((c.color, f"{label}: {ticks.format_value(y, kind)}", x, y))
    return ("" if heading is None else x_heading(chart.x_axis, heading)), rows


def x_heading(axis: str, x: float) -> str:
    if axis == "step":
        return f"step {int(round(x))}"
    if axis == "epoch":
        return f"epoch {x:.2f}"
    if axis == "tokens":
        return f"{ticks.format_value(x)} tokens"
    return ticks.format_duration(x)
