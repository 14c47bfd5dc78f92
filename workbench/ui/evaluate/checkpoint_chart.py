"""A metric across checkpoints: of the compared eval runs, those of one training run's adapter
at different steps (kept checkpoints, best, final) make a line of the metric against the step,
with each point's 95% interval as an error bar; a base model's value is a dashed level line.

pyqtgraph is imported when the chart is first built (the page's first show: the window has
imported it in a worker by then, see Page.heavy_imports)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.ui.common import theme
from workbench.ui.common.page import hint

if TYPE_CHECKING:
    from workbench.services.eval_compare import Comparison

Point = tuple[int, float, float, float]  # step, value, low, high


def checkpoint_lines(comparison: "Comparison", metric: str) -> tuple[dict[str, list[Point]], dict[str, float]]:
    """({training run label: points by step}, {base model label: value}) for `metric`."""
    lines: dict[str, list[Point]] = {}
    levels: dict[str, float] = {}
    for run in comparison.runs:
        est = comparison.table.get(run.id, {}).get(metric)
        if est is None or est.value != est.value:
            continue
        model = run.model
        if model.is_base:
            levels[run.label or "base model"] = est.value
        elif model.step is not None:
            name = (run.label or "").split(" · ")[0] or model.run_id[:8]
            lines.setdefault(name, []).append((int(model.step), est.value, est.low, est.high))
    for points in lines.values():
        points.sort()
    return lines, levels


class CheckpointChart(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("checkpointMetric")
        self.metric_combo.currentIndexChanged.connect(self.redraw)
        top = QHBoxLayout()
        top.addWidget(QLabel("Metric"))
        top.addWidget(self.metric_combo)
        top.addStretch(1)
        self.message = hint("")
        self.layout_ = QVBoxLayout(self)
        self.layout_.addLayout(top)
        self.layout_.addWidget(self.message)
        self.plot: Any = None  # a pyqtgraph PlotWidget, once built
        self._comparison: Optional["Comparison"] = None
        self._titles: dict[str, str] = {}
        self.drawn: dict[str, list[Point]] = {}  # what the plot shows now (tests read it)

    def ensure_built(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("checkpointPlot")
        self.plot.setLabel("bottom", "step")
        self.plot.addLegend(offset=(10, 10))
        self.layout_.addWidget(self.plot, 1)
        self.apply_theme()
        self.redraw()

    def apply_theme(self) -> None:
        if self.plot is None:
            return
        theme.style_plot(self.plot)
        self.plot.getPlotItem().legend.setLabelTextColor(theme.colors().plot_foreground)

    def set_comparison(self, comparison: Optional["Comparison"], titles: dict[str, str]) -> None:
        self._comparison, self._titles = comparison, titles
        current = self.metric_combo.currentData()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for name in (comparison.metrics if comparison else []):
            self.metric_combo.addItem(titles.get(name, name), name)
        index = self.metric_combo.findData(current)
        self.metric_combo.setCurrentIndex(max(0, index))
        self.metric_combo.blockSignals(False)
        self.redraw()

    def redraw(self) -> None:
        metric = self.metric_combo.currentData()
        lines, levels = (checkpoint_lines(self._comparison, metric)
                         if self._comparison is not None and metric else ({}, {}))
        self.drawn = lines
        if not lines:
            self.message.setText("Compare eval runs of a training run's checkpoints (pick several checkpoints "
                                 "of one run in Models, then Run) to see the metric against the steps.")
        else:
            self.message.setText(f"{self._titles.get(metric, metric)} at each evaluated step, with its 95% interval.")
        if self.plot is None:
            return
        import numpy as np
        import pyqtgraph as pg

        self.plot.clear()
        palette = theme.plot_palette()
        self.plot.setLabel("left", self._titles.get(metric, metric or ""))
        for i, (name, points) in enumerate(lines.items()):
            colour = palette[i % len(palette)]
            steps = [p[0] for p in points]
            values = [p[1] for p in points]
            self.plot.plot(steps, values, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=7,
                           symbolBrush=colour, name=name)
            bottom = [v - lo for _s, v, lo, _h in points]
            top = [hi - v for _s, v, _l, hi in points]
            self.plot.addItem(pg.ErrorBarItem(x=np.asarray(steps, float), y=np.asarray(values, float),
                                              top=np.asarray(top, float), bottom=np.asarray(bottom, float),
                                              beam=0.0, pen=pg.mkPen(colour)))
        for j, (name, value) in enumerate(levels.items()):
            colour = palette[(len(lines) + j) % len(palette)]
            line = pg.InfiniteLine(pos=value, angle=0, pen=pg.mkPen(colour, width=1.5, style=pg.QtCore.Qt.PenStyle.DashLine),
                                   label=name, labelOpts={"position": 0.05, "color": colour})
            self.plot.addItem(line)
