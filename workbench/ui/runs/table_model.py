"""The Runs table as an item model: one row per run (services.run_views.RunRow).

A live run changes its row many times a second; update_run() emits dataChanged for that row
only, and set_rows() resets the model only when the list of runs itself changed (a run added,
removed or reordered), so the view keeps its selection, scroll position and sort. The proxy
sorts by value (numbers as numbers, empty cells last) and filters on name, base model, dataset,
tags and status.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionProgressBar

from workbench.core.failures import FAILURE_LABELS
from workbench.core.records import Run
from workbench.ui.common import theme

if TYPE_CHECKING:
    from workbench.services.run_views import RunRow

_Index = QModelIndex | QPersistentModelIndex

RunIdRole = Qt.ItemDataRole.UserRole
SortRole = Qt.ItemDataRole.UserRole + 1
ProgressRole = Qt.ItemDataRole.UserRole + 2  # a fraction 0..1 while the run trains, else None
FilterRole = Qt.ItemDataRole.UserRole + 3


def status_text(run: Run) -> str:
    """The status as the table shows it: why it failed beside "failed" (e.g. failed · Out of memory)."""
    label = FAILURE_LABELS.get(run.failure_kind or "")
    return f"{run.status} · {label}" if label else run.status


def duration_text(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def memory_text(n: Optional[int]) -> str:
    if not n:
        return ""
    from workbench.core.memory_estimate import gb

    return gb(n)


def _loss(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.4f}"


def _when(run: Run) -> str:
    return (run.started_at or run.created_at or "")[:16].replace("T", " ")


def steps_text(run: Run) -> str:
    if run.total_steps:
        return f"{run.step:,} / {run.total_steps:,}"
    return f"{run.step:,}" if run.step else ""


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    text: Callable[["RunRow"], str]
    value: Callable[["RunRow"], Any]  # what the column sorts by (None: empty, sorts last)
    numeric: bool = False
    tip: str = ""


def _duration(row: "RunRow") -> Optional[float]:
    return row.run.duration_s(time.time())


COLUMNS: tuple[Column, ...] = (
    Column("name", "Name", lambda r: r.run.name, lambda r: r.run.name.casefold()),
    Column("status", "Status", lambda r: status_text(r.run), lambda r: status_text(r.run)),
    Column("steps", "Steps", lambda r: steps_text(r.run), lambda r: r.run.step, True,
           "Steps trained of the run's total (a bar while it trains)"),
    Column("model", "Base model", lambda r: r.model_name, lambda r: r.model_name.casefold()),
    Column("dataset", "Dataset", lambda r: r.dataset_title, lambda r: r.dataset_title.casefold(),
           tip="The dataset version it trains on"),
    Column("author", "Author", lambda r: r.run.created_by, lambda r: r.run.created_by.casefold()),
    Column("started", "Started", lambda r: _when(r.run), lambda r: r.run.started_at or r.run.created_at,
           tip="When it started (a queued run: when it was queued)"),
    Column("duration", "Duration", lambda r: duration_text(_duration(r)), _duration, True),
    Column("tokens_per_s", "Tokens/s", lambda r: f"{r.run.tokens_per_s:,.0f}" if r.run.tokens_per_s else "",
           lambda r: r.run.tokens_per_s, True, "Training throughput (the latest measured)"),
    Column("last_loss", "Loss", lambda r: _loss(r.run.last_loss), lambda r: r.run.last_loss, True,
           "The last training loss"),
    Column("best_loss", "Best loss", lambda r: _loss(r.run.best_loss), lambda r: r.run.best_loss, True,
           "The lowest training loss"),
    Column("best_eval_loss", "Best eval loss", lambda r: _loss(r.run.best_eval_loss),
           lambda r: r.run.best_eval_loss, True, "The lowest loss on the validation split"),
    Column("peak_memory", "Peak memory", lambda r: memory_text(r.run.peak_memory_bytes),
           lambda r: r.run.peak_memory_bytes, True, "The most memory the training process used"),
    Column("gate", "Gate", lambda r: r.gate, lambda r: r.gate or None,
           tip="Its regression gate on an eval suite: passed, failed or pending (the Gate tab has the scores)"),
    Column("tags", "Tags", lambda r: ", ".join(r.run.tags), lambda r: ", ".join(r.run.tags).casefold()),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
NAME_COL = COLUMN_KEYS.index("name")
STATUS_COL = COLUMN_KEYS.index("status")
GATE_COL = COLUMN_KEYS.index("gate")
STEPS_COL = COLUMN_KEYS.index("steps")
DURATION_COL = COLUMN_KEYS.index("duration")

# Status colours readable on both themes' backgrounds.
_STATUS_COLORS = {
    "light": {"running": "#1d4ed8", "queued": "#1d4ed8", "completed": "#15803d", "failed": "#b91c1c",
              "interrupted": "#b45309", "cancelled": "#6b7280"},
    "dark": {"running": "#60a5fa", "queued": "#60a5fa", "completed": "#4ade80", "failed": "#f87171",
             "interrupted": "#fbbf24", "cancelled": "#9ca3af"},
}


def status_color(status: str) -> QColor:
    colors = _STATUS_COLORS["dark" if theme.current_theme() == "dark" else "light"]
    return QColor(colors.get(status, colors["cancelled"]))


class RunTableModel(QAbstractTableModel):
    """Every run of the project, newest first, as RunRows."""

    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._rows: list["RunRow"] = []
        self._index: dict[str, int] = {}  # run id -> row
        self.resets = 0  # how often the whole model was reset (tests: not per progress tick)
        # Each row's cell texts, made once per change of the row: a repaint asks data() for every
        # cell and role through Python (hundreds of calls), so it must not format them each time.
        self._texts: dict[int, tuple[str, ...]] = {}
        self._flags: Optional[tuple[Qt.ItemFlag, Qt.ItemFlag]] = None  # (other cells, the name cell)
        self.rename: Optional[Callable[[str, str], bool]] = None  # (run id, new name) -> accepted

    # -- contents ------------------------------------------------------------------------------
    def set_rows(self, rows: list["RunRow"]) -> None:
        """The project's runs: a reset when the list changed, else one dataChanged per changed row."""
        if [r.run.id for r in rows] != [r.run.id for r in self._rows]:
            self.beginResetModel()
            self._rows = list(rows)
            self._index = {r.run.id: i for i, r in enumerate(self._rows)}
            self._texts.clear()
            self.resets += 1
            self.endResetModel()
            return
        for i, row in enumerate(rows):
            if row != self._rows[i]:
                self._rows[i] = row
                self._row_changed(i)

    def update_run(self, run: Run) -> bool:
        """A run's new record (from ctx.run_changed): its row only. False if it is not listed."""
        i = self._index.get(run.id)
        if i is None:
            return False
        if self._rows[i].run != run:
            self._rows[i] = dataclasses.replace(self._rows[i], run=run)
            self._row_changed(i)
        return True

    def tick_durations(self) -> None:
        """A running run's duration grows by itself: repaint that cell of the active rows."""
        for i, row in enumerate(self._rows):
            if row.run.status == "running":
                index = self.index(i, DURATION_COL)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    def _row_changed(self, i: int) -> None:
        self._texts.pop(i, None)
        self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def rows(self) -> list["RunRow"]:
        return list(self._rows)

    def row_at(self, i: int) -> Optional["RunRow"]:
        return self._rows[i] if 0 <= i < len(self._rows) else None

    def row_of(self, run_id: str) -> int:
        return self._index.get(run_id, -1)

    def find(self, run_id: str) -> Optional["RunRow"]:
        return self.row_at(self.row_of(run_id))

    # -- Qt ------------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tip or column.title
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return super().flags(index)
        if self._flags is None:
            plain = super().flags(index)
            self._flags = (plain, plain | Qt.ItemFlag.ItemIsEditable)  # F2 renames
        return self._flags[index.column() == NAME_COL]

    def _text(self, i: int, row: "RunRow", column: int) -> str:
        if column == DURATION_COL:  # a running run's duration grows by itself
            return COLUMNS[column].text(row)
        texts = self._texts.get(i)
        if texts is None:
            texts = self._texts[i] = tuple(c.text(row) for c in COLUMNS)
        return texts[column]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row()) if index.isValid() else None
        if row is None:
            return None
        column = COLUMNS[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._text(index.row(), row, index.column())
        if role == SortRole:
            return column.value(row)
        if role == RunIdRole:
            return row.run.id
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == STATUS_COL:
            return QBrush(status_color(row.run.status))
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == GATE_COL and row.gate:
            # A gate's states read in the status colours: passed green, failed red, pending blue.
            return QBrush(status_color({"passed": "completed", "pending": "running"}.get(row.gate, row.gate)))
        if role == ProgressRole and index.column() == STEPS_COL:
            run = row.run
            return run.progress if run.status == "running" and run.total_steps else None
        if role == FilterRole:
            r = row.run
            return " ".join((r.name, row.model_name, row.dataset_title, status_text(r), *r.tags,
                             f"gate {row.gate}" if row.gate else "")).casefold()
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == STATUS_COL and row.run.error:
                return row.run.error_message.splitlines()[0]
            if index.column() == NAME_COL and row.run.notes:
                return row.run.notes
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() != NAME_COL:
            return False
        row = self.row_at(index.row())
        name = str(value).strip()
        if row is None or self.rename is None or name == row.run.name:
            return False
        return bool(self.rename(row.run.id, name))  # the page renames; ctx.run_changed updates the row


class RunFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's value (numbers as numbers; empty cells after the others whichever
    way it sorts) and keeps the rows whose name, model, dataset, status or tags hold every word
    of the filter text."""

    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.setDynamicSortFilter(True)
        self._words: tuple[str, ...] = ()

    def set_filter_text(self, text: str) -> None:
        words = tuple(text.casefold().split())
        if words != self._words:
            self.beginFilterChange()
            self._words = words
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filter_text(self) -> str:
        return " ".join(self._words)

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if not self._words:
            return True
        hay = self.sourceModel().index(source_row, 0, source_parent).data(FilterRole) or ""
        return all(w in hay for w in self._words)

    def lessThan(self, left: _Index, right: _Index) -> bool:
        a, b = left.data(SortRole), right.data(SortRole)
        if a is None or b is None:
            # Empty cells go last in either order: "less" flips with the order, so answer it.
            descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
            if a is None and b is None:
                return False
            return (a is None) if descending else (b is None)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


class ProgressDelegate(QStyledItemDelegate):
    """Draws a training run's Steps cell as a progress bar with its "step / total" text."""

    def paint(self, painter, option, index) -> None:
        fraction = index.data(ProgressRole)
        if fraction is None:
            return super().paint(painter, option, index)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(max(0.0, min(1.0, float(fraction))) * 1000)
        bar.text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)
