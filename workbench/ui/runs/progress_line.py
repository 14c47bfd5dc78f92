"""The progress line above the chart for a training run: a bar, the step, the speed measured over
the last minute of progress and the time left at that speed.

StepRate is plain arithmetic on (time, step) points: the run's logged metric points, each with
the wall time of its event (from the history the chart loads, then from each poll), so the
speed is the child's own, whenever the poll saw it. The ETA follows the recent speed: a run
that slows down (evaluation, a busier machine) gets a later ETA within a minute, not after
averaging its whole history.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Optional

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from workbench.core.records import Run
from workbench.ui.runs.table_model import duration_text

WINDOW_S = 60.0  # the speed is measured over this much recent progress


class StepRate:
    """Steps per second over the last WINDOW_S seconds of observations."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._points: deque[tuple[float, int]] = deque()

    def add(self, t: float, step: int) -> None:
        if self._points and t < self._points[-1][0]:
            return  # older than what it has (a loaded history that arrived after live points)
        if self._points and step < self._points[-1][1]:
            self._points.clear()  # the run started again from an earlier checkpoint
        if self._points and step == self._points[-1][1]:
            return  # no progress: the first time the step was seen is what counts
        self._points.append((t, step))
        while len(self._points) > 2 and t - self._points[1][0] >= self.window_s:
            self._points.popleft()

    def rate(self) -> Optional[float]:
        if len(self._points) < 2:
            return None
        (t0, s0), (t1, s1) = self._points[0], self._points[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else None

    def eta_s(self, step: int, total: int) -> Optional[float]:
        rate = self.rate()
        if not rate or rate <= 0 or total <= 0:
            return None
        return max(0, total - step) / rate


def rate_text(rate: Optional[float]) -> str:
    if rate is None:
        return ""
    return f"{rate:.2f} steps/s" if rate >= 0.1 else f"{1 / rate:.1f} s/step" if rate > 0 else ""


class ProgressLine(QWidget):
    """Hidden unless the shown run is training; follow(run) with each new record of it."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("runProgressLine")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 2)
        layout.addWidget(self.label, 3)
        self._rates: dict[str, StepRate] = {}
        self._run_id: Optional[str] = None
        self.hide()

    def observe(self, run_id: str, points: Iterable[tuple[float, int]]) -> None:
        """(event time, step) points of a run, oldest first (times of 0: unknown, skipped)."""
        rate = self._rates.get(run_id)
        for t, step in points:
            if t > 0:
                if rate is None:
                    rate = self._rates[run_id] = StepRate()
                rate.add(t, step)

    def observe_rows(self, metrics: dict) -> None:
        """A poll's new metric points (ctx.run_metrics: {run id: [MetricRow]})."""
        for run_id, rows in metrics.items():
            self.observe(run_id, sorted((r.t or 0.0, r.step) for r in rows))

    def forget(self, run: Run) -> None:
        """A run that stopped training: its speed is measured afresh if it trains again."""
        if run.status != "running":
            self._rates.pop(run.id, None)

    def follow(self, run: Optional[Run]) -> None:
        """Show `run`'s progress (None, or a run not training: hidden)."""
        self._run_id = run.id if run is not None else None
        if run is None or run.status != "running":
            self.hide()
            return
        total = run.total_steps
        self.bar.setValue(int(max(0.0, min(1.0, run.step / total if total else run.progress)) * 1000))
        parts = [f"Step {run.step:,} / {total:,}" if total else f"Step {run.step:,}"]
        if total:
            parts.append(f"{run.step / total:.0%}")
        rate = self._rates.get(run.id)
        if rate is not None and rate.rate():
            parts.append(rate_text(rate.rate()))
            eta = rate.eta_s(run.step, total)
            if eta is not None:
                parts.append(f"about {duration_text(eta)} left")
        else:
            parts.append("measuring speed…")
        self.label.setText(" · ".join(parts))
        self.show()
