"""The Train page's tool-calling check: can the chosen base model's chat template show the tool
calls, results and definitions of the chosen version? Checked in a worker once per (version,
model) by services.tool_check (it reads the version's messages and the model's tokenizer
files); a template that cannot is a problem that blocks the run, as the engine would refuse it."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from workbench.ui.common.workers import Task, run_task

Key = tuple[str, str]  # (version id, model id)


def _check(store: Any, version_id: str, model_id: str, progress: Any = None, cancel: Any = None) -> Optional[str]:
    """The refusal as "reason advice", or None when the model can train the version."""
    from workbench.core.errors import ModelError
    from workbench.services.tool_check import check_tool_support

    try:
        check_tool_support(store, version_id, model_id)
    except ModelError as exc:
        return " ".join(t for t in (exc.user_message, exc.advice) if t)
    return None


class ToolCheck(QObject):
    changed = Signal()  # an answer arrived: the page re-validates

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.store: Any = None
        self.key: Optional[Key] = None  # the (version, model) on screen
        self.task: Optional[Task] = None
        self._task_key: Optional[Key] = None
        self._answers: dict[Key, Optional[str]] = {}  # versions are immutable: kept for the project
        self._failed: set[Key] = set()

    def set_store(self, store: Any) -> None:
        self.cancel()
        self.store, self.key = store, None
        self._answers.clear()
        self._failed.clear()

    def forget(self) -> None:
        """A model folder may have been rebuilt or its template changed: check again when asked."""
        self._answers.clear()
        self._failed.clear()

    def want(self, version_id: Optional[str], model_id: Optional[str]) -> None:
        """Check (version, model) unless it is known or being checked."""
        self.key = (version_id, model_id) if version_id and model_id and self.store is not None else None
        key = self.key
        if key is None or key in self._answers or key in self._failed or self._task_key == key:
            return
        self.cancel()
        task = run_task(_check, self.store, key[0], key[1], name="tool-calling check")
        self.task, self._task_key = task, key
        task.finished.connect(lambda answer: self._answered(key, answer))
        # Any other error (no tokenizer.json, a missing folder) is the max-length line's to
        # report; this check does not block a run on what it could not read.
        task.failed.connect(lambda _exc: self._answered(key, None, failed=True))
        task.done.connect(lambda: self._done(task))

    def _answered(self, key: Key, answer: Optional[str], failed: bool = False) -> None:
        if failed:
            self._failed.add(key)
        else:
            self._answers[key] = answer
        if self._task_key == key:  # no longer checking before the page re-reads the problem
            self.task, self._task_key = None, None
        self.changed.emit()

    def _done(self, task: Task) -> None:
        if self.task is task:
            self.task, self._task_key = None, None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task, self._task_key = None, None

    @property
    def known(self) -> bool:
        """The (version, model) on screen has been checked (or could not be)."""
        return self.key is not None and (self.key in self._answers or self.key in self._failed)

    def problem(self) -> Optional[str]:
        """Why the run must not start (the template cannot show the version's tools), or None."""
        return self._answers.get(self.key) if self.key is not None else None
