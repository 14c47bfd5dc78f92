"""The Results tab: the metric × model table (results_model.py) with the notes of the comparison
(metrics dropped for want of references, runs still going), and below it the paired test of
two chosen models: per metric the difference B − A with its 95% interval and the p-value, on
the items both scored. The paired bootstrap runs in a worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.errors import show_error
from workbench.ui.common.page import hint
from workbench.ui.common.workers import Task, run_task
from workbench.ui.evaluate import loads
from workbench.ui.evaluate.results_model import ResultsModel, number

if TYPE_CHECKING:
    from workbench.services.eval_compare import Comparison

PAIR_COLUMNS = ("Metric", "A", "B", "B − A", "95% interval", "p", "Items", "Verdict")
ALPHA = 0.05


def verdict(test: Any, higher_is_better: Optional[bool]) -> str:
    if test.p_value >= ALPHA or test.low <= 0 <= test.high:
        return "no clear difference"
    if higher_is_better is None:  # e.g. length: different, neither better
        return "B higher" if test.diff > 0 else "B lower"
    better = (test.diff > 0) == higher_is_better
    return "B better" if better else "A better"


class ResultsPanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.model = ResultsModel(self)
        self.view = QTableView()
        self.view.setObjectName("evalResults")
        self.view.setModel(self.model)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setMinimumSectionSize(150)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.notes = hint("")
        self.notes.setObjectName("evalNotes")
        self.a_combo, self.b_combo = QComboBox(), QComboBox()
        self.a_combo.setObjectName("pairA")
        self.b_combo.setObjectName("pairB")
        for combo in (self.a_combo, self.b_combo):
            combo.currentIndexChanged.connect(self._pair_changed)
        self.pairs = QTableWidget(0, len(PAIR_COLUMNS))
        self.pairs.setObjectName("pairTests")
        self.pairs.setHorizontalHeaderLabels(list(PAIR_COLUMNS))
        self.pairs.verticalHeader().hide()
        self.pairs.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.pairs.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.pairs.horizontalHeader().setStretchLastSection(True)
        self.pair_status = hint("")
        pair_row = QHBoxLayout()
        pair_row.addWidget(QLabel("<b>Paired test</b>  A:"))
        pair_row.addWidget(self.a_combo, 1)
        pair_row.addWidget(QLabel("B:"))
        pair_row.addWidget(self.b_combo, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Results</b> (value [95% interval] over the items; the best of a row in bold)"))
        layout.addWidget(self.view, 3)
        layout.addWidget(self.notes)
        layout.addLayout(pair_row)
        layout.addWidget(self.pair_status)
        layout.addWidget(self.pairs, 2)
        self.comparison: Optional["Comparison"] = None
        self._titles: dict[str, tuple[str, bool]] = {}
        self.task: Optional[Task] = None
        self.shown_pair: Optional[tuple[str, str]] = None  # the pair the table shows (tests wait on it)

    def set_comparison(self, comparison: Optional["Comparison"], titles: dict[str, tuple[str, bool]]) -> None:
        self.comparison, self._titles = comparison, titles
        self.model.set_comparison(comparison, titles)
        self.notes.setText("\n".join(comparison.notes) if comparison else "")
        self.notes.setVisible(bool(comparison and comparison.notes))
        runs = [(r.id, r.label or r.id[:8]) for r in comparison.runs] if comparison else []
        keep = (self.a_combo.currentData(), self.b_combo.currentData())
        for combo in (self.a_combo, self.b_combo):
            combo.blockSignals(True)
            combo.clear()
            for rid, label in runs:
                combo.addItem(label, rid)
            combo.blockSignals(False)
        # A: the base model if compared (else the first), B: the other, unless the user chose.
        ids = [rid for rid, _ in runs]
        base = next((r.id for r in comparison.runs if r.model.is_base), None) if comparison else None
        a = keep[0] if keep[0] in ids else (base or (ids[0] if ids else None))
        b = keep[1] if keep[1] in ids and keep[1] != a else next((i for i in ids if i != a), None)
        for combo, value in ((self.a_combo, a), (self.b_combo, b)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        self.shown_pair = None
        self._pair_changed()

    def _pair_changed(self) -> None:
        self.pairs.setRowCount(0)
        a, b = self.a_combo.currentData(), self.b_combo.currentData()
        if self.comparison is None or a is None or b is None or a == b:
            self.pair_status.setText("Compare two eval runs (select them above) to test whether they differ.")
            return
        if self.task is not None:
            self.task.cancel()
        self.pair_status.setText("Testing the difference (paired bootstrap over the shared items)…")
        task = self.task = run_task(loads.pairs, self.comparison, a, b, name="paired test")
        task.finished.connect(lambda tests, t=task, pair=(a, b): self._show(t, pair, tests))
        task.failed.connect(lambda exc: show_error(self, exc, "Could not test the difference"))

    def _show(self, task: Task, pair: tuple[str, str], tests: list) -> None:
        if task is not self.task:
            return  # a newer pair was chosen meanwhile
        self.task = None
        self.shown_pair = pair
        self.pairs.setRowCount(len(tests))
        for r, test in enumerate(tests):
            title, higher = self._titles.get(test.metric, (test.metric, True))
            cells = (title, number(test.a), number(test.b), f"{test.diff:+.4g}", f"[{number(test.low)}, {number(test.high)}]",
                     f"{test.p_value:.3g}", str(test.n), verdict(test, higher))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == len(cells) - 1 and text != "no clear difference":
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                item.setToolTip(f"{test.method}: B − A = {test.diff:+.4g}, 95% interval [{test.low:.4g}, "
                                f"{test.high:.4g}], p = {test.p_value:.3g} over {test.n} items")
                self.pairs.setItem(r, c, item)
        a, b = self.a_combo.currentText(), self.b_combo.currentText()
        self.pair_status.setText(f"B ({b}) against A ({a}). p: the chance of a difference this large if the two "
                                 f"models were alike (below {ALPHA:g}: a real difference).")

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
