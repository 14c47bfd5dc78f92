"""Event-loop lag probe for the benchmarks: a 5 ms timer in the GUI thread records how late each
tick fires. Lag = the gap between two ticks minus the interval; a stall of the GUI thread shows
as one large gap. Not a test: benchmarks print its figures.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer

INTERVAL_MS = 5


@dataclass(frozen=True)
class Lag:
    label: str
    ticks: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    def line(self) -> str:
        ok = "ok" if self.p99_ms < 16 and self.max_ms < 50 else "OVER GOAL"
        return (f"{self.label:<44} ticks {self.ticks:>5}  p50 {self.p50_ms:6.2f} ms  "
                f"p99 {self.p99_ms:6.2f} ms  max {self.max_ms:7.2f} ms  ({ok}; goal p99 < 16, max < 50)")


class LagProbe(QObject):
    def __init__(self) -> None:
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self._lags: list[float] = []

    def start(self) -> None:
        self._lags = []
        self._last = time.perf_counter()
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self._lags.append(max(0.0, (now - self._last) * 1000 - INTERVAL_MS))
        self._last = now

    def stop(self, label: str) -> Lag:
        self._timer.stop()
        lags = sorted(self._lags) or [0.0]
        p99 = lags[min(len(lags) - 1, int(round(0.99 * (len(lags) - 1))))]
        return Lag(label, len(lags), statistics.median(lags), p99, lags[-1])
