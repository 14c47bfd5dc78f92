"""A preference pair on the Datasets page: the prompt across the top, then the chosen and the
rejected reply side by side, so the two answers to the same prompt read against each other."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from workbench.core.tool_calls import readable_messages
from workbench.ui.common.chat_view import ChatView


def _titled(title: str, view: ChatView, name: str) -> QWidget:
    box = QWidget()
    label = QLabel(f"<b>{title}</b>")
    label.setObjectName(name)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(label)
    layout.addWidget(view, 1)
    return box


class PairView(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("pairView")
        self.prompt = ChatView()
        self.prompt.setObjectName("pairPrompt")
        self.prompt.set_placeholder("Select a row to read its pair.")
        self.chosen = ChatView()
        self.chosen.setObjectName("pairChosen")
        self.rejected = ChatView()
        self.rejected.setObjectName("pairRejected")
        sides = QSplitter(Qt.Orientation.Horizontal)
        sides.setChildrenCollapsible(False)
        sides.addWidget(_titled("Chosen ✓", self.chosen, "chosenTitle"))
        sides.addWidget(_titled("Rejected ✗", self.rejected, "rejectedTitle"))
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(_titled("Prompt", self.prompt, "promptTitle"))
        self.splitter.addWidget(sides)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def set_row(self, row: Optional[dict[str, Any]]) -> None:
        """A row as read_rows gives it (messages = prompt + chosen, rejected), or None to clear."""
        from workbench.services.dataset_view import pair_parts

        parts = pair_parts(row) if row is not None else None
        views = ((self.prompt, parts.prompt if parts else []), (self.chosen, parts.chosen if parts else []),
                 (self.rejected, parts.rejected if parts else []))
        for view, messages in views:
            view.set_messages(readable_messages(messages), follow=False)
            view.verticalScrollBar().setValue(0)

    def rerender(self) -> None:
        for view in (self.prompt, self.chosen, self.rejected):
            view.rerender()
