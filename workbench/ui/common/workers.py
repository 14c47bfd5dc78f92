"""Run a pure blocking function in a worker thread, with progress, cancel and result signals.

The function is called as fn(*args, progress=callback, cancel=CancelToken, **kwargs) — the
same shape every blocking service function has — on a thread of a private QThreadPool. Its
outcome comes back to the GUI thread as exactly one of the Task signals finished(result),
failed(exception) or cancelled(), followed by done().

All tasks are tracked so the app can cancel and join them on close (shutdown_workers) and
tests can check that nothing is left running (active_task_count / pool()).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from PySide6 import QtCore  # QtCore.Qt at use: its first touch builds ~100 enums (start-up)
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from workbench.core.progress import Cancelled, CancelToken

PROGRESS_INTERVAL_S = 0.05  # progress signals are throttled to <= 20 per second

_pool: Optional[QThreadPool] = None
_live: set["Task"] = set()


def pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setObjectName("workbench-workers")
        _pool.setMaxThreadCount(4)
    return _pool


class Task(QObject):
    """One piece of blocking work. Create with run_task(); connect to the public signals."""

    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    done = Signal()

    # Emitted from the worker thread; queued into the GUI thread where this object lives.
    _w_progress = Signal(float, str)
    _w_result = Signal(str, object)

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, name: str = "") -> None:
        super().__init__()
        self.name = name or getattr(fn, "__name__", "task")
        self.token = CancelToken()
        self.fraction = 0.0
        self.message = ""
        self.outcome: Optional[str] = None  # finished | failed | cancelled
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._last_emit = 0.0
        queued = QtCore.Qt.ConnectionType.QueuedConnection
        self._w_progress.connect(self._on_progress, queued)
        self._w_result.connect(self._on_result, queued)

    @property
    def running(self) -> bool:
        return self.outcome is None

    def cancel(self) -> None:
        self.token.cancel()

    # -- worker thread ---------------------------------------------------------------------
    def _report(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            self._last_emit = now
            self._w_progress.emit(float(fraction), str(message))

    def _execute(self) -> None:
        try:
            result = self._fn(*self._args, progress=self._report, cancel=self.token, **self._kwargs)
        except Cancelled:
            self._w_result.emit("cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - every error goes to the GUI thread
            # Work that notices cancellation late may raise something else; the user asked to
            # stop, so that is a cancellation, not an error to show.
            kind = "cancelled" if self.token.cancelled else "failed"
            self._w_result.emit(kind, exc)
        else:
            if self.token.cancelled:
                self._w_result.emit("cancelled", result)
            else:
                self._w_result.emit("finished", result)

    # -- GUI thread ------------------------------------------------------------------------
    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        if self.outcome is not None:
            return
        self.fraction, self.message = fraction, message
        self.progress.emit(fraction, message)

    @Slot(str, object)
    def _on_result(self, kind: str, value: object) -> None:
        self.outcome = kind
        try:
            if kind == "finished":
                self.result = value
                self.finished.emit(value)
            elif kind == "failed":
                self.error = value  # type: ignore[assignment]
                self.failed.emit(value)
            else:
                self.cancelled.emit()
        finally:
            _live.discard(self)
            self.done.emit()


class _Runnable(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._task = task

    def run(self) -> None:
        self._task._execute()


def run_task(fn: Callable[..., Any], *args: Any, name: str = "", **kwargs: Any) -> Task:
    """Start fn(*args, progress=..., cancel=..., **kwargs) on a worker thread."""
    task = Task(fn, args, kwargs, name=name)
    _live.add(task)
    pool().start(_Runnable(task))
    return task


def active_task_count() -> int:
    return len(_live)


def shutdown_workers(timeout_ms: int = 30000) -> bool:
    """Cancel every task and join the worker threads; True when all threads ended in time."""
    for task in list(_live):
        task.cancel()
    ok = pool().waitForDone(timeout_ms) if _pool is not None else True
    # Deliver the queued outcomes now, so `done` handlers run before widgets go away.
    from PySide6.QtCore import QCoreApplication

    if QCoreApplication.instance() is not None:
        QCoreApplication.processEvents()
    return ok


def progress_dialog(parent: Optional[QWidget], task: Task, title: str, label: str = "") -> QProgressDialog:
    """A window-modal progress dialog bound to `task`; its Cancel button cancels the task."""
    dialog = QProgressDialog(label or title, "Cancel", 0, 1000, parent)
    dialog.setObjectName("taskProgressDialog")
    dialog.setWindowTitle(title)
    dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.setMinimumDuration(300)  # quick tasks finish without a flashing dialog
    dialog.setMinimumWidth(420)
    dialog.setValue(0)

    def on_progress(fraction: float, message: str) -> None:
        dialog.setValue(int(fraction * 1000))
        if message:
            dialog.setLabelText(message)

    def on_cancel() -> None:
        task.cancel()
        dialog.setLabelText("Cancelling…")

    task.progress.connect(on_progress)
    dialog.canceled.connect(on_cancel)
    task.done.connect(dialog.deleteLater)
    task.done.connect(dialog.close)
    return dialog


class InlineProgress(QWidget):
    """A label + progress bar + Cancel button that follows one task at a time."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("inlineProgress")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setMaximumWidth(240)
        self.cancel_button = QPushButton("Cancel")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._task: Optional[Task] = None
        self.cancel_button.clicked.connect(self._cancel)
        self.hide()

    def follow(self, task: Task, label: str) -> None:
        self._task = task
        self.label.setText(label)
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        task.progress.connect(self._on_progress)
        task.done.connect(self._on_done)
        self.show()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        if message:
            self.label.setText(message)

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText("Cancelling…")

    def _on_done(self) -> None:
        self._task = None
        self.hide()
