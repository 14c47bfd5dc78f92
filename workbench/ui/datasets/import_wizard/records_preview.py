"""The first records of a file as the importer reads them: a table (where, turns, first user
message, first reply, problem) and the selected record as chat turns, or its raw fields when
it could not be read as a conversation."""

from __future__ import annotations

import html
import json
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common import theme
from workbench.ui.common.chat_view import ChatView

COLUMNS = ("Where", "Roles", "First user message", "First reply", "Problem")
_ROLE_SHORT = {"system": "S", "user": "U", "assistant": "A"}


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def raw_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    except (TypeError, ValueError):
        return repr(value)


class RecordsPreview(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.records: list[Any] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("recordsPreview")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for col in (2, 3, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._show_selected)
        self.chat = ChatView()
        self.chat.setObjectName("recordChat")
        self.chat.set_placeholder("Select a record to read it as chat turns.")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.chat)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def set_records(self, records: list[Any]) -> None:
        self.records = list(records)
        table = self.table
        table.setRowCount(len(self.records))
        error = theme.colors().error_text
        for i, rec in enumerate(self.records):
            msgs = rec.messages
            first: dict[str, str] = {}
            for m in msgs:
                first.setdefault(m.get("role", ""), m.get("content", ""))
            problem = "; ".join(p.message for p in rec.problems)
            if not msgs and not rec.problems:
                cells = (rec.location.describe(), "", _short(raw_text(rec.source)), "", "")
            else:
                roles = " ".join(_ROLE_SHORT.get(m.get("role", ""), "?") for m in msgs)
                cells = (rec.location.describe(), roles, _short(first.get("user", "")),
                         _short(first.get("assistant", "")), _short(problem))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 4 and problem:
                    item.setForeground(QColor(error))
                    item.setToolTip(problem)
                table.setItem(i, j, item)
        if self.records:
            table.selectRow(0)
        else:
            self.chat.set_messages([])

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.records):
            return
        rec = self.records[rows[0].row()]
        rejected = getattr(rec, "rejected", None)
        if rec.messages and rejected is not None:  # a preference pair: both replies, each marked
            cut = len(rec.messages)
            while cut > 0 and rec.messages[cut - 1].get("role") == "assistant":
                cut -= 1
            notes = {i: "· chosen" for i in range(cut, len(rec.messages))}
            notes.update({len(rec.messages) + i: "· rejected" for i in range(len(rejected))})
            self.chat.set_messages([*rec.messages, *rejected], notes=notes, follow=False)
            return
        if rec.messages:
            self.chat.set_messages(rec.messages, follow=False)
            return
        colors = theme.colors()
        parts = []
        for p in rec.problems:
            parts.append(f"<p style='color:{colors.error_text}'><b>{html.escape(p.field or '')}</b> "
                         f"{html.escape(p.message)}<br><i>{html.escape(p.advice)}</i></p>")
        parts.append(f"<pre>{html.escape(raw_text(rec.source))}</pre>")
        self.chat.setHtml("".join(parts))
