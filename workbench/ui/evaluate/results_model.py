"""The results table: one row per metric, one column per compared eval run (its model), each
cell the corpus value with its 95% bootstrap interval, the best of a row in bold; a last row
counts the items that failed (an error instead of an output).

Made from a services.eval_compare.Comparison in the GUI thread: formatting only, no reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

if TYPE_CHECKING:
    from workbench.services.eval_compare import Comparison

_Index = QModelIndex | QPersistentModelIndex
FAILED_ROW = "Failed items"


def number(value: Optional[float]) -> str:
    """A score as the tables show it: 4 significant digits, no exponent for ordinary values."""
    if value is None or value != value:
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) >= 0.001 else f"{value:.2e}"


def estimate_text(est: Any) -> str:
    if est is None:
        return "—"
    return f"{number(est.value)}  [{number(est.low)}, {number(est.high)}]"


class ResultsModel(QAbstractTableModel):
    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._runs: list[tuple[str, str]] = []  # (eval run id, model label)
        self._rows: list[tuple[str, str, list[str], Optional[int], str]] = []  # key, title, cells, best col, tip
        self._bold = QFont()
        self._bold.setBold(True)

    def set_comparison(self, comparison: Optional["Comparison"], titles: dict[str, tuple[str, bool]]) -> None:
        """`titles`: metric name -> (title, higher is better)."""
        self.beginResetModel()
        self._runs, self._rows = [], []
        if comparison is not None:
            self._runs = [(r.id, r.label or r.id[:8]) for r in comparison.runs]
            ids = [rid for rid, _ in self._runs]
            for metric in comparison.metrics:
                cells = [estimate_text(comparison.table.get(rid, {}).get(metric)) for rid in ids]
                title, higher = titles.get(metric, (metric, True))
                # Neither higher nor lower is better (e.g. length): no best to show.
                best = comparison.best(metric) if len(ids) > 1 and higher is not None else None
                values = [e.value for rid in ids if (e := comparison.table.get(rid, {}).get(metric)) is not None]
                if best is not None and values.count(comparison.table[best][metric].value) > 1:
                    best = None  # a tie: none is best
                arrow = "" if higher is None else (" ↑" if higher else " ↓")
                better = "neither higher nor lower is better" if higher is None else \
                    f"{'higher' if higher else 'lower'} is better"
                tip = f"{title} ({metric}): {better}. Each cell is the value over the items, with its 95% " \
                      "bootstrap interval."
                self._rows.append((metric, f"{title}{arrow}", cells, ids.index(best) if best in ids else None, tip))
            failed = [str(comparison.failed.get(rid, 0)) for rid in ids]
            self._rows.append((FAILED_ROW, FAILED_ROW, failed, None,
                               "Items that have an error instead of an output (the others still score)"))
        self.endResetModel()

    def metric_keys(self) -> list[str]:
        return [key for key, *_ in self._rows]

    def cell(self, key: str, run_index: int) -> str:
        return next(cells for k, _t, cells, _b, _tip in self._rows if k == key)[run_index]

    def best_column(self, key: str) -> Optional[int]:
        return next(best for k, _t, _c, best, _tip in self._rows if k == key)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._runs):
            return self._runs[section][1]
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._rows):
            _key, title, _cells, _best, tip = self._rows[section]
            return tip if role == Qt.ItemDataRole.ToolTipRole else title
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        _key, _title, cells, best, tip = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return cells[index.column()] if role == Qt.ItemDataRole.DisplayRole else tip
        if role == Qt.ItemDataRole.FontRole and best == index.column():
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
