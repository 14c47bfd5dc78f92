"""The Runs page's Gate tab: the eval suite attached to the selected run, scored on each kept
checkpoint and on the final adapter — the scores plotted against the step with the rule's
threshold, whether the run passed, and each rule's value against its baseline.

Read in a worker (services.eval_gate: a few queries per gated run); pyqtgraph is imported when
the tab is first shown (the Runs page's heavy import, loaded by then)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from workbench.core.records import Run
from workbench.ui.common import theme
from workbench.ui.common.workers import Task, run_task

if TYPE_CHECKING:
    from workbench.services.eval_gate import GateStatus

GATE_COLORS = {"passed": "#15803d", "failed": "#b91c1c", "pending": "#1d4ed8", "none": "#6b7280"}


def _load(store: Any, run_id: str, progress: Any = None, cancel: Any = None) -> tuple["GateStatus", dict]:
    from workbench.services import eval_gate

    return eval_gate.gate_status(store, run_id), eval_gate.gate_series(store, run_id)


def threshold(rule: Any, baseline: Optional[float]) -> Optional[float]:
    """The number a rule's metric must stay at or above (>=) / below (<=)."""
    if baseline is None:
        return None
    return baseline - rule.margin if rule.op == ">=" else baseline + rule.margin


class GatePanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state_label = QLabel()
        self.state_label.setObjectName("gateState")
        self.state_label.setWordWrap(True)
        self.state_label.setTextFormat(Qt.TextFormat.RichText)
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("gateChartMetric")
        self.metric_combo.currentIndexChanged.connect(self.redraw)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric"))
        row.addWidget(self.metric_combo)
        row.addStretch(1)
        self.layout_ = QVBoxLayout(self)
        self.layout_.addWidget(self.state_label)
        self.layout_.addLayout(row)
        self.plot: Any = None
        self.status: Optional["GateStatus"] = None
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.store: Any = None
        self.run_id: Optional[str] = None
        self._task: Optional[Task] = None
        self._shown = False
        self._key: Any = ()
        self.show_run(None, None)

    def set_shown(self, shown: bool) -> None:
        self._shown = shown
        if shown:
            self._ensure_plot()
            self.reload()

    def show_run(self, store: Any, run: Optional[Run]) -> None:
        """Follow the selected run; its gate is read again when another run is selected or this
        one's status changed (a live run's steps alone change nothing here)."""
        key = (run.id, run.status) if run else None
        if key == self._key and store is self.store:
            return
        changed = run is None or run.id != self.run_id
        self.store, self.run_id, self._key = store, run.id if run else None, key
        if changed:
            self.status, self.series = None, {}
            self.state_label.setText("Select a run to see its regression gate." if run is None else "Reading the gate…")
            self.metric_combo.clear()
            self.redraw()
        if self._shown:
            self.reload()

    def reload(self) -> Optional[Task]:
        if self.store is None or self.run_id is None:
            return None
        if self._task is not None:
            self._task.cancel()
        run_id = self.run_id
        task = self._task = run_task(_load, self.store, run_id, name="read gate")
        task.finished.connect(lambda result, t=task: t is self._task and run_id == self.run_id and self._show(*result))
        task.failed.connect(lambda exc, t=task: t is self._task and self.state_label.setText(
            f"Cannot read the gate: {getattr(exc, 'user_message', exc)}"))
        return task

    def _show(self, status: "GateStatus", series: dict) -> None:
        self.status, self.series = status, series
        colour = GATE_COLORS.get(status.state, GATE_COLORS["none"])
        lines = [f"<b style='color:{colour}'>Gate {status.state}</b> — {status.message}"
                 if status.state != "none" else status.message +
                 " Attach one on the Train page (Regression gate) when you start a run."]
        for r in status.rules:
            value = "—" if r.value is None else f"{r.value:.4g}"
            base = "—" if r.baseline is None else f"{r.baseline:.4g}"
            mark = {True: "✓", False: "✗", None: "…"}[r.passed]
            lines.append(f"{mark} {r.rule.describe()}: final {value}, baseline {base}")
        if status.per_step:
            steps = ", ".join(f"{s.step} {'✓' if s.passed else ('✗' if s.passed is False else '…')}"
                              for s in status.per_step)
            lines.append(f"Checkpoints: {steps}")
        self.state_label.setText("<br>".join(lines))
        chosen = self.metric_combo.currentData()
        ruled = [r.rule.metric for r in status.rules]
        names = sorted(series, key=lambda n: (n not in ruled, n))
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for name in names:
            self.metric_combo.addItem(name, name)
        self.metric_combo.setCurrentIndex(max(0, self.metric_combo.findData(chosen)))
        self.metric_combo.blockSignals(False)
        self.redraw()

    def _ensure_plot(self) -> None:
        if self.plot is not None:
            return
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setObjectName("gatePlot")
        self.plot.setLabel("bottom", "step")
        self.layout_.addWidget(self.plot, 1)
        self.theme_changed()

    def theme_changed(self) -> None:
        if self.plot is None:
            return
        theme.style_plot(self.plot)
        self.redraw()

    def redraw(self) -> None:
        if self.plot is None:
            return
        import pyqtgraph as pg

        self.plot.clear()
        metric = self.metric_combo.currentData()
        points = self.series.get(metric or "", [])
        if not points:
            return
        colour = theme.plot_palette()[0]
        self.plot.setLabel("left", metric)
        self.plot.plot([p[0] for p in points], [p[1] for p in points], pen=pg.mkPen(colour, width=2),
                       symbol="o", symbolSize=8, symbolBrush=colour)
        for r in self.status.rules if self.status else []:
            level = threshold(r.rule, r.baseline)
            if r.rule.metric == metric and level is not None:
                pen = pg.mkPen(GATE_COLORS["failed"], width=1.5, style=Qt.PenStyle.DashLine)
                self.plot.addItem(pg.InfiniteLine(pos=level, angle=0, pen=pen, label=f"threshold {level:.4g}",
                                                  labelOpts={"position": 0.1, "color": GATE_COLORS["failed"]}))

    def shutdown(self) -> None:
        if self._task is not None:
            self._task.cancel()
