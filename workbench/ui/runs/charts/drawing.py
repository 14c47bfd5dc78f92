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
from PySide6.QtWidgets import QGraphicsItem

from workbench.core import metric_names as mn
from workbench.ui.common import theme
from workbench.ui.runs.charts import curves, ticks
from workbench.ui.runs.charts.curves import EVAL, RAW, CurveSpec
from workbench.ui.runs.charts.decimate import bin_size, visible_range

if TYPE_CHECKING:
    from workbench.ui.runs.charts.metric_chart import MetricChart

SYMBOLS_UP_TO = 60  # a curve of this few points shows its points
EVAL_SYMBOLS_UP_TO = 300  # an evaluation is an event: its dots show until they crowd
FOLLOW_HEADROOM = 0.1  # of the x span, right of a live curve's end
TAIL_BINS = 64  # a live line's tail grows to this many bins before they join the cached part
Y_MARGIN = 0.06  # of the y span, above and below the curves
X_PADDING = 0.02  # of the x range, each side
_Z = {RAW: 0, EVAL: 1, curves.SMOOTH: 2, curves.MAIN: 2}
CHECKPOINT_LABEL = "checkpoint"
BEST_LABEL = "best checkpoint"


def build_items(chart: "MetricChart") -> None:
    """Set up the curve and mark items for the chart's runs, metric and smoothing. Items are
    kept for the next setup (hidden): making pyqtgraph items costs more than drawing them."""
    from workbench.ui.runs.charts.metric_chart import _Curve

    plot = chart.plot_widget.getPlotItem()
    for c in chart._curves:
        # Kept per run and role: another metric of the same runs gets the same legend items.
        _release(chart._spare_lines.setdefault((c.run_id, c.spec == c.top), []), c.item)
        if c.tail is not None:
            _release(chart._spare_tails, c.tail)
    for _run, _best, item in chart._mark_items:
        _release(chart._spare_marks, item)
    chart.crosshair.hide()  # its dots belong to the curves going now
    legend: list[tuple[object, str]] = []
    chart._curves, chart._mark_items = [], []
    single = len(chart.runs) == 1
    specs = curves.curve_specs(chart.metric_key, chart.smoothing, overlay=not single)
    top = curves.primary(specs)
    palette = theme.plot_palette()
    chart.legend.setColumnCount(2 if len(chart.runs) > 6 else 1)
    for i, run in enumerate(chart.runs):
        color = chart.run_color(i)
        for spec in specs:
            shade = color
            if single and spec.role == EVAL:  # one run: eval loss in its own colour
                shade = palette[1] if color != palette[1] else palette[2]
            item = _take(chart._spare_lines.get((run.run_id, spec == top)) or _any(chart._spare_lines), plot)
            item.setZValue(_Z[spec.role])
            # A line that did not change is blitted from a pixmap, not drawn again: while the
            # view stands still only the live runs' tails are drawn anew. (A PlotDataItem
            # paints nothing itself: its line is its child .curve.)
            item.curve.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            curve = _Curve(run.run_id, spec, item, None, shade, single=single, top=top)
            _style_item(curve, item, single)
            chart._curves.append(curve)
            name = spec.label if single else (run.label if spec == top else None)
            if name is not None:
                item.opts["name"] = name
                legend.append((item, name))
        marks = chart._marks.get(run.run_id) or []
        for best in (False, True):
            if not any(m.best == best for m in marks):
                continue
            item = _take(chart._spare_marks, plot)
            item.setPen(None)
            item.setZValue(3)
            _style_mark(item, color, best)
            chart._mark_items.append((run.run_id, best, item))
            if single:
                legend.append((item, BEST_LABEL if best else CHECKPOINT_LABEL))
    # The same items under the same names (another metric of the same runs): the legend
    # stands, its samples draw the items' new styles (a legend entry costs milliseconds).
    if [(id(i), n) for i, n in legend] != chart._legend:
        chart.legend.clear()
        for item, name in legend:
            chart.legend.addItem(item, name)
        chart._legend = [(id(i), n) for i, n in legend]
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


def _take(spare: list, plot):
    """A PlotDataItem on the plot, shown and empty: a spare one, else a new one."""
    if spare:
        item = spare.pop(0)  # in release order: a setup like the last gets the same items back
        item.show()
    else:
        item = pg.PlotDataItem([], [])
        plot.addItem(item)
    item.opts["name"] = None
    item.setSymbol(None)
    return item


