"""The Compare tab: for two or more runs, the settings that differ between them (only those) and
a summary of their final and best metrics, one column per run in the chart's colour.

Both come from the Run records the page already holds (services.run_compare): no store reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from workbench.ui.common.page import hint
from workbench.ui.runs.table_model import duration_text, memory_text

if TYPE_CHECKING:
    from workbench.services.run_compare import RunSummary
    from workbench.services.run_views import RunRow

_Index = QModelIndex | QPersistentModelIndex


def _loss(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.4f}"


# The summary's rows: (title, how a RunSummary's value reads, its field); a row no run has a
# value for is left out.
SUMMARY_ROWS: tuple[tuple[str, Any, str], ...] = (
    ("Final train loss", lambda s: _loss(s.final_loss), "final_loss"),
    ("Best train loss", lambda s: _loss(s.best_loss), "best_loss"),
    ("Final eval loss", lambda s: _loss(s.final_eval_loss), "final_eval_loss"),
    ("Best eval loss", lambda s: _loss(s.best_eval_loss), "best_eval_loss"),
    ("Steps", lambda s: f"{s.steps:,}" if s.steps else "", "steps"),
    ("Tokens/s", lambda s: f"{s.tokens_per_s:,.0f}" if s.tokens_per_s else "", "tokens_per_s"),
    ("Peak memory", lambda s: memory_text(s.peak_memory_bytes), "peak_memory_bytes"),
    ("Duration", lambda s: duration_text(s.duration_s), "duration_s"),
)


class GridModel(QAbstractTableModel):
    """Rows of named values, one column per run; the header names each run in its colour."""

    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._runs: list[tuple[str, str]] = []  # (label, colour)
        self._rows: list[tuple[str, tuple[str, ...]]] = []
        self._best: dict[int, int] = {}  # row -> column holding its lowest value (summary losses)

    def set_grid(self, runs: Sequence[tuple[str, str]], rows: Sequence[tuple[str, Sequence[str]]],
                 best: Optional[dict[int, int]] = None) -> None:
        self.beginResetModel()
        self._runs = list(runs)
        self._rows = [(key, tuple(values)) for key, values in rows]
        self._best = dict(best or {})
        self.endResetModel()

    def keys(self) -> list[str]:
        return [key for key, _ in self._rows]

    def values(self, key: str) -> tuple[str, ...]:
        return next(v for k, v in self._rows if k == key)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._runs)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self._runs):
            label, colour = self._runs[section]
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return label
            if role == Qt.ItemDataRole.DecorationRole and colour:
                return _swatch(colour)  # the run's curve colour (header styles ignore a foreground)
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self._rows):
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return self._rows[section][0]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        values = self._rows[index.row()][1]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return values[index.column()] if index.column() < len(values) else ""
        if role == Qt.ItemDataRole.FontRole and self._best.get(index.row()) == index.column():
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)  # the lowest loss of the row
            return font
        return None


_SWATCHES: dict[str, QPixmap] = {}


def _swatch(colour: str) -> QPixmap:
    pixmap = _SWATCHES.get(colour)
    if pixmap is None:
        pixmap = QPixmap(12, 12)
        pixmap.fill(QColor(colour))
        _SWATCHES[colour] = pixmap
    return pixmap


def _grid_view(name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    # The runs share the width (a long run name is elided, its tooltip has it whole); many runs
    # scroll sideways once each is down to the minimum.
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    view.horizontalHeader().setMinimumSectionSize(84)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.verticalHeader().setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return view


def _lowest(values: Sequence[Optional[float]]) -> Optional[int]:
    known = [(v, i) for i, v in enumerate(values) if v is not None]
    return min(known)[1] if len(known) > 1 else None


class ComparePanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.message = hint("Select two or more runs (Ctrl+click or Shift+click in the table) to compare them.")
        self.diff_model = GridModel(self)
        self.diff_view = _grid_view("configDiff")
        self.diff_view.setModel(self.diff_model)
        self.summary_model = GridModel(self)
        self.summary_view = _grid_view("runSummary")
        self.summary_view.setModel(self.summary_model)
        self.diff_label = QLabel("<b>Settings that differ</b>")
        diff_box = QWidget()
        diff_layout = QVBoxLayout(diff_box)
        diff_layout.setContentsMargins(0, 0, 0, 0)
        diff_layout.addWidget(self.diff_label)
        diff_layout.addWidget(self.diff_view, 1)
        summary_box = QWidget()
        summary_layout = QVBoxLayout(summary_box)
        summary_layout.setContentsMargins(0, 0, 0, 0)
        summary_layout.addWidget(QLabel("<b>Results</b> (the lowest loss in bold)"))
        summary_layout.addWidget(self.summary_view, 1)
        self.views = QWidget()  # the results on top (their height), the settings below
        self.views.setObjectName("compareViews")
        views = QVBoxLayout(self.views)
        views.setContentsMargins(0, 0, 0, 0)
        views.addWidget(summary_box)
        views.addWidget(diff_box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addWidget(self.views, 1)
        self.set_runs([], {})

    def set_runs(self, rows: Sequence["RunRow"], colours: dict[str, str]) -> None:
        """Compare these runs (fewer than two: a hint to select more)."""
        enough = len(rows) >= 2
        self.message.setVisible(not enough)
        self.views.setVisible(enough)
        if not enough:
            self.diff_model.set_grid([], [])
            self.summary_model.set_grid([], [])
            return
        from workbench.services import run_compare

        runs = [r.run for r in rows]
        heads = [(r.run.name, colours.get(r.run.id, "")) for r in rows]
        extra = {r.run.id: {"base model": r.model_name, "dataset": r.dataset_title} for r in rows}
        diff = run_compare.config_diff(runs, extra)
        self.diff_model.set_grid(heads, [(d.key, d.values) for d in diff])
        self.diff_label.setText("<b>Settings that differ</b>" if diff else
                                "<b>Settings that differ</b>: none, these runs share every setting")
        summaries: list["RunSummary"] = run_compare.summaries(runs)
        grid, best = [], {}
        for title, fmt, attr in SUMMARY_ROWS:
            values = [fmt(s) for s in summaries]
            if not any(values):
                continue  # e.g. eval losses of runs without a validation part
            col = _lowest([getattr(s, attr) for s in summaries]) if attr.endswith("loss") else None
            if col is not None:
                best[len(grid)] = col
            grid.append((title, values))
        self.summary_model.set_grid(heads, grid, best)
        self._fit_summary()

    def _fit_summary(self) -> None:
        """The summary's few rows all show; the settings get the rest of the height."""
        view = self.summary_view
        view.resizeRowsToContents()
        view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Room for a scroll bar under the columns too: with many runs (or a narrow tab) it shows.
        height = (view.horizontalHeader().sizeHint().height() + view.verticalHeader().length()
                  + 2 * view.frameWidth() + view.horizontalScrollBar().sizeHint().height())
        view.setFixedHeight(height)
