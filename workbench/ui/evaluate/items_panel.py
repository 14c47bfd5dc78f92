"""The Items tab: every item of the suite across the compared models, sorted where they differ
most (the spread of a chosen metric), a filter over prompts, references and outputs; the
selected item's outputs side by side with the reference (item_detail.py), and the rating of
the selected output (rating_panel.py: P / F / 1–5 in the table, then the next item)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.evaluate.item_detail import ItemDetail
from workbench.ui.evaluate.items_model import SPREAD_COL, ItemRole, ItemsModel
from workbench.ui.evaluate.rating_panel import RatingPanel
from workbench.ui.runs.table_model import RunFilterProxy

if TYPE_CHECKING:
    from workbench.services.eval_compare import Comparison, ItemComparison

PREFERRED = ("rouge_l", "token_f1", "chrf", "exact_match", "judge", "classification")


class ItemsPanel(QWidget):
    rate_requested = Signal(str, str, float, str, str)  # eval run id, item id, value, scale, comment
    target_changed = Signal()  # the rated model changed

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.model = ItemsModel(self)
        self.proxy = RunFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("evalItems")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)  # the scores stay in view
        header.setMaximumSectionSize(130)  # a long model name is elided (its tooltip has it)
        self.table.setColumnWidth(1, 170)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_current())
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("itemFilter")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setPlaceholderText("Filter by prompt, reference or output")
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("itemMetric")
        self.metric_combo.setToolTip("The metric the Spread and score columns show (sorted by its spread)")
        self.metric_combo.currentIndexChanged.connect(self._metric_changed)
        self.detail = ItemDetail()
        self.rating = RatingPanel()
        for action in self.rating.actions.values():
            self.table.addAction(action)  # P / F / 1-5 while the table has the focus
        self.rating.rate_requested.connect(self._rate)
        self.rating.target.currentIndexChanged.connect(lambda _i: (self._show_current(), self.target_changed.emit()))
        self._titles: dict[str, str] = {}
        self._runs: list[tuple[str, str]] = []
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(QLabel("Spread of"))
        top.addWidget(self.metric_combo)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top)
        left_layout.addWidget(self.table, 1)
        left_layout.addWidget(self.rating)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setSizes([440, 540])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def set_comparison(self, comparison: Optional["Comparison"], titles: dict[str, str],
                       judge_scale: Optional[str]) -> None:
        keep = self.current_item()
        self._titles = titles
        self._runs = [(r.id, r.label or r.id[:8]) for r in comparison.runs] if comparison else []
        metrics = comparison.metrics if comparison else []
        current = self.metric_combo.currentData()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for name in metrics:
            self.metric_combo.addItem(titles.get(name, name), name)
        # What the user chose, else a metric that compares text (the spread of a loss says less).
        preferred = next((m for m in (current, *PREFERRED) if m in metrics), None)
        self.metric_combo.setCurrentIndex(max(0, self.metric_combo.findData(preferred)))
        self.metric_combo.blockSignals(False)
        self.model.set_items(comparison.items if comparison else [], self._runs, self.metric_combo.currentData() or "")
        self.table.sortByColumn(SPREAD_COL, Qt.SortOrder.DescendingOrder)  # where they differ most first
        adapter = next((r.id for r in reversed(comparison.runs) if not r.model.is_base), None) if comparison else None
        self.rating.set_runs(self._runs, judge_scale, prefer=adapter)
        self.select_item(keep.item.id if keep is not None else None)

    def _metric_changed(self) -> None:
        keep = self.current_item()
        self.model.set_metric(self.metric_combo.currentData() or "")
        self.select_item(keep.item.id if keep is not None else None)

    def set_ratings(self, ratings: dict[str, tuple[float, str]]) -> None:
        self.model.set_ratings(ratings)

    # -- selection -------------------------------------------------------------------------------
    def current_item(self) -> Optional["ItemComparison"]:
        index = self.table.currentIndex()
        return index.data(ItemRole) if index.isValid() else None

    def select_item(self, item_id: Optional[str]) -> None:
        """Select the item (None or not listed: the first row)."""
        row = self.model.row_of(item_id) if item_id else -1
        index = self.proxy.mapFromSource(self.model.index(row, 0)) if row >= 0 else self.proxy.index(0, 0)
        if index.isValid():
            self.table.setCurrentIndex(index)
            self.table.scrollTo(index)
        self._show_current()

    def select_next(self) -> None:
        index = self.table.currentIndex()
        below = self.proxy.index(index.row() + 1, 0) if index.isValid() else self.proxy.index(0, 0)
        if below.isValid():
            self.table.setCurrentIndex(below)

    def _show_current(self) -> None:
        row = self.current_item()
        self.detail.show_item(row, self._runs, self._titles)
        rid = self.rating.target_id()
        result = row.results.get(rid) if row is not None and rid else None
        if row is None:
            self.rating.set_enabled_for(False, "Select an item to rate it.")
        elif result is None or result.output is None:
            self.rating.set_enabled_for(False, "This output cannot be rated: " +
                                        (result.error if result is not None and result.error else "it has none yet."))
        else:
            self.rating.set_enabled_for(True, "")

    def _rate(self, eval_run_id: str, value: float, scale: str, comment: str) -> None:
        row = self.current_item()
        if row is None:
            return
        self.rate_requested.emit(eval_run_id, row.item.id, value, scale, comment)
        self.select_next()  # rating twenty items is twenty key presses