def _any(spares: dict) -> list:
    return next((items for items in spares.values() if items), [])


def _release(spare: list, item) -> None:
    item.setData([], [])
    item.hide()
    spare.append(item)


def _style_item(curve, item, single: bool) -> None:
    color = pg.mkColor(curve.color)
    role = curve.spec.role
    if role == RAW:
        color.setAlpha(110 if theme.current_theme() == "dark" else 90)
        item.setPen(pg.mkPen(color, width=1))
    elif role == EVAL:
        item.setPen(pg.mkPen(color, width=2, style=Qt.PenStyle.SolidLine if single else Qt.PenStyle.DashLine))
        item.setSymbolSize(6)
        item.setSymbolBrush(color)
        item.setSymbolPen(pg.mkPen(theme.colors().plot_background))
    else:
        item.setPen(pg.mkPen(color, width=2))
        curve.thick = 2
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
    """(visible x range, or None while the view follows all data; width in pixels)."""
    view = chart.plot_widget.getPlotItem().getViewBox()
    width = max(50, int(view.width()))
    if chart.follow_x:
        return None, width
    lo, hi = view.viewRange()[0]
    return (float(lo), float(hi)), width


def _check_follow(chart: "MetricChart", view) -> None:
    """Follow all data again when the user asked the view to fit (pyqtgraph's auto-range
    button, a new x axis); stop when anyone else moved the x range (a drag, a zoom)."""
    if any(view.state["autoRange"]):
        # The chart fits the view itself (follow_x): with pyqtgraph's auto-range on, any
        # item that moves (the crosshair) repaints the whole plot.
        view.disableAutoRange()
        chart.follow_x, chart._follow_target, chart._follow_range = True, None, None
        chart._follow_y = None
    elif chart.follow_x and chart._follow_range is not None:
        lo, hi = view.viewRange()[0]
        f_lo, f_hi = chart._follow_range
        if max(abs(lo - f_lo), abs(hi - f_hi)) > 1e-9 * max(1.0, abs(f_hi - f_lo)):
            chart.follow_x = False


def _follow(chart: "MetricChart", view) -> None:
    """Fit the x range to the data, with headroom while points arrive: the view then stands
    still for many appends, so the curves that did not change are blitted from their cache
    and only the live one is drawn again."""
    ends = [(x[0], x[-1]) for x in (c.drawn()[0] for c in chart._curves if c.item.isVisible()) if len(x)]
    if not ends:
        return
    lo, hi = float(min(e[0] for e in ends)), float(max(e[1] for e in ends))
    span = max(hi - lo, 1e-9)
    target = chart._follow_target
    room = FOLLOW_HEADROOM * span if chart.live else 0.0
    # A run that goes live keeps its view until its points pass the right edge (the view's
    # padding holds the first ones); then the view grows with room for more.
    if (target is None or target[0] != lo or hi > view.viewRange()[0][1]
            or target[1] - hi > 2 * FOLLOW_HEADROOM * span or (not chart.live and target[1] != hi)):
        chart._follow_target = (lo, hi + room)
        view.setXRange(lo, hi + room, padding=X_PADDING)
        chart._follow_range = tuple(view.viewRange()[0])
    _fit_y(chart, view)


def _fit_y(chart: "MetricChart", view) -> None:
    """y covers the curves with a margin, and stays put while new points fall inside it (a
    falling loss would otherwise move the view, and redraw every curve, at each append)."""
    lows, highs = [], []
    for c in chart._curves:
        y = c.drawn()[1] if c.item.isVisible() else None  # display values (log10 in log mode)
        if y is not None and len(y):
            finite = y[np.isfinite(y)]
            if len(finite):
                lows.append(finite.min())
                highs.append(finite.max())
    if not lows:
        return
    lo, hi = float(min(lows)), float(max(highs))
    span = hi - lo if hi > lo else max(abs(hi) * 0.1, 1e-9)
    current = chart._follow_y
    if current is None or lo < current[0] or hi > current[1] or (current[1] - current[0]) > 1.6 * span:
        margin = Y_MARGIN * span
        chart._follow_y = (lo - margin, hi + margin)
        view.setYRange(*chart._follow_y, padding=0)
        chart._follow_range = tuple(view.viewRange()[0])


