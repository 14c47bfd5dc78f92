"""The invalid-rows step of the import dialog: how many records cannot be imported and why,
one row per problem (file, line/row, field, message, advice); nothing is imported until the
user chooses Abort or Import Valid Rows Only."""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.page import fit_then_stretch, record_table

PROBLEM_COLUMNS = ("File", "Where", "Field", "Problem", "What to do")


class ProblemsPanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setObjectName("problemsSummary")
        self.summary.setWordWrap(True)
        self.table = record_table(PROBLEM_COLUMNS, "problemsTable")
        fit_then_stretch(self.table, fitted=3)
        self.detail = QLabel()
        self.detail.setObjectName("problemDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table.itemSelectionChanged.connect(self._show_detail)
        self.report_label = QLabel()
        self.report_label.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.report_label)
        self.problems: list[Any] = []

    def show_attempt(self, attempt: Any) -> None:
        """An ImportAttempt refused for invalid rows (services.dataset_view)."""
        listed = len(attempt.problems)
        more = (f" The table lists the first {listed:,} of {attempt.problem_count:,} problems."
                if attempt.problem_count > listed else "")
        bad, total = attempt.bad_records, attempt.problem_count
        self.summary.setText(
            f"<b>{bad:,} record{'s' if bad != 1 else ''} cannot be imported</b> "
            f"({total:,} problem{'s' if total != 1 else ''}); {attempt.valid_rows:,} records are valid. "
            f"Nothing has been imported yet: Abort, or import only the valid rows.{more}")
        self.problems = list(attempt.problems)
        self.table.setRowCount(listed)
        for i, p in enumerate(attempt.problems):
            for j, text in enumerate((p.file, p.where(), p.field or "", p.message, p.advice)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, j, item)
        self.report_label.setText("")
        self.detail.setText("")
        if listed:
            self.table.selectRow(0)

    def _show_detail(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.problems):
            return
        p = self.problems[rows[0].row()]
        where = f"{p.file}, {p.where()}" + (f", field {p.field}" if p.field else "")
        raw = f"<br><tt>{html.escape(p.raw[:300])}</tt>" if getattr(p, "raw", None) else ""
        self.detail.setText(f"<b>{html.escape(where)}</b>: {html.escape(p.message)}<br>"
                            f"<i>{html.escape(p.advice)}</i>{raw}")
