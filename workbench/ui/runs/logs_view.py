"""The Logs tab: the training child's stderr (runs/<id>/train.log), read in a worker once a
second while the tab is on screen, appended to a text view that keeps the last MAX_LINES lines.

A long log is not read from its start: the first read of a run jumps to its last TAIL_BYTES.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from workbench.core.records import Run
from workbench.ui.common.page import hint
from workbench.ui.common.workers import Task, run_task

INTERVAL_MS = 1000
MAX_LINES = 5000
TAIL_BYTES = 256 * 1024
CHUNK_BYTES = 64 * 1024


def _read(store_path: str, run: Run, offset: int, first: bool, progress=None, cancel=None):
    """(chunk, skipped bytes): new text of the run's log from `offset`; the first read of a big
    log starts TAIL_BYTES before its end."""
    from workbench.services import run_logs

    chunk = run_logs.read_log(store_path, run, offset, max_bytes=CHUNK_BYTES)
    skipped = 0
    if first and chunk.size - offset > TAIL_BYTES:
        skipped = chunk.size - TAIL_BYTES
        chunk = run_logs.read_log(store_path, run, skipped, max_bytes=TAIL_BYTES)
    return chunk, skipped


class LogsView(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setObjectName("runLogs")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setMaximumBlockCount(MAX_LINES)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(font)
        self.empty = hint("Select a run to see what its training process wrote (warnings, errors).")
        self.title = hint("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.read_more)
        self.store_path: Optional[str] = None
        self.run: Optional[Run] = None
        self.offset = 0
        self.size = 0
        self.task: Optional[Task] = None
        self._reads = 0  # reads of the current run that came back
        self._generation = 0  # bumped per run shown: a late read of the previous run is dropped
        self._shown = False

    def follow(self, store_path: Optional[str], run: Optional[Run]) -> None:
        """Show `run`'s log (a new record of the same run just updates whether it still grows)."""
        same = run is not None and self.run is not None and run.id == self.run.id and store_path == self.store_path
        self.run, self.store_path = run, store_path
        if not same:
            self._generation += 1
            self.offset = self.size = self._reads = 0
            self.text.clear()
            self.empty.setVisible(run is None)
            self.title.setVisible(run is not None)
            if run is not None:
                self.title.setText(f"What {run.name}'s training process wrote ({run.work_dir}/train.log):")
        self._schedule()

    def set_shown(self, shown: bool) -> None:
        """Reads happen only while the tab is on screen."""
        self._shown = shown
        self._schedule()

    def _growing(self) -> bool:
        return self.run is not None and (self.run.status in ("running", "queued") or self._reads == 0
                                         or self.offset < self.size)

    def _schedule(self) -> None:
        if self._shown and self.run is not None and self._growing():
            if not self.timer.isActive():
                self.timer.start()
            if self._reads == 0:
                self.read_more()  # at once, not a second later
        else:
            self.timer.stop()

    def read_more(self) -> None:
        if self.run is None or self.store_path is None or (self.task is not None and self.task.running):
            return
        generation, first = self._generation, self._reads == 0
        task = self.task = run_task(_read, self.store_path, self.run, self.offset, first, name="read log")
        task.finished.connect(lambda result: self._on_read(generation, result))
        task.failed.connect(lambda exc: self._on_failed(generation, exc))

    def _on_read(self, generation: int, result) -> None:
        if generation != self._generation:
            return
        chunk, skipped = result
        self._reads += 1
        if skipped and self._reads == 1:
            self.text.appendPlainText(f"… the first {skipped:,} bytes are left out; the whole log is {chunk.size:,} "
                                      f"bytes in the run's folder (train.log).")
        if chunk.size < self.offset:  # the log was replaced (a run started again): read afresh
            self.text.clear()
        self.offset, self.size = chunk.offset, chunk.size
        if chunk.text:
            bar = self.text.verticalScrollBar()
            at_end = bar.value() >= bar.maximum() - 2
            cursor = QTextCursor(self.text.document())
            cursor.movePosition(QTextCursor.MoveOperation.End)
            cursor.insertText(chunk.text)  # appendPlainText would add a line break per chunk
            if at_end:  # follow the end unless the user scrolled up to read
                bar.setValue(bar.maximum())
        self._schedule()

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._reads += 1
        self.timer.stop()
        self.text.setPlainText(f"The log cannot be read: {exc}")

    def shutdown(self) -> None:
        self.timer.stop()
        if self.task is not None:
            self.task.cancel()
