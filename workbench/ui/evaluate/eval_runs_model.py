"""The suite's eval runs as an item model and its table: one row per eval run (model, status,
items done as a progress bar while it runs, failed items, when). A live eval run's row follows
ctx.eval_progress (update_run: that row only); the list reloads on ctx.evals_changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from workbench.ui.runs.table_model import ProgressDelegate, ProgressRole, status_color

if TYPE_CHECKING:
    from workbench.core.eval_records import EvalRun

_Index = QModelIndex | QPersistentModelIndex
EvalRunIdRole = Qt.ItemDataRole.UserRole
COLUMNS = ("Model", "Status", "Items", "Failed", "Started", "By")
STATUS_COL, ITEMS_COL = 1, 2


def items_text(run: "EvalRun") -> str:
    return f"{run.done_items:,} / {run.total_items:,}" if run.total_items else f"{run.done_items:,}"


def status_text(run: "EvalRun") -> str:
    return f"{run.status} · {run.error.splitlines()[0]}" if run.status == "failed" and run.error else run.status


class EvalRunsModel(QAbstractTableModel):
    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._runs: list["EvalRun"] = []
        self._index: dict[str, int] = {}

    def set_runs(self, runs: list["EvalRun"]) -> None:
        if [r.id for r in runs] != [r.id for r in self._runs]:
            self.beginResetModel()
            self._runs = list(runs)
            self._index = {r.id: i for i, r in enumerate(self._runs)}
            self.endResetModel()
            return
        for run in runs:
            self.update_run(run)

    def update_run(self, run: "EvalRun") -> bool:
        """A listed eval run's new record: its row only. False when it is not listed."""
        i = self._index.get(run.id)
        if i is None:
            return False
        if self._runs[i] != run:
            self._runs[i] = run
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
        return True

    def runs(self) -> list["EvalRun"]:
        return list(self._runs)

    def run_at(self, row: int) -> Optional["EvalRun"]:
        return self._runs[row] if 0 <= row < len(self._runs) else None

    def row_of(self, eval_run_id: str) -> int:
        return self._index.get(eval_run_id, -1)

    def find(self, eval_run_id: str) -> Optional["EvalRun"]:
        return self.run_at(self.row_of(eval_run_id))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and section < len(COLUMNS):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        run = self.run_at(index.row()) if index.isValid() else None
        if run is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (run.label or run.id[:8], status_text(run), items_text(run), str(run.failed_items or ""),
                    (run.started_at or run.created_at or "")[:16].replace("T", " "), run.created_by)[col]
        if role == EvalRunIdRole:
            return run.id
        if role == ProgressRole and col == ITEMS_COL:
            return run.done_items / run.total_items if run.status == "running" and run.total_items else None
        if role == Qt.ItemDataRole.ForegroundRole and col == STATUS_COL:
            return QBrush(status_color(run.status))
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == STATUS_COL and run.error:
                return "\n\n".join(t for t in (run.error, run.error_advice) if t)
            if col == 0:
                return f"{run.label}\nEval run {run.id}"
        return None


class EvalRunsView(QTableView):
    """The eval runs table: several rows selected are the eval runs compared (Ctrl+click)."""

    def __init__(self, model: EvalRunsModel, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("evalRuns")
        self.runs = model
        self.setModel(model)
        self.setItemDelegateForColumn(ITEMS_COL, ProgressDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [run.id for run in (self.runs.run_at(r) for r in rows) if run is not None]

    def current_run(self) -> Optional["EvalRun"]:
        index = self.currentIndex()
        return self.runs.find(index.data(EvalRunIdRole)) if index.isValid() else None

    def select_ids(self, ids: list[str]) -> None:
        """Select these eval runs (the first of them current); the others are deselected."""
        selection = QItemSelection()
        rows = [r for r in (self.runs.row_of(i) for i in ids) if r >= 0]
        for row in rows:
            selection.select(self.runs.index(row, 0), self.runs.index(row, self.runs.columnCount() - 1))
        self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if rows:
            self.selectionModel().setCurrentIndex(self.runs.index(rows[0], 0),
                                                  QItemSelectionModel.SelectionFlag.NoUpdate)


def default_selection(runs: list["EvalRun"]) -> list[str]:
    """The newest eval run of each model that did not fail (`runs` newest first): what a suite
    compares when it is chosen."""
    seen, out = set(), []
    for run in runs:
        key = (run.model.base_model_id, run.model.run_id, run.model.checkpoint)
        if key not in seen and run.status != "failed":
            seen.add(key)
            out.append(run.id)
    return list(reversed(out))
