"""Export Metrics…: the selected runs' curves as one long-format CSV or Parquet file (run, step,
epoch, time, metric, value), chosen by the file's suffix, written in a worker
(services.metrics_export) with progress and Cancel in the page's progress line."""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from workbench.ui.common.errors import show_error
from workbench.ui.common.workers import InlineProgress, Task, run_task

FILTERS = "CSV (*.csv);;Parquet (*.parquet)"


def _export(project_path: str, run_ids: list[str], path: str, progress=None, cancel=None) -> int:
    from workbench.services import metrics_export

    return metrics_export.export_metrics(project_path, run_ids, path, progress=progress, cancel=cancel)


class MetricsExport(QObject):
    """One export at a time; done(path, rows) when the file is written."""

    done = Signal(str, int)

    def __init__(self, page: QWidget, progress: InlineProgress, status: Callable[[str], None]) -> None:
        super().__init__(page)
        self._page, self._progress, self._status = page, progress, status
        self.task: Optional[Task] = None

    def ask_path(self, suggested: str) -> str:
        """The file to write (a save dialog; "" when the user cancels)."""
        path, _filter = QFileDialog.getSaveFileName(self._page, "Export metrics", suggested, FILTERS)
        if path and not os.path.splitext(path)[1]:
            path += ".parquet" if "parquet" in _filter.lower() else ".csv"
        return path

    def start(self, project_path: str, run_ids: Sequence[str], suggested: str) -> Optional[Task]:
        path = self.ask_path(suggested)
        return self.export_to(project_path, run_ids, path) if path else None

    def export_to(self, project_path: str, run_ids: Sequence[str], path: str) -> Optional[Task]:
        if self.task is not None and self.task.running:
            return None
        task = self.task = run_task(_export, project_path, list(run_ids), path, name="export metrics")
        self._progress.follow(task, f"Exporting the metrics of {len(run_ids)} run{'s' if len(run_ids) != 1 else ''}…")
        task.finished.connect(lambda rows: self._finished(path, rows))
        task.failed.connect(lambda exc: show_error(self._page, exc, "Could not export the metrics"))
        return task

    def _finished(self, path: str, rows: int) -> None:
        self._status(f"Exported {rows:,} metric points to {path}")
        self.done.emit(path, rows)

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
