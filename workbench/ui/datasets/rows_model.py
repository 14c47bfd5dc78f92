"""VirtualRowsModel: a dataset version's rows for a QTableView, however many there are.

rowCount() is the version's full row count from the start, so the scroll bar is true and a
jump to the end is instant; data() reads the fixed-size block (BLOCK_ROWS rows) that holds the
asked-for row through `fetch(offset, limit)` and keeps the last few blocks in an LRU cache.
The view only asks for the rows it paints, so scrolling a million rows reads a handful of
blocks and memory never holds more than CACHE_BLOCKS x BLOCK_ROWS rows.

Rows can be marked (search matches): they are drawn with a highlight background. A preference
version's rows (reset with pairs=True) show the chosen reply and, in a fifth column, the rejected one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from workbench.core.tool_calls import readable_messages

Fetch = Callable[[int, int], list[dict[str, Any]]]  # (offset, limit) -> rows
COLUMNS = ("#", "Roles", "First user message", "First assistant reply")
PAIR_COLUMNS = ("#", "Roles", "First user message", "Chosen reply", "Rejected reply")
BLOCK_ROWS = 256
CACHE_BLOCKS = 8
SUMMARY_CHARS = 160

_ROLE_SHORT = {"system": "S", "user": "U", "assistant": "A", "tool": "T"}


@dataclass(frozen=True)
class RowSummary:
    index: int
    roles: str
    first_user: str
    first_assistant: str
    rejected: str = ""  # a preference pair's rejected reply


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def summarize(row: dict[str, Any]) -> RowSummary:
    messages = readable_messages(row.get("messages") or [])  # a tool call reads as one
    roles = " ".join(_ROLE_SHORT.get(str(m.get("role")), str(m.get("role", "?"))) for m in messages)
    first: dict[Any, str] = {}
    for m in messages:
        first.setdefault(m.get("role"), str(m.get("content", "")))
    rejected = readable_messages(row.get("rejected") or [])
    if rejected:  # a pair: the chosen reply is the last turns, not the first assistant turn
        cut = len(messages)
        while cut > 0 and messages[cut - 1].get("role") == "assistant":
            cut -= 1
        first["assistant"] = "\n".join(str(m.get("content", "")) for m in messages[cut:])
    return RowSummary(int(row.get("index", 0)), roles, _one_line(first.get("user", "")),
                      _one_line(first.get("assistant", "")),
                      _one_line("\n".join(str(m.get("content", "")) for m in rejected)))


@dataclass
class _Block:
    rows: list[dict[str, Any]]
    summaries: list[RowSummary]


class VirtualRowsModel(QAbstractTableModel):
    def __init__(self, fetch: Optional[Fetch] = None, total: int = 0, block_rows: int = BLOCK_ROWS,
                 cache_blocks: int = CACHE_BLOCKS, parent=None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._total = total
        self.block_rows = block_rows
        self.cache_blocks = cache_blocks
        self._cache: OrderedDict[int, _Block] = OrderedDict()  # block number -> rows, LRU order
        self._marked: frozenset[int] = frozenset()
        self._mark_brush = QBrush(QColor(255, 214, 10, 90))
        self.read_error: Optional[BaseException] = None  # the last failed read (a damaged blob)
        self.columns = COLUMNS

    def reset(self, fetch: Optional[Fetch], total: int, pairs: bool = False) -> None:
        self.beginResetModel()
        self._fetch, self._total = fetch, total
        self.columns = PAIR_COLUMNS if pairs else COLUMNS
        self._cache.clear()
        self._marked = frozenset()
        self.read_error = None
        self.endResetModel()

    @property
    def total(self) -> int:
        return self._total

    def cached_blocks(self) -> list[int]:
        """Block numbers in the cache, least recently used first."""
        return list(self._cache)

    # -- search marks ----------------------------------------------------------------------------
    def set_marked(self, rows: Any) -> None:
        self._marked = frozenset(int(r) for r in rows)
        if self._total:
            self.dataChanged.emit(self.index(0, 0), self.index(self._total - 1, len(self.columns) - 1),
                                  [Qt.ItemDataRole.BackgroundRole])

    def set_mark_color(self, color: QColor) -> None:
        self._mark_brush = QBrush(color)

    # -- blocks ----------------------------------------------------------------------------------
    def _block(self, number: int) -> Optional[_Block]:
        block = self._cache.get(number)
        if block is not None:
            self._cache.move_to_end(number)
            return block
        if self._fetch is None:
            return None
        start = number * self.block_rows
        try:
            rows = self._fetch(start, min(self.block_rows, self._total - start))
        except Exception as exc:  # noqa: BLE001 - data() must not raise; the page reports it
            self.read_error = exc
            rows = []
        block = _Block(rows, [summarize(r) for r in rows])
        self._cache[number] = block
        while len(self._cache) > self.cache_blocks:
            self._cache.popitem(last=False)
        return block

    def summary(self, row: int) -> Optional[RowSummary]:
        if not 0 <= row < self._total:
            return None
        block = self._block(row // self.block_rows)
        offset = row % self.block_rows
        if block is None or offset >= len(block.summaries):
            return None
        return block.summaries[offset]

    def full_row(self, row: int) -> Optional[dict[str, Any]]:
        """The whole row (messages + source) at `row`, from its cached block or read again."""
        if not 0 <= row < self._total:
            return None
        block = self._block(row // self.block_rows)
        offset = row % self.block_rows
        if block is None or offset >= len(block.rows):
            return None
        return block.rows[offset]

    # -- Qt model API ----------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else self._total

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        # The tooltip too: a narrow column's title is elided ("First user me…").
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) \
                and orientation == Qt.Orientation.Horizontal:
            return self.columns[section] if 0 <= section < len(self.columns) else None
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._mark_brush if row in self._marked else None
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if col == 0 and role == Qt.ItemDataRole.DisplayRole:
            return str(row + 1)  # known without reading the block
        summary = self.summary(row)
        if summary is None:
            return None
        if col == 0:
            return str(summary.index + 1)
        if col == 1:
            return summary.roles
        return (summary.first_user, summary.first_assistant, summary.rejected)[col - 2]
