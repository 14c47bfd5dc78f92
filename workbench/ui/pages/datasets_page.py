"""Datasets: import files (worker thread, progress, cancel), list versions, preview rows."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import DataImportError
from workbench.core.records import DatasetVersion
from workbench.ui.context import ProjectContext
from workbench.ui.errors import show_error
from workbench.ui.models.rows_model import RowsModel
from workbench.ui.pages.base import Page, heading, hint
from workbench.ui.widgets.chat_view import ChatView
from workbench.ui.workers import InlineProgress, Task, run_task

DATASET_EXTENSIONS = (".jsonl", ".json", ".csv", ".tsv", ".gz")
FILE_FILTER = "Datasets (*.jsonl *.json *.csv *.tsv *.gz);;All files (*)"
VERSION_COLUMNS = ("Name", "Rows", "Format", "Source file", "Created by", "Created at")


class DatasetsPage(Page):
    title = "Datasets"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.import_task: Optional[Task] = None
        self._queue: list[tuple[str, str]] = []  # (path, on_invalid)
        self._versions: list[DatasetVersion] = []

        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("primary")
        self.import_button.clicked.connect(self.choose_and_import)
        self.progress = InlineProgress()
        top = QHBoxLayout()
        top.addWidget(heading("Datasets"))
        top.addStretch(1)
        top.addWidget(self.import_button)

        self.versions_table = QTableWidget(0, len(VERSION_COLUMNS))
        self.versions_table.setObjectName("versionsTable")
        self.versions_table.setHorizontalHeaderLabels(VERSION_COLUMNS)
        self.versions_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.versions_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.versions_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.versions_table.verticalHeader().hide()
        self.versions_table.horizontalHeader().setStretchLastSection(True)
        self.versions_table.setAlternatingRowColors(True)
        self.versions_table.itemSelectionChanged.connect(self._on_version_selected)

        self.rows_model = RowsModel()
        self.rows_view = QTableView()
        self.rows_view.setObjectName("rowsView")
        self.rows_view.setModel(self.rows_model)
        self.rows_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rows_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.rows_view.verticalHeader().hide()
        self.rows_view.setWordWrap(False)
        self.rows_view.setAlternatingRowColors(True)
        header = self.rows_view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.rows_view.selectionModel().currentRowChanged.connect(self._on_row_selected)
        self.rows_label = QLabel("Rows")
        self.conversation = ChatView()
        self.conversation.setObjectName("conversationView")
        self.conversation.set_placeholder("Select a row to read its conversation.")

        rows_box = QWidget()
        rows_layout = QVBoxLayout(rows_box)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.addWidget(self.rows_label)
        rows_layout.addWidget(self.rows_view)
        conv_box = QWidget()
        conv_layout = QVBoxLayout(conv_box)
        conv_layout.setContentsMargins(0, 0, 0, 0)
        conv_layout.addWidget(QLabel("Conversation"))
        conv_layout.addWidget(self.conversation)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(rows_box)
        bottom.addWidget(conv_box)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.versions_table)
        splitter.addWidget(bottom)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 4)
        splitter.setSizes([150, 600])  # a few versions; the rows deserve the room

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint("Import chat datasets (JSONL, JSON, CSV or TSV; OpenAI messages, "
                              "ShareGPT, Alpaca or prompt/completion; .gz works too) or drop "
                              "files onto the window. Every import is an immutable version."))
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self._queue.clear()
        self.refresh()

    def refresh(self, select_id: Optional[str] = None) -> None:
        table = self.versions_table
        if select_id is None:
            current = self.selected_version()
            select_id = current.id if current else None
        self._versions = self.ctx.store.list_versions() if self.ctx else []
        names = {d.id: d.name for d in self.ctx.store.list_datasets()} if self.ctx else {}
        table.blockSignals(True)
        table.setRowCount(len(self._versions))
        for i, v in enumerate(self._versions):
            cells = (names.get(v.dataset_id, "?"), f"{v.row_count:,}", v.format, v.source_name,
                     v.created_by, v.created_at[:19].replace("T", " "))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(i, j, item)
        for col in range(table.columnCount() - 1):  # the last one stretches
            table.resizeColumnToContents(col)
        row = next((i for i, v in enumerate(self._versions) if v.id == select_id), 0 if self._versions else -1)
        if row >= 0:
            table.selectRow(row)
        table.blockSignals(False)
        self._on_version_selected()

    def selected_version(self) -> Optional[DatasetVersion]:
        rows = self.versions_table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._versions):
            return None
        return self._versions[rows[0].row()]

    def _on_version_selected(self) -> None:
        version = self.selected_version()
        self.conversation.set_messages([])
        if version is None or self.ctx is None:
            self.rows_model.reset(None, 0)
            self.rows_label.setText("Rows")
            return
        from workbench.services import datasets as dataset_service

        store = self.ctx.store
        self.rows_model.reset(lambda off, lim: dataset_service.read_rows(store, version.id, off, lim),
                              version.row_count)
        if self.rows_model.canFetchMore():
            self.rows_model.fetchMore()
        self.rows_label.setText(f"Rows ({version.row_count:,})")
        if self.rows_model.rowCount():
            self.rows_view.selectRow(0)

    def _on_row_selected(self, current, _previous=None) -> None:
        if not current.isValid():
            self.conversation.set_messages([])
            return
        try:
            row = self.rows_model.full_row(current.row())
        except Exception as exc:  # noqa: BLE001 - a damaged blob, shown once
            show_error(self, exc)
            return
        if row is not None:
            self.conversation.set_messages(row.get("messages") or [], follow=False)
            self.conversation.verticalScrollBar().setValue(0)

    def theme_changed(self) -> None:
        self.conversation.rerender()

    # -- importing -------------------------------------------------------------------------------
    def choose_and_import(self) -> None:
        if self.ctx is None:
            return
        files, _ = QFileDialog.getOpenFileNames(self, "Import Dataset", "", FILE_FILTER)
        if files:
            self.import_files(files)

    def import_files(self, files: list[str], on_invalid: str = "abort") -> None:
        """Import each file in turn (one worker at a time, the page stays usable).

        on_invalid="abort" refuses a file with invalid rows (the error offers to skip them);
        "skip" imports the valid rows and reports how many were skipped.
        """
        self._queue.extend((f, on_invalid) for f in files)
        if self.import_task is None:
            self._start_next()

    def _start_next(self) -> None:
        if not self._queue or self.ctx is None:
            return
        path, on_invalid = self._queue.pop(0)
        from workbench.services import datasets as dataset_service

        task = run_task(dataset_service.import_dataset, self.ctx.store, path, on_invalid=on_invalid,
                        name=f"import {path}")
        self.import_task = task
        self.import_button.setEnabled(False)
        self.progress.follow(task, f"Importing {os.path.basename(path)}…")
        task.finished.connect(self._on_imported)
        task.failed.connect(lambda exc: self._on_import_failed(path, on_invalid, exc))
        task.cancelled.connect(self._queue.clear)
        task.done.connect(self._on_import_done)

    def _on_import_failed(self, path: str, on_invalid: str, exc: BaseException) -> None:
        actions = []
        # The data layer refuses a file with invalid rows and advises skipping them: offer it.
        if (on_invalid == "abort" and isinstance(exc, DataImportError)
                and "skipping invalid rows" in (exc.advice or "")):
            actions.append(("Import Skipping Invalid Rows", lambda: self.import_files([path], "skip")))
        show_error(self, exc, "Import failed", actions=actions)

    def _on_imported(self, version: DatasetVersion) -> None:
        if self.ctx is None:
            return
        self.refresh(select_id=version.id)
        self.ctx.datasets_changed.emit()
        skipped = (version.options or {}).get("skipped_rows") or 0
        note = f", {skipped} invalid row{'s' if skipped != 1 else ''} skipped" if skipped else ""
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(
                f"Imported {version.row_count:,} rows from {version.source_name} ({version.format}{note}).", 8000)

    def _on_import_done(self) -> None:
        self.import_task = None
        self.import_button.setEnabled(self.ctx is not None)
        self._start_next()

    def shutdown(self) -> None:
        self._queue.clear()
        if self.import_task is not None:
            self.import_task.cancel()