def draw_curves(chart: "MetricChart") -> bool:
    view = chart.plot_widget.getPlotItem().getViewBox()
    _check_follow(chart, view)
    x_range, width = view_window(chart)
    changed = False
    for c in chart._curves:
        data = chart.data(c.run_id)
        key = (_content(data, c.spec.name, chart.x_axis, x_range), chart.x_axis,
               chart.smoothing if c.spec.smoothed else None, x_range, width)
        if key == c.key:
            continue
        c.key = key
        # A line two pixels wide shows no detail finer than two pixels: half the points.
        pixels = max(50, width // c.thick)
        drawable = data is not None and data.has(c.spec.name) and data.x(c.spec.name, chart.x_axis) is not None
        if drawable and x_range is None:
            _draw_following(chart, c, data, pixels)
        else:  # nothing, or the user's view: what it shows, drawn whole
            x, y = (data.curve(c.spec.name, c.spec.smoothed, chart.x_axis, x_range, pixels) if drawable
                    else (np.empty(0), np.empty(0)))
            c.item.setData(x, y)
            if c.tail is not None:
                c.tail.setData(np.empty(0), np.empty(0))
            c.frozen_key = None
        _show_symbols(c)
        changed = True
    if changed:
        if chart.follow_x:
            _follow(chart, view)
        elif chart._follow_y is None:  # a new metric or scale in a view the user moved
            _fit_y(chart, view)
        # Move the curves now, not while painting: pyqtgraph does it in its paint preparation,
        # and the moved curves then ask for a second full paint.
        view.updateMatrix()
    return changed


def _content(data, name: str, axis: str, x_range: Optional[tuple[float, float]]):
    """What of the series a redraw would show: every change while following all data; in the
    user's view only a change of the points it shows (points appended right of it are not)."""
    if data is None:
        return None
    if x_range is None or not data.has(name):
        return data.versions.get(name)
    x = data.x(name, axis)
    return None if x is None else (data.generations.get(name), visible_range(x, *x_range))


def _draw_following(chart: "MetricChart", c, data, pixels: int) -> None:
    """All points: the settled ones in `item` (recomputed only when they changed, their bin size
    did or the tail grew long), the rest in `tail`."""
    name, smoothed, axis = c.spec.name, c.spec.smoothed, chart.x_axis
    n = len(data.buffers[name])
    ds = bin_size(n, pixels)
    frozen_key = (data.generations.get(name), axis, chart.smoothing if smoothed else None, ds, chart.log_y)
    if c.frozen_key != frozen_key or n - c.frozen > TAIL_BINS * ds or c.frozen > n:
        c.frozen_key = frozen_key
        c.frozen = max(0, min(n, data.settled(name, axis)))
        c.item.setData(*data.span(name, smoothed, axis, 0, c.frozen, ds))
    start = max(0, c.frozen - 1)  # the tail starts at the frozen part's last point
    if n - start > 1 or c.tail is not None:  # a finished run's lines need no tail item
        _tail(chart, c).setData(*data.span(name, smoothed, axis, start, n, ds))


def _tail(chart: "MetricChart", c):
    """The curve's tail item, made (like its line, uncached) the first time it has points."""
    if c.tail is None:
        c.tail = _take(chart._spare_tails, chart.plot_widget.getPlotItem())
        c.tail.setZValue(_Z[c.spec.role])
        c.tail.curve.setCacheMode(QGraphicsItem.CacheMode.NoCache)
        _style_item(c, c.tail, c.single)
        if c.symbols:
            c.tail.setSymbol("o")
    return c.tail


def _show_symbols(c) -> None:
    """A line of few points shows them as dots (evaluations: up to more)."""
    count = sum(len(x) for x, _y in (part.getData() for part in c.parts()) if x is not None)
    symbols = count <= (EVAL_SYMBOLS_UP_TO if c.spec.role == EVAL else SYMBOLS_UP_TO)
    if symbols != c.symbols:
        c.symbols = symbols
        for part in c.parts():
            part.setSymbol("o" if symbols else None)


def mark_spec(chart: "MetricChart", run_id: str) -> Optional[CurveSpec]:
    """The curve a run's checkpoint marks sit on: the eval loss when the loss chart has it (the
    best checkpoint is the lowest eval loss), else the chart's main curve."""
    specs = curves.curve_specs(chart.metric_key, chart.smoothing, overlay=len(chart.runs) > 1)
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
