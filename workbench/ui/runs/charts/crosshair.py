"""The chart's crosshair: a vertical line at the mouse, a dot on each visible curve's nearest
point and a label with their values. Imported when a chart is first built (pyqtgraph)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QTimer

from workbench.ui.common import theme
from workbench.ui.runs.charts import drawing

if TYPE_CHECKING:
    from workbench.ui.runs.charts.metric_chart import MetricChart

FRAME_MS = 16


class Crosshair(QObject):
    def __init__(self, chart: "MetricChart") -> None:
        super().__init__(chart)
        self.chart = chart
        self.plot = chart.plot_widget.getPlotItem()
        self.line = pg.InfiniteLine(angle=90, movable=False)
        self.dots = pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=8)
        self.label = pg.TextItem(anchor=(0, 0))
        for z, item in ((20, self.line), (21, self.dots), (22, self.label)):
            item.setZValue(z)
            self.plot.addItem(item, ignoreBounds=True)
        self.text = ""  # the label's plain text (tests)
        self._colors: list[str] = []
        self._pending = None  # the latest mouse position not shown yet
        # Mice report up to hundreds of moves a second: show the latest one per frame.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._show_pending)
        self.hide()
        chart.plot_widget.scene().sigMouseMoved.connect(self._moved)
        chart.plot_widget.viewport().installEventFilter(self)

    def apply_theme(self) -> None:
        c = theme.colors()
        line = pg.mkColor(c.plot_foreground)
        line.setAlpha(120)
        self.line.setPen(pg.mkPen(line, width=1))
        fill = pg.mkColor(c.plot_background)
        fill.setAlpha(230)
        self.label.fill = pg.mkBrush(fill)
        border = pg.mkColor(c.plot_foreground)
        border.setAlpha(80)
        self.label.border = pg.mkPen(border)
        self.dots.setSymbolPen(pg.mkPen(c.plot_background, width=1.5))
        self.label.update()

    def hide(self) -> None:
        for item in (self.line, self.dots, self.label):
            item.hide()
        self.text = ""
        self._pending = None

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Leave:
            self.hide()
        return False

    def _moved(self, scene_pos) -> None:
        self._pending = scene_pos
        if not self._timer.isActive():
            self._timer.start()

    def _show_pending(self) -> None:
        pos, self._pending = self._pending, None
        view = self.plot.getViewBox()
        if pos is None or not view.sceneBoundingRect().contains(pos):
            self.hide()
            return
        self.show_at(view.mapSceneToView(pos).x())

    def show_at(self, x_value: float) -> None:
        """Put the crosshair at x_value (data coordinates of the x axis)."""
        heading, rows = drawing.values_at(self.chart, x_value)
        if not rows:
            self.hide()
            return
        c = theme.colors()
        x = rows[0][2]
        self.line.setPos(x)
        colors = [r[0] for r in rows]
        if colors != self._colors:  # new brushes make pyqtgraph render the symbols again
            self._colors = colors
            self.dots.setData([r[2] for r in rows], [r[3] for r in rows], symbolBrush=[pg.mkBrush(c) for c in colors])
        else:
            self.dots.setData([r[2] for r in rows], [r[3] for r in rows])
        lines = [f"<b>{html.escape(heading)}</b>"] + [
            f"<span style='color:{color}'>&#9632;</span> {html.escape(text)}" for color, text, _x, _y in rows]
        self.label.setHtml(f"<div style='color:{c.plot_foreground}'>{'<br>'.join(lines)}</div>")
        self.text = "\n".join([heading] + [r[1] for r in rows])
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        # The label sits at the top, on the side of the line with more room.
        self.label.setAnchor((1, 0) if x > (x0 + x1) / 2 else (0, 0))
        self.label.setPos(x, y1)
        for item in (self.line, self.dots, self.label):
            item.show()
