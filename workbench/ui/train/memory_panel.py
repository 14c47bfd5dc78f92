"""The memory verdict: will this run fit on this machine's device? Estimated by
services.fit.estimate_fit in a worker, ~300 ms after the user stops typing; a result for
settings that have since changed is dropped."""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from workbench.core.train_config import TrainConfig
from workbench.ui.common import theme
from workbench.ui.common.errors import describe
from workbench.ui.common.workers import Task, run_task

DEBOUNCE_MS = 300
VERDICT_COLORS = {"fits": "#16a34a", "tight": "#d97706", "will not fit": None}  # None: the theme's error colour


def _estimate(model_path: str, config: TrainConfig, progress: Any = None, cancel: Any = None) -> Any:
    """Worker: the estimate (it reads the model's config and the device's free memory)."""
    from workbench.services import fit

    return fit.estimate_fit(model_path, config)


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:,.0f} B"


class MemoryPanel(QFrame):
    """A verdict line, a peak-vs-available bar (the parts in its tooltip) and suggestions."""

    estimated = Signal(object)  # the FitEstimate now on screen
    shown = Signal()  # what the panel says changed

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("memoryPanel")
        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("memoryVerdict")
        self.verdict_label.setTextFormat(Qt.TextFormat.RichText)
        self.verdict_label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setObjectName("memoryBar")
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.suggestions_label = QLabel()
        self.suggestions_label.setObjectName("memorySuggestions")
        self.suggestions_label.setWordWrap(True)
        self.suggestions_label.setTextFormat(Qt.TextFormat.RichText)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.verdict_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(4)
        layout.addLayout(line)
        layout.addWidget(self.bar)
        layout.addWidget(self.suggestions_label)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self._launch)
        self.task: Optional[Task] = None
        self.estimate: Any = None  # the FitEstimate on screen
        self._wanted: Optional[tuple[str, TrainConfig]] = None  # the settings on screen
        self._running: Optional[tuple[str, TrainConfig]] = None  # what the task estimates
        self._show_text("")

    # -- requests --------------------------------------------------------------------------------
    def request(self, model_path: Optional[str], config: Optional[TrainConfig]) -> None:
        """Estimate for these settings once the user pauses (None: nothing to estimate)."""
        wanted = (model_path, config) if model_path and config is not None else None
        if wanted == self._wanted:
            return
        self._wanted = wanted
        if wanted is None:
            self.timer.stop()
            self.estimate = None
            self._show_text("")
            return
        self._mark_stale()
        self.timer.start()

    @property
    def pending(self) -> bool:
        """An estimate for the settings on screen is still to come."""
        return self._wanted is not None and (self.timer.isActive() or self.task is not None)

    def _launch(self) -> None:
        if self._wanted is None:
            return
        if self.task is not None:  # one at a time: the newest settings go next
            return
        self._running = self._wanted
        task = run_task(_estimate, *self._wanted, name="memory estimate")
        self.task = task
        task.finished.connect(lambda est, key=self._running: self._arrived(key, est, None))
        task.failed.connect(lambda exc, key=self._running: self._arrived(key, None, exc))
        task.done.connect(lambda: self._done(task))

    def _done(self, task: Task) -> None:
        if self.task is task:
            self.task = None
            if self._wanted is not None and self._wanted != self._running and not self.timer.isActive():
                self._launch()  # the settings changed while it ran

    def _arrived(self, key: Any, estimate: Any, exc: Optional[BaseException]) -> None:
        if key != self._wanted:
            return  # stale: the user changed something meanwhile
        if exc is not None:
            message, advice, _ = describe(exc)
            self.estimate = None
            self._show_text(f"Cannot estimate the memory this run needs: {html.escape(message)} "
                            f"{html.escape(advice)}")
            return
        self.estimate = estimate
        self._show(estimate)
        self.estimated.emit(estimate)

    def cancel(self) -> None:
        self.timer.stop()
        if self.task is not None:
            self.task.cancel()
            self.task = None

    # -- showing ---------------------------------------------------------------------------------
    def _show_text(self, text: str) -> None:
        self.verdict_label.setText(text)
        self.verdict_label.setToolTip("")
        self.bar.hide()
        self.suggestions_label.hide()
        self.setVisible(bool(text))
        self.shown.emit()

    def _mark_stale(self) -> None:
        if self.estimate is None:
            self._show_text("<span>Estimating the memory this run needs…</span>")
        else:  # keep the last verdict readable, greyed, until the new one comes
            self.verdict_label.setEnabled(False)
            self.bar.setEnabled(False)

    def _show(self, est: Any) -> None:
        self.verdict_label.setEnabled(True)
        self.bar.setEnabled(True)
        color = VERDICT_COLORS.get(est.verdict) or theme.colors().error_text
        where = html.escape(est.device_name)
        if est.available_bytes:
            amount = f"about {_size(est.peak_bytes)} of {_size(est.available_bytes)} available on {where}"
        else:
            amount = f"about {_size(est.peak_bytes)} at peak on {where}"
        self.verdict_label.setText(f"<b style='color:{color}'>Memory: {html.escape(est.verdict)}</b> — {amount}")
        parts = "".join(f"<tr><td>{html.escape(name)}</td><td align='right'>&nbsp;&nbsp;{_size(size)}</td></tr>"
                        for name, size in est.parts)
        tip = f"<b>Estimated peak memory</b><table>{parts}</table>"
        self.verdict_label.setToolTip(tip)
        self.bar.setToolTip(tip)
        if est.available_bytes:
            self.bar.setValue(int(min(1.0, est.peak_bytes / est.available_bytes) * 1000))
            self.bar.setStyleSheet(f"QProgressBar::chunk {{ background: {color}; }}")
            self.bar.show()
        else:
            self.bar.hide()
        if est.suggestions:
            items = "".join(f"<li>{html.escape(s)}</li>" for s in est.suggestions)
            self.suggestions_label.setText(f"<ul style='margin:0; margin-left:-20px'>{items}</ul>")
        self.suggestions_label.setVisible(bool(est.suggestions))
        self.setVisible(True)
        self.shown.emit()

    def theme_changed(self) -> None:
        if self.estimate is not None:
            self._show(self.estimate)
