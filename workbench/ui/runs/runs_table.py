"""The Runs table view: the run model behind its sort/filter proxy, several rows selectable
(Ctrl/Shift+click), sorted by a header click, and the selection read and set as run ids."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from workbench.core.records import Run
from workbench.ui.runs.table_model import (
    COLUMN_KEYS,
    NAME_COL,
    STEPS_COL,
    ProgressDelegate,
    RunFilterProxy,
    RunIdRole,
    RunTableModel,
)

_WIDTHS = (("name", 170), ("status", 150), ("steps", 110), ("model", 130), ("dataset", 160), ("started", 125))


class RunsTable(QTableView):
    selection_changed = Signal()  # the selected rows or the current one changed
    sort_changed = Signal()  # the sort, a column's width or the columns' order changed

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsTable")
        self.runs = RunTableModel(self)
        self.proxy = RunFilterProxy(self)
        self.proxy.setSourceModel(self.runs)
        self.setModel(self.proxy)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)  # F2 is the Rename action
        self.verticalHeader().hide()
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setItemDelegateForColumn(STEPS_COL, ProgressDelegate(self))
        header = self.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # newest first until a header is clicked
        self.setSortingEnabled(True)
        header.setSectionsMovable(True)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.sortIndicatorChanged.connect(lambda *_: self.sort_changed.emit())
        # A column resized or moved is remembered too.
        header.sectionResized.connect(lambda *_: self.sort_changed.emit())
        header.sectionMoved.connect(lambda *_: self.sort_changed.emit())
        for key, width in _WIDTHS:
            self.setColumnWidth(COLUMN_KEYS.index(key), width)
        self.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())
        self.selectionModel().currentRowChanged.connect(lambda *_: self.selection_changed.emit())
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def _run_at(self, proxy_row: int) -> Optional[Run]:
        row = self.runs.row_at(self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row())
        return row.run if row is not None else None

    def selected_runs(self) -> list[Run]:
        """The selected runs in the table's order."""
        rows = sorted(i.row() for i in self.selectionModel().selectedRows())
        return [run for run in (self._run_at(r) for r in rows) if run is not None]

    def current_run(self) -> Optional[Run]:
        """The run single-run commands act on: the current row if selected, else the first."""
        current = self.selectionModel().currentIndex()
        if current.isValid() and self.selectionModel().isRowSelected(current.row(), current.parent()):
            run = self._run_at(current.row())
            if run is not None:
                return run
        runs = self.selected_runs()
        return runs[0] if runs else None

    def first_run_id(self) -> Optional[str]:
        return self.proxy.index(0, 0).data(RunIdRole) if self.proxy.rowCount() else None

    def select_ids(self, run_ids: list[str], current: Optional[str] = None) -> None:
        """Select these runs (those listed and shown), `current` the current row; one
        selection_changed after, not one per row."""
        selection = QItemSelection()
        first = None
        for run_id in run_ids:
            row = self.runs.row_of(run_id)
            index = self.proxy.mapFromSource(self.runs.index(row, 0)) if row >= 0 else None
            if index is not None and index.isValid():
                selection.select(index, index)
                if first is None or run_id == current:
                    first = index
        model = self.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        model.blockSignals(True)
        model.select(selection, flags.ClearAndSelect | flags.Rows)
        if first is not None:
            model.setCurrentIndex(first, flags.NoUpdate)
        model.blockSignals(False)
        self.viewport().update()
        if first is not None:
            self.scrollTo(first)
        self.selection_changed.emit()

    def edit_name(self, run_id: str) -> None:
        index = self.proxy.mapFromSource(self.runs.index(self.runs.row_of(run_id), NAME_COL))
        self.setCurrentIndex(index)
        self.edit(index)

    def sort_state(self) -> tuple[str, bool]:
        """(column key or "" for the project's newest-first order, descending)."""
        header = self.horizontalHeader()
        section = header.sortIndicatorSection()
        key = COLUMN_KEYS[section] if 0 <= section < len(COLUMN_KEYS) else ""
        return key, header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder

    def columns_state(self) -> str:
        """Column widths and order (the header's own state), as text for the settings."""
        return bytes(self.horizontalHeader().saveState().toBase64()).decode("ascii")

    def restore_columns(self, state: str) -> None:
        if state:
            from PySide6.QtCore import QByteArray

            self.horizontalHeader().restoreState(QByteArray.fromBase64(state.encode("ascii")))

    def restore_sort(self, key: str, descending: bool) -> None:
        if key in COLUMN_KEYS:
            self.sortByColumn(COLUMN_KEYS.index(key),
                              Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
