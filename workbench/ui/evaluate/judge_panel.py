"""Judge vs people: how far the suite's local judge agrees with the team's ratings of one eval
run's outputs: Cohen's κ for pass/fail, Spearman for 1–5, in plain words, with the confusion
between them (rows: people, columns: the judge) and each rater's own agreement."""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from workbench.ui.common.page import hint
from workbench.ui.evaluate.results_model import number

STATISTICS = {"cohen_kappa": "Cohen's κ", "spearman": "Spearman ρ"}


class JudgePanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setObjectName("agreementTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.message = hint("")
        self.message.setObjectName("agreementMessage")
        self.confusion = QTableWidget(0, 0)
        self.confusion.setObjectName("agreementConfusion")
        self.confusion.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion_label = QLabel("<b>Confusion</b> (rows: people, columns: the judge)")
        self.raters = QLabel()
        self.raters.setObjectName("agreementRaters")
        self.raters.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.message)
        layout.addWidget(self.confusion_label)
        layout.addWidget(self.confusion)
        layout.addWidget(self.raters)
        layout.addStretch(1)
        self.show_agreement(None, "", {})

    def show_none(self, why: str) -> None:
        self.show_agreement(None, why, {})

    def show_agreement(self, agreement: Any, label: str, by_rater: dict[str, Any]) -> None:
        """`agreement`: services.eval_ratings.judge_agreement's Agreement for the eval run
        `label` (None: `label` says why there is none)."""
        if agreement is None:
            self.title.setText("<b>Judge vs people</b>")
            self.message.setText(label or "Rate outputs on the Items tab of a suite that has a judge metric.")
            self.confusion.setRowCount(0)
            self.confusion.setColumnCount(0)
            self.confusion.setVisible(False)
            self.confusion_label.setVisible(False)
            self.raters.setText("")
            return
        statistic = STATISTICS.get(agreement.statistic, agreement.statistic)
        value = number(agreement.value) if agreement.value is not None else "—"
        self.title.setText(f"<b>Judge vs people</b> on {html.escape(label)}: {statistic} = <b>{value}</b> "
                           f"over {agreement.n} item{'s' if agreement.n != 1 else ''}")
        also = ", ".join(f"{k.replace('_', ' ')} {number(v)}" for k, v in (agreement.also or {}).items()
                         if isinstance(v, (int, float)))
        self.message.setText(agreement.message + (f" ({also})" if also else ""))
        labels = list(agreement.labels)
        grid = agreement.confusion or []
        shown = bool(labels) and bool(grid)
        self.confusion.setVisible(shown)
        self.confusion_label.setVisible(shown)
        self.confusion.setRowCount(len(labels))
        self.confusion.setColumnCount(len(labels))
        self.confusion.setHorizontalHeaderLabels([f"judge: {lb}" for lb in labels])
        self.confusion.setVerticalHeaderLabels([f"people: {lb}" for lb in labels])
        for r, row in enumerate(grid):
            for c, count in enumerate(row):
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if r == c:
                    font = item.font()
                    font.setBold(True)  # where they agree
                    item.setFont(font)
                self.confusion.setItem(r, c, item)
        self.confusion.resizeRowsToContents()
        self.confusion.setFixedHeight(self.confusion.horizontalHeader().sizeHint().height()
                                      + self.confusion.verticalHeader().length() + 2 * self.confusion.frameWidth())
        if len(by_rater) > 1:
            self.raters.setText("Each rater: " + "; ".join(
                f"{html.escape(name)} {STATISTICS.get(a.statistic, a.statistic)} "
                f"{number(a.value) if a.value is not None else '—'} (n {a.n})" for name, a in by_rater.items()))
        else:
            self.raters.setText("")
