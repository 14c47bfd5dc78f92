"""Rate the selected item: which model's output (one of the compared eval runs), pass / fail or
1–5 (the judge's scale when the suite has a judge, so the two can be compared), a comment.

The rating commands are QActions shared by the buttons and the keys of the items table: P and
F (pass / fail), 1–5 (the scale) while the table has the focus, so a person rates twenty items
without leaving the keyboard (the next item is selected after each rating)."""

from __future__ import annotations

import html
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from workbench.ui.common.page import hint

PASS_FAIL, SCALE_1_5 = "pass_fail", "1-5"  # core.eval_records' names
# (text, value, key, scale)
RATINGS = (("Pass", 1.0, "P", PASS_FAIL), ("Fail", 0.0, "F", PASS_FAIL),
           *((str(n), float(n), str(n), SCALE_1_5) for n in range(1, 6)))


class RatingPanel(QWidget):
    rate_requested = Signal(str, float, str, str)  # eval run id, value, scale, comment

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.target = QComboBox()
        self.target.setObjectName("ratingTarget")
        self.target.setToolTip("The model whose output you rate")
        self.scale = QComboBox()
        self.scale.setObjectName("ratingScale")
        self.scale.addItem("Pass / fail", PASS_FAIL)
        self.scale.addItem("1–5", SCALE_1_5)
        self.scale.currentIndexChanged.connect(self._show_scale)
        self.comment = QLineEdit()
        self.comment.setObjectName("ratingComment")
        self.comment.setPlaceholderText("Comment (optional): why it passes or fails")
        self.status = QLabel()
        self.status.setObjectName("ratingStatus")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.actions: dict[str, QAction] = {}
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout()
        row.addWidget(QLabel("Rate"))
        row.addWidget(self.target, 1)
        row.addWidget(self.scale)
        for text, value, key, scale in RATINGS:
            action = QAction(text, self)
            action.setObjectName(f"rate{text}Action")
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # the items table's keys only
            action.setToolTip(f"Rate the output {text.lower() if scale == PASS_FAIL else text + ' of 5'} ({key})")
            action.setData(scale)
            action.triggered.connect(lambda _c=False, v=value, s=scale: self._rate(v, s))
            button = QToolButton()
            button.setDefaultAction(action)
            button.setObjectName(f"rate{text}Button")
            row.addWidget(button)
            self.actions[text], self.buttons[text] = action, button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.comment)
        layout.addWidget(self.status)
        self.fixed_hint = hint("")
        layout.addWidget(self.fixed_hint)
        self.set_runs([], None)

    def set_runs(self, runs: list[tuple[str, str]], judge_scale: Optional[str], prefer: Optional[str] = None) -> None:
        """The compared runs (eval run id, label) whose outputs can be rated; a judge's scale fixes
        the scale (people and the judge must rate alike to be compared)."""
        current = prefer or self.target.currentData()
        self.target.blockSignals(True)
        self.target.clear()
        for rid, label in runs:
            self.target.addItem(label, rid)
        index = self.target.findData(current)
        self.target.setCurrentIndex(index if index >= 0 else max(0, self.target.count() - 1))
        self.target.blockSignals(False)
        if judge_scale is not None:
            self.scale.setCurrentIndex(self.scale.findData(judge_scale))
        self.scale.setEnabled(judge_scale is None)
        self.fixed_hint.setText("The scale is the judge's, so your ratings and its verdicts can be compared."
                                if judge_scale else "")
        self.fixed_hint.setVisible(judge_scale is not None)
        self._show_scale()

    def target_id(self) -> Optional[str]:
        return self.target.currentData()

    def current_scale(self) -> str:
        return self.scale.currentData()

    def _show_scale(self) -> None:
        scale = self.current_scale()
        for text, _v, _k, s in RATINGS:
            self.actions[text].setVisible(s == scale)
            self.buttons[text].setVisible(s == scale)

    def set_enabled_for(self, can_rate: bool, why: str = "") -> None:
        for text, _v, _k, _s in RATINGS:
            self.actions[text].setEnabled(can_rate)
        self.comment.setEnabled(can_rate)
        if why:
            self.status.setText(html.escape(why))

    def show_rating(self, text: str) -> None:
        self.status.setText(text)

    def _rate(self, value: float, scale: str) -> None:
        rid = self.target_id()
        if rid is None or scale != self.current_scale():
            return
        self.rate_requested.emit(rid, value, scale, self.comment.text().strip())
        self.comment.clear()
