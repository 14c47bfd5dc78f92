"""The Train page's max-length check: how many rows of the chosen version the max length cuts
or drops for the chosen base model's tokenizer, measured in a worker once per (version, model)
and answered for any max length from that measurement (workbench.data.model_view.token_fit)."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from workbench.ui.common.errors import describe
from workbench.ui.common.workers import Task, run_task


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


class FitCheck(QObject):
    changed = Signal()  # a measurement arrived or failed: the page re-validates

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.store: Any = None
        self.key: Optional[tuple[str, str]] = None  # (version id, model id) on screen
        self.task: Optional[Task] = None
        self._task_key: Optional[tuple[str, str]] = None
        self._fits: dict[tuple[str, str], Any] = {}  # versions are immutable: kept for the project
        self._errors: dict[tuple[str, str], str] = {}

    def set_store(self, store: Any) -> None:
        self.cancel()
        self.store, self.key = store, None
        self._fits.clear()
        self._errors.clear()

    def forget_errors(self) -> None:
        """A model folder may have been rebuilt or a file restored: try failed ones again."""
        self._errors.clear()

    def want(self, version_id: Optional[str], model_id: Optional[str]) -> None:
        """Measure (version, model) unless it is known or being measured."""
        self.key = (version_id, model_id) if version_id and model_id and self.store is not None else None
        key = self.key
        if key is None or key in self._fits or key in self._errors or self._task_key == key:
            return
        from workbench.services import dataset_ops

        self.cancel()
        task = run_task(dataset_ops.token_fit, self.store, key[0], key[1], name="max-length check")
        self.task, self._task_key = task, key
        task.finished.connect(lambda fit: self._store_result(key, fit))
        task.failed.connect(lambda exc: self._store_error(key, exc))
        task.done.connect(lambda: self._done(task))

    def _store_result(self, key: tuple[str, str], fit: Any) -> None:
        self._fits[key] = fit
        self._measured(key)

    def _store_error(self, key: tuple[str, str], exc: BaseException) -> None:
        message, advice, _ = describe(exc)
        self._errors[key] = f"{message} {advice}".strip()
        self._measured(key)

    def _measured(self, key: tuple[str, str]) -> None:
        # No longer measuring before the page re-reads the line (done() comes only after this).
        if self._task_key == key:
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
    def measuring(self) -> bool:
        return self.key is not None and self._task_key == self.key

    def counts(self, max_length: int) -> Any:
        """workbench.data.model_view.token_fit.FitCounts for the key on screen, or None while unknown."""
        fit = self._fits.get(self.key) if self.key else None
        return fit.at(max_length) if fit is not None else None

    # -- what the page shows -------------------------------------------------------------------
    def text(self, max_length: int, model_name: str) -> str:
        """One line under the form: measuring, the counts, or why there are none."""
        if self.key is None:
            return ""
        if self.key in self._errors:
            return f"Cannot check the max length against the data: {self._errors[self.key]}"
        if self.measuring:
            return f"Measuring the rows with {model_name}'s tokenizer…"
        counts = self.counts(max_length)
        if counts is None:
            return ""
        fit = self._fits[self.key]
        parts = []
        if counts.truncated:
            parts.append(f"{_rows(counts.truncated)} of {counts.rows:,} longer than {max_length:,} tokens "
                         "(their end is cut)")
        if counts.dropped:
            why = (f"{counts.without_reply:,} without an assistant reply" if counts.without_reply == counts.dropped
                   else f"no assistant reply starts within {max_length:,} tokens")
            parts.append(f"{_rows(counts.dropped)} dropped ({why})")
        text = (f"With {model_name}'s tokenizer: " + "; ".join(parts) + "." if parts else
                f"With {model_name}'s tokenizer every row fits in {max_length:,} tokens.")
        if fit.render_errors:
            first = ", ".join(str(i + 1) for i in fit.render_error_rows[:5])
            text += (f" {_rows(fit.render_errors)} (row {first}…) cannot be rendered with this model's chat "
                     "template: training stops at the first of them.")
        return text

    def problem(self, max_length: int) -> Optional[str]:
        """Why the run must not start (every row dropped), or None."""
        counts = self.counts(max_length)
        if counts is None or counts.rows == 0 or counts.usable > 0 or counts.dropped < counts.rows:
            return None
        if counts.shortest_fit is None:
            return "No row of this version has an assistant reply to train on: pick another version."
        return (f"Max length {max_length:,} drops all {counts.rows:,} rows: no assistant reply starts within "
                f"{max_length:,} tokens. Raise it to at least {counts.shortest_fit:,} "
                f"(more to keep more rows).")
