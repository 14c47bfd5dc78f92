"""Progress reporting and cooperative cancellation for long work (pure, thread-safe)."""

from __future__ import annotations

import threading
from typing import Callable, Optional


class Cancelled(Exception):
    """Raised inside work that noticed its CancelToken was set."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


ProgressCallback = Callable[[float, str], None]


def report(progress: Optional[ProgressCallback], fraction: float, message: str = "") -> None:
    if progress is not None:
        progress(max(0.0, min(1.0, fraction)), message)
