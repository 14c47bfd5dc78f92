"""Datasets: import (dialog: preview, format override, column mapping, invalid rows), the
versions with their lineage, clean / split / export a version, a virtual preview of any number
of rows with text search, and what the model sees (chat template, statistics)."""

from __future__ import annotations

import os
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import DataImportError
from workbench.core.records import DatasetVersion, version_numbers
from workbench.ui.shell.context import ProjectContext
from workbench.ui.common.errors import show_error
from workbench.ui.datasets.rows_model import VirtualRowsModel
from workbench.ui.common.page import Page, heading, hint, record_table
from workbench.ui.datasets.model_sees.panel import ModelSeesPanel
from workbench.ui.datasets.row_search import RowSearch
from workbench.ui.common.workers import InlineProgress, Task, run_task

VERSION_COLUMNS = ("Version", "Rows", "Kind", "How it was made", "Format", "Created by", "Created at")
KIND_LABELS = {"sft": "SFT", "preference": "Preference"}  # DatasetVersion.kind as the list shows it


def droppable(path: str) -> bool:
    """A folder or a file of a type some reader takes (the reader registry decides)."""
    from workbench.services import datasets

    return datasets.is_dataset_path(path)


class DatasetsPage(Page):
    title = "Datasets"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.import_task: Optional[Task] = None  # a direct import (import_files)
        self.dialog: Any = None  # the open Import / Clean / Split / Export dialog
        self._queue: list[tuple[str, str]] = []  # direct imports waiting: (path, on_invalid)
        self._drops: list[str] = []  # dropped paths waiting for their import dialog
        self._versions: list[DatasetVersion] = []

        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("primary")
        self.import_button.clicked.connect(self.choose_and_import)
        self.clean_button = QPushButton("Clean…")
        self.clean_button.clicked.connect(self.clean_selected)
        self.split_button = QPushButton("Split…")
        self.split_button.clicked.connect(self.split_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.export_selected)
        self.progress = InlineProgress()
        top = QHBoxLayout()
        top.addWidget(heading("Datasets"))
        top.addStretch(1)
        for b in (self.clean_button, self.split_button, self.export_button, self.import_button):
            top.addWidget(b)

        self.versions_table = record_table(VERSION_COLUMNS, "versionsTable")
        self.versions_table.itemSelectionChanged.connect(self._on_version_selected)

        self.rows_model = VirtualRowsModel()
        self.rows_view = QTableView()
        self.rows_view.setObjectName("rowsView")
        self.rows_view.setModel(self.rows_model)
        self.rows_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rows_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.rows_view.verticalHeader().hide()
        self.rows_view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.rows_view.setWordWrap(False)
        self.rows_view.setAlternatingRowColors(True)
        header = self.rows_view.horizontalHeader()
        # Fixed and stretched sections only: sizing to contents would read rows off screen.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, self.fontMetrics().horizontalAdvance("0000000") + 12)
        header.resizeSection(1, self.fontMetrics().horizontalAdvance("S U A U A") + 16)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.rows_view.selectionModel().currentRowChanged.connect(self._on_row_selected)
        self.rows_label = QLabel("Rows")
        self.search = RowSearch(self)
        self.search.goto.connect(self.go_to_row)
        self.search.matches_changed.connect(self.rows_model.set_marked)
        self.inspector = ModelSeesPanel()
        self.conversation = self.inspector.conversation

        rows_box = QWidget()
        rows_layout = QVBoxLayout(rows_box)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.addWidget(self.rows_label)
        rows_layout.addWidget(self.search)
        rows_layout.addWidget(self.rows_view)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(rows_box)
        bottom.addWidget(self.inspector)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.versions_table)
        splitter.addWidget(bottom)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 4)
        splitter.setSizes([160, 600])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint("Import chat data (JSONL, JSON, CSV/TSV, Parquet, Arrow, text files or a folder of "
                              "them; OpenAI messages, ShareGPT, Alpaca, prompt/completion, preference pairs with "
                              "chosen/rejected, or map the columns yourself) or drop it onto the window. Versions never change: cleaning and "
                              "splitting make new ones."))
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)
        self._update_actions()

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self._queue.clear()
        self._drops.clear()
        self.inspector.set_store(ctx.store if ctx else None)
        if ctx is not None:
            self.connect_ctx(ctx.models_changed, self.inspector.refresh_models)
        self.refresh()

    def refresh(self, select_id: Optional[str] = None) -> None:
        """The versions, each dataset's in lineage order (derived ones under their parent)."""
        table = self.versions_table
        if select_id is None:
            current = self.selected_version()
            select_id = current.id if current else None
        entries: list[tuple[Any, int, str, str]] = []
        if self.ctx is not None:
            from workbench.services import dataset_ops

            for lineage in dataset_ops.lineage(self.ctx.store):
                for e in lineage.entries:
                    entries.append((e.version, e.depth, e.how, lineage.dataset.name))
        self._versions = [e[0] for e in entries]
        numbers = version_numbers(self._versions)  # the "v2" that pickers name parents by
        table.blockSignals(True)
        table.setRowCount(len(entries))
        for i, (v, depth, how, name) in enumerate(entries):
            label = (f"{name} v{numbers[v.id]}" if depth == 0 else
                     "    " * (depth - 1) + f"  ↳ v{numbers[v.id]} {v.derivation.label}")
            cells = (label, f"{v.row_count:,}", KIND_LABELS.get(v.kind, v.kind), how, v.format, v.created_by,
                     v.created_at[:19].replace("T", " "))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if j == 0:
                    item.setToolTip(f"{name} · version {v.id}" + (f" · parent {v.parent_id}" if v.parent_id else ""))
                if j == 2 and v.kind == "preference":
                    item.setToolTip("Preference pairs: a prompt, a chosen and a rejected reply (DPO training)")
                table.setItem(i, j, item)
        for col in range(table.columnCount() - 1):
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

    def _update_actions(self) -> None:
        on = self.selected_version() is not None and self.ctx is not None
        for b in (self.clean_button, self.split_button, self.export_button):
            b.setEnabled(on)
        self.import_button.setEnabled(self.ctx is not None and self.import_task is None)

    def _on_version_selected(self) -> None:
        version = self.selected_version()
        self._update_actions()
        self.inspector.set_version(version)
        if version is None or self.ctx is None:
            self.rows_model.reset(None, 0)
            self.search.set_source(None, None, self.current_row)
            self.rows_label.setText("Rows")
            return
        from workbench.services import datasets as dataset_service

        store, vid = self.ctx.store, version.id
        pairs = version.kind == "preference"
        self.rows_model.reset(lambda off, lim: dataset_service.read_rows(store, vid, off, lim), version.row_count,
                              pairs=pairs)
        if pairs:  # the rejected reply's column shares the width with the chosen one
            self.rows_view.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.search.set_source(store, vid, self.current_row)
        self.rows_label.setText(f"Rows ({version.row_count:,})")
        if version.row_count:
            self.rows_view.selectRow(0)

    def current_row(self) -> int:
        index = self.rows_view.currentIndex()
        return index.row() if index.isValid() else -1

    def go_to_row(self, row: int) -> None:
        index = self.rows_model.index(row, 0)
        self.rows_view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.rows_view.selectRow(row)

    def _on_row_selected(self, current, _previous=None) -> None:
        if not current.isValid():
            self.inspector.set_row(-1, None)
            return
        row = self.rows_model.full_row(current.row())
        if self.rows_model.read_error is not None:
            exc, self.rows_model.read_error = self.rows_model.read_error, None
            show_error(self, exc)  # a damaged blob, shown once per failed read
        self.inspector.set_row(current.row(), row)
        self.search.row_changed(current.row())

    def theme_changed(self) -> None:
        self.inspector.theme_changed()

    # -- dialogs ---------------------------------------------------------------------------------
    def _open(self, dialog: Any) -> Any:
        # One dialog at a time; the previous one is deleted now, not when it closed, so its
        # results stay readable until the next dialog opens.
        previous, self.dialog = self.dialog, dialog
        if previous is not None:
            previous.finished.disconnect(self._dialog_closed)  # replaced, not closed by the user
            previous.close()
            previous.deleteLater()
        dialog.finished.connect(self._dialog_closed)
        dialog.open()
        return dialog

    def dialog_open(self) -> bool:
        return self.dialog is not None and self.dialog.isVisible()

    def _dialog_closed(self, _result: int = 0) -> None:
        if self._drops and not self.dialog_open():
            self.open_import_dialog(self._drops.pop(0))

    def open_import_dialog(self, path: str = "") -> Any:
        from workbench.ui.datasets.import_wizard.dialog import ImportDialog

        if self.ctx is None:
            return None
        dialog = ImportDialog(self.ctx.store, path, self)
        dialog.imported.connect(self._on_imported)
        return self._open(dialog)

    def choose_and_import(self) -> None:
        self.open_import_dialog()

    def import_dropped(self, paths: list[str]) -> None:
        """Dropped files/folders: an import dialog for each, one after the other."""
        paths = [p for p in paths if droppable(p)]
        if not paths or self.ctx is None:
            return
        if self.dialog_open():
            self._drops.extend(paths)
        else:
            self._drops.extend(paths[1:])
            self.open_import_dialog(paths[0])

    def clean_selected(self) -> Any:
        from workbench.ui.datasets.clean_dialog import CleanDialog

        version = self.selected_version()
        if version is None or self.ctx is None:
            return None
        from workbench.services import models

        dialog = CleanDialog(self.ctx.store, version, models.base_models(self.ctx.store), self)
        dialog.version_created.connect(lambda v: self._on_derived(v, "Cleaned"))
        return self._open(dialog)

    def split_selected(self) -> Any:
        from workbench.ui.datasets.split_dialog import SplitDialog

        version = self.selected_version()
        if version is None or self.ctx is None:
            return None
        dialog = SplitDialog(self.ctx.store, version, self)
        dialog.versions_created.connect(lambda vs: self._on_derived(vs.get("train"), "Split", select=False))
        return self._open(dialog)

    def export_selected(self) -> Any:
        from workbench.ui.datasets.export_dialog import ExportDialog

        version = self.selected_version()
        if version is None or self.ctx is None:
            return None
        folder = os.path.dirname(self.ctx.path)
        return self._open(ExportDialog(self.ctx.store, version, folder, self))

    def _on_derived(self, version: Optional[DatasetVersion], what: str, select: bool = True) -> None:
        if self.ctx is None or version is None:
            return
        self.refresh(select_id=version.id if select else None)
        self.ctx.datasets_changed.emit()
        self._status(f"{what}: version with {version.row_count:,} rows.")

    def _status(self, text: str) -> None:
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(text, 8000)

    # -- importing without the dialog (scripts, the skip-invalid offer) ---------------------------
    def import_files(self, files: list[str], on_invalid: str = "abort") -> None:
        """Import each file in turn with detected settings (one worker at a time).

        on_invalid="abort" refuses a file with invalid rows (the error offers to skip them);
        "skip" imports the valid rows and reports how many were skipped."""
        self._queue.extend((f, on_invalid) for f in files)
        if self.import_task is None:
            self._start_next()

    def _start_next(self) -> None:
        if not self._queue or self.ctx is None:
            return
        path, on_invalid = self._queue.pop(0)
        from workbench.services import dataset_view

        task = run_task(dataset_view.import_checked, self.ctx.store, path, on_invalid=on_invalid,
                        name=f"import {path}")
        self.import_task = task
        self._update_actions()
        self.progress.follow(task, f"Importing {os.path.basename(path)}…")
        task.finished.connect(lambda attempt: self._direct_done(path, attempt))
        task.failed.connect(lambda exc: show_error(self, exc, "Import failed"))
        task.cancelled.connect(self._queue.clear)
        task.done.connect(self._on_import_done)

    def _direct_done(self, path: str, attempt: Any) -> None:
        if attempt.version is not None:
            self._on_imported(attempt.version, attempt.reused)
            return
        exc = attempt.refusal or DataImportError(f"{os.path.basename(path)} has invalid rows.")
        show_error(self, exc, "Import failed",
                   actions=[("Import Skipping Invalid Rows", lambda: self.import_files([path], "skip"))])

    def _on_import_done(self) -> None:
        self.import_task = None
        self._update_actions()
        self._start_next()

    def _on_imported(self, version: DatasetVersion, reused: bool = False) -> None:
        if self.ctx is None:
            return
        self.refresh(select_id=version.id)
        self.ctx.datasets_changed.emit()
        if reused:
            self._status(f"{version.source_name} was imported before: the existing version is selected.")
            return
        skipped = version.derivation.skipped_rows
        note = f", {skipped} invalid row{'s' if skipped != 1 else ''} skipped" if skipped else ""
        self._status(f"Imported {version.row_count:,} rows from {version.source_name} ({version.format}{note}).")

    def shutdown(self) -> None:
        self._queue.clear()
        self._drops.clear()
        self.search.cancel()
        self.inspector.shutdown()
        if self.import_task is not None:
            self.import_task.cancel()
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
