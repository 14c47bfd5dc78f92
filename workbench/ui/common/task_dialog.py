"""TaskDialog: a dialog whose work (preview, apply, import, export) runs in a worker thread, one
task at a time, followed by an inline progress bar with Cancel. Closing the dialog cancels it.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtWidgets import QDialog, QWidget
from shiboken6 import isValid

from workbench.ui.common.errors import show_error
from workbench.ui.common.workers import InlineProgress, Task, run_task


class TaskProgress(InlineProgress):
    """InlineProgress that ignores the end of a task it no longer follows (a new task started
    from the previous one's result handler must keep its bar)."""

    def _on_done(self) -> None:
        sender = self.sender()
        if sender is not None and sender is not self._task:
            return
        super()._on_done()


class TaskDialog(QDialog):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.progress = TaskProgress()
        self.task: Optional[Task] = None

    @property
    def busy(self) -> bool:
        return self.task is not None

    def start_task(self, fn: Callable[..., Any], *args: Any, label: str,
                   on_result: Callable[[Any], None], on_error: Optional[Callable[[BaseException], None]] = None,
                   **kwargs: Any) -> Task:
        """Run fn(*args, progress=, cancel=, **kwargs); on_result(result) in the GUI thread.
        Errors go to on_error, or to the error dialog."""
        if self.task is not None:
            self.task.cancel()
        task = run_task(fn, *args, name=label, **kwargs)
        self.task = task
        self.progress.follow(task, label)

        # The dialog may be gone by the time a cancelled task reports back: check it still is.
        def finished(result: Any) -> None:
            if isValid(self) and self.task is task:
                on_result(result)

        def failed(exc: BaseException) -> None:
            if not isValid(self) or self.task is not task:
                return
            if on_error is not None:
                on_error(exc)
            else:
                show_error(self, exc, self.windowTitle() or "Workbench")

        def done() -> None:
            if isValid(self) and self.task is task:
                self.task = None
                self.busy_changed(False)

        task.finished.connect(finished)
        task.failed.connect(failed)
        task.done.connect(done)
        self.busy_changed(True)
        return task

    def busy_changed(self, busy: bool) -> None:
        """Subclasses enable/disable their buttons here."""

    def cancel_task(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def done(self, result: int) -> None:  # accept(), reject() and closing all end here
        self.cancel_task()
        super().done(result)
