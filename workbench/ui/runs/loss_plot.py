"""A live loss curve. pyqtgraph is imported only when the plot is first built (ensure_built),
so the window never waits for it.

Data arrives whenever (invalidate() marks the curve stale); a timer redraws at most
REDRAW_HZ times a second, only while the widget is visible and only when something changed.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from workbench.ui.common import theme

REDRAW_HZ = 10
RAW_LABEL = "loss at each step"
SMOOTH_LABEL = "smoothed (moving average)"
Series = list[tuple[int, float]]


def ema(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing)."""
    out, acc = [], 0.0
    for i, v in enumerate(values, start=1):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight**i))
    return out


class LossPlot(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("lossPlot")
        self._layout = QStackedLayout(self)
        self.placeholder = QLabel("Select a run to see its loss curve.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)
        self._layout.addWidget(self.placeholder)
        self.plot_widget: Any = None
        self._curve: Any = None
        self._smooth: Any = None
        self.legend: Any = None
        self._source: Optional[Callable[[], Series]] = None
        self._dirty = False
        self.points: Series = []
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / REDRAW_HZ))
        self.timer.timeout.connect(self._tick)

    @property
    def built(self) -> bool:
        return self.plot_widget is not None

    def ensure_built(self) -> None:
        if self.plot_widget is not None:
            return
        import pyqtgraph as pg  # heavy (numpy + its widgets): first use only

        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setObjectName("lossPlotWidget")
        item = self.plot_widget.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.setLabel("bottom", "step")
        item.setLabel("left", "training loss")
        item.showGrid(x=True, y=True)
        item.setMenuEnabled(False)
        # Curves given a name after addLegend() are listed in it: which line is which.
        self.legend = item.addLegend(offset=(-10, 10))  # top right: loss falls away from it
        self._curve = item.plot([], [], name=RAW_LABEL)
        self._smooth = item.plot([], [], name=SMOOTH_LABEL)
        self._layout.addWidget(self.plot_widget)
        self.apply_theme()
        self._dirty = True
        self._show_plot_if_data()

    def apply_theme(self) -> None:
        if self.plot_widget is None:
            return
        import pyqtgraph as pg

        c = theme.colors()
        self.plot_widget.setBackground(c.plot_background)
        item = self.plot_widget.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(c.plot_foreground))
            axis.setTextPen(pg.mkPen(c.plot_foreground))
        item.showGrid(x=True, y=True, alpha=c.plot_grid_alpha)
        self.legend.setLabelTextColor(c.plot_foreground)
        for _sample, label in self.legend.items:
            label.setText(label.text)  # a LabelItem takes a new colour only with its text
        legend_bg = pg.mkColor(c.plot_background)
        legend_bg.setAlpha(210)
        self.legend.setBrush(pg.mkBrush(legend_bg))
        border = pg.mkColor(c.plot_foreground)
        border.setAlpha(60)
        self.legend.setPen(pg.mkPen(border))
        line = pg.mkColor(c.plot_line)
        faint = pg.mkColor(c.plot_line)
        faint.setAlpha(90)
        self._curve.setPen(pg.mkPen(faint, width=1))
        self._curve.setSymbol("o" if len(self.points) <= 60 else None)
        self._curve.setSymbolSize(4)
        self._curve.setSymbolBrush(faint)
        self._curve.setSymbolPen(None)
        self._smooth.setPen(pg.mkPen(line, width=2))

    def set_source(self, source: Optional[Callable[[], Series]]) -> None:
        """Follow another run's series (None: nothing selected)."""
        self._source = source
        self.points = []
        self.invalidate()
        self._tick()
        self._show_plot_if_data()

    def invalidate(self) -> None:
        """New points may exist; the next timer tick reloads and redraws."""
        self._dirty = True

    def _tick(self) -> None:
        if not self._dirty or self.plot_widget is None or not self.isVisible():
            return
        self._dirty = False
        self.points = self._source() if self._source is not None else []
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        self._curve.setData(xs, ys)
        self._curve.setSymbol("o" if len(xs) <= 60 else None)
        # A moving average of a handful of points says nothing: from 8 on.
        if len(ys) >= 8:
            self._smooth.setData(xs, ema(ys))
        else:
            self._smooth.setData([], [])
        self._show_plot_if_data()

    def _show_plot_if_data(self) -> None:
        if self.plot_widget is not None and self.points:
            self._layout.setCurrentWidget(self.plot_widget)
            return
        self.placeholder.setText(
            "Select a run to see its loss curve." if self._source is None
            else "No loss values yet: the curve appears with the first logged step.")
        self._layout.setCurrentWidget(self.placeholder)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.timer.start()
        self._tick()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self.timer.stop()
