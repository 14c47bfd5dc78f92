"""The per-item table: one row per suite item across the compared eval runs: its prompt, the
spread of the chosen metric between the runs (where they differ most), each run's score on
it, and the rating people gave the rated run's output. The proxy (the Runs table's) sorts by
value with empty cells last and filters on the prompt and outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from workbench.ui.evaluate.results_model import number
from workbench.ui.runs.table_model import FilterRole, SortRole, status_color

if TYPE_CHECKING:
    from workbench.services.eval_compare import ItemComparison

_Index = QModelIndex | QPersistentModelIndex
ItemRole = Qt.ItemDataRole.UserRole  # the row's ItemComparison
FIXED = ("#", "Prompt", "Spread")
SPREAD_COL = 2


def prompt_line(item_row: "ItemComparison") -> str:
    """The last user turn of the item's prompt, on one line."""
    messages = item_row.item.messages
    text = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"),
                messages[-1].get("content", "") if messages else "")
    return " ".join(str(text).split())


def rating_text(value: Optional[float], scale: str) -> str:
    if value is None:
        return ""
    if scale == "pass_fail":
        return "pass" if value >= 0.5 else "fail"
    return f"{value:g}"


class ItemsModel(QAbstractTableModel):
    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._items: list["ItemComparison"] = []
        self._runs: list[tuple[str, str]] = []  # (eval run id, label)
        self.metric = ""
        self._ratings: dict[str, tuple[float, str]] = {}  # item id -> (value, scale) of the rated run

    def set_items(self, items: list["ItemComparison"], runs: list[tuple[str, str]], metric: str) -> None:
        self.beginResetModel()
        self._items, self._runs, self.metric = list(items), list(runs), metric
        self.endResetModel()

    def set_metric(self, metric: str) -> None:
        if metric != self.metric:
            self.beginResetModel()  # every score column changes, and the sort with it
            self.metric = metric
            self.endResetModel()

    def set_ratings(self, ratings: dict[str, tuple[float, str]]) -> None:
        self._ratings = dict(ratings)
        if self._items:
            col = self.columnCount() - 1
            self.dataChanged.emit(self.index(0, col), self.index(len(self._items) - 1, col))

    def item_at(self, row: int) -> Optional["ItemComparison"]:
        return self._items[row] if 0 <= row < len(self._items) else None

    def row_of(self, item_id: str) -> int:
        return next((i for i, r in enumerate(self._items) if r.item.id == item_id), -1)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(FIXED) + len(self._runs) + 1

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or role not in (Qt.ItemDataRole.DisplayRole,
                                                                    Qt.ItemDataRole.ToolTipRole):
            return None
        if section < len(FIXED):
            if section == SPREAD_COL and role == Qt.ItemDataRole.ToolTipRole:
                return f"How far apart the models' {self.metric} scores are on the item (highest minus lowest)"
            return FIXED[section]
        run = section - len(FIXED)
        if run < len(self._runs):
            return self._runs[run][1] if role == Qt.ItemDataRole.DisplayRole else \
                f"{self._runs[run][1]}: its {self.metric} score on the item"
        return "Rated" if role == Qt.ItemDataRole.DisplayRole else "Your team's rating of the rated model's output"

    def _value(self, row: "ItemComparison", col: int) -> Any:
        if col == 0:
            return None
        if col == 1:
            return prompt_line(row)
        if col == SPREAD_COL:
            return row.spread.get(self.metric)
        run = col - len(FIXED)
        if run < len(self._runs):
            rid = self._runs[run][0]
            result = row.results.get(rid)
            if result is not None and result.error is not None:
                return "error"
            return row.score(rid, self.metric)
        rating = self._ratings.get(row.item.id)
        return rating_text(*rating) if rating else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.item_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:  # the item's place in the suite (the rows are in suite order)
                return str(index.row() + 1)
            value = self._value(row, col)
            return value if isinstance(value, str) else ("" if value is None else number(value))
        if role == SortRole:
            if col == 0:
                return index.row()
            value = self._value(row, col)
            return -1.0 if value == "error" else value  # an error sorts below every score
        if role == ItemRole:
            return row
        if role == FilterRole:
            outputs = " ".join(r.output or r.error or "" for r in row.results.values() if r is not None)
            return f"{prompt_line(row)} {' '.join(row.item.references)} {outputs}".casefold()
        if role == Qt.ItemDataRole.ForegroundRole and self._value(row, col) == "error":
            return QBrush(status_color("failed"))
        if role == Qt.ItemDataRole.TextAlignmentRole and col != 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col == 1:
            return prompt_line(row)
        return None
