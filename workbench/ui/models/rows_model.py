"""RowsModel: a dataset version's rows for a QTableView, fetched in pages as the view scrolls.

Only a short summary of each fetched row is kept (numbers and truncated texts), plus the full
rows of the most recent page, so memory stays small however long the dataset is; the full
conversation of a row is read back on demand (row_messages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Fetch = Callable[[int, int], list[dict[str, Any]]]  # (offset, limit) -> rows
COLUMNS = ("#", "Roles", "First user message", "First assistant reply")
PAGE_SIZE = 100
SUMMARY_CHARS = 160

_ROLE_SHORT = {"system": "S", "user": "U", "assistant": "A"}


@dataclass(frozen=True)
class RowSummary:
    index: int
    roles: str
    first_user: str
    first_assistant: str


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def summarize(row: dict[str, Any]) -> RowSummary:
    messages = row.get("messages") or []
    roles = " ".join(_ROLE_SHORT.get(str(m.get("role")), str(m.get("role", "?"))) for m in messages)
    first = {}
    for m in messages:
        first.setdefault(m.get("role"), str(m.get("content", "")))
    return RowSummary(int(row.get("index", 0)), roles, _one_line(first.get("user", "")),
                      _one_line(first.get("assistant", "")))


class RowsModel(QAbstractTableModel):
    def __init__(self, fetch: Optional[Fetch] = None, total: int = 0, page_size: int = PAGE_SIZE,
                 parent=None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._total = total
        self._page_size = page_size
        self._rows: list[RowSummary] = []
        self._page_offset = 0
        self._page: list[dict[str, Any]] = []
        self.fetch_calls = 0  # how many reads hit the store (tests check paging with it)

    def reset(self, fetch: Optional[Fetch], total: int) -> None:
        self.beginResetModel()
        self._fetch, self._total = fetch, total
        self._rows, self._page, self._page_offset = [], [], 0
        self.endResetModel()

    @property
    def total(self) -> int:
        return self._total

    # -- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        summary = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            col = index.column()
            if col == 0:
                return str(summary.index + 1)
            if col == 1:
                return summary.roles
            if col == 2:
                return summary.first_user
            return summary.first_assistant
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: N802
        return not parent.isValid() and self._fetch is not None and len(self._rows) < self._total

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:  # noqa: N802
        if not self.canFetchMore(parent):
            return
        offset = len(self._rows)
        limit = min(self._page_size, self._total - offset)
        rows = self._read(offset, limit)
        if not rows:
            self._total = offset  # the blob holds fewer rows than recorded: stop asking
            return
        self.beginInsertRows(QModelIndex(), offset, offset + len(rows) - 1)
        self._rows.extend(summarize(r) for r in rows)
        self.endInsertRows()

    # -- full rows -------------------------------------------------------------------------------
    def _read(self, offset: int, limit: int) -> list[dict[str, Any]]:
        assert self._fetch is not None
        self.fetch_calls += 1
        rows = self._fetch(offset, limit)
        self._page_offset, self._page = offset, rows
        return rows

    def full_row(self, row: int) -> Optional[dict[str, Any]]:
        """The whole row (messages + source) at view row `row`, read again if not cached."""
        if self._fetch is None or not 0 <= row < len(self._rows):
            return None
        if self._page_offset <= row < self._page_offset + len(self._page):
            return self._page[row - self._page_offset]
        # Read the page around the row, so neighbours selected next are served from cache.
        start = (row // self._page_size) * self._page_size
        rows = self._read(start, min(self._page_size, self._total - start))
        return rows[row - start] if 0 <= row - start < len(rows) else None
