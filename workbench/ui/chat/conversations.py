"""The project's conversations beside the chat: an item model, a search box (the store is
searched in a worker, never in the GUI thread), and open_requested(Conversation) on a click."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QListView, QVBoxLayout, QWidget

from workbench.ui.common.errors import show_error
from workbench.ui.common.workers import Task, run_task

SEARCH_DELAY_MS = 250  # typing pauses this long before the store is searched
LIST_LIMIT = 500
ConversationRole = Qt.ItemDataRole.UserRole
_Index = QModelIndex | QPersistentModelIndex


def list_conversations(store: Any, search: str, progress=None, cancel=None) -> list:
    """The project's own chats (not arena sides) with at least one message, newest first
    (worker thread). Empty ones (a model loaded, nothing said yet) would only clutter the list."""
    return [c for c in store.list_conversations(search, include_arena=False, limit=LIST_LIMIT)
            if c.head_id is not None]


class ConversationModel(QAbstractListModel):
    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self.conversations: list[Any] = []
        self.current_id: Optional[str] = None  # shown in bold

    def set_conversations(self, conversations: list[Any]) -> None:
        self.beginResetModel()
        self.conversations = list(conversations)
        self.endResetModel()

    def set_current(self, session_id: Optional[str]) -> None:
        self.current_id = session_id
        if self.conversations:
            self.dataChanged.emit(self.index(0), self.index(len(self.conversations) - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802 (Qt API)
        return 0 if parent.isValid() else len(self.conversations)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.conversations):
            return None
        c = self.conversations[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            when = (c.updated_at or c.created_at or "")[:16].replace("T", " ")
            return f"{c.title or 'Untitled'}\n{when}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return c.title
        if role == Qt.ItemDataRole.FontRole and c.id == self.current_id:
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        if role == ConversationRole:
            return c
        return None

    def titles(self) -> list[str]:
        return [c.title for c in self.conversations]


class ConversationList(QWidget):
    open_requested = Signal(object)  # a Conversation

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatConversations")
        self.setMinimumWidth(200)
        self.setMaximumWidth(300)
        self.store: Any = None
        self.task: Optional[Task] = None
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("chatSearch")
        self.search_edit.setPlaceholderText("Search conversations…")
        self.search_edit.setClearButtonEnabled(True)
        self.model = ConversationModel(self)
        self.view = QListView()
        self.view.setObjectName("chatConversationList")
        self.view.setModel(self.model)
        self.view.setWordWrap(True)
        self.view.setUniformItemSizes(False)
        self.view.setSpacing(3)
        self.view.activated.connect(self._activated)
        self.view.clicked.connect(self._activated)
        self.count_label = QLabel()
        self.count_label.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(QLabel("<b>Conversations</b>"))
        layout.addWidget(self.search_edit)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count_label)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self.search_edit.textChanged.connect(lambda _text: self._timer.start())

    def set_store(self, store: Any) -> None:
        if self.task is not None:
            self.task.cancel()
        self.task = None
        self.store = store
        self.model.set_conversations([])
        self.count_label.setText("")
        if store is not None:
            self.refresh()

    def refresh(self) -> None:
        """List (and search) in a worker; only the newest search's answer is shown."""
        if self.store is None:
            return
        if self.task is not None and self.task.running:
            self.task.cancel()
        search = self.search_edit.text().strip()
        task = self.task = run_task(list_conversations, self.store, search, name="chat: conversations")
        task.finished.connect(lambda result: self.task is task and self._listed(result, search))
        task.failed.connect(lambda exc: self.task is task and show_error(self, exc, "Cannot list the conversations"))

    @property
    def busy(self) -> bool:
        return self._timer.isActive() or (self.task is not None and self.task.running)

    def _listed(self, conversations: list, search: str) -> None:
        self.model.set_conversations(conversations)
        n = len(conversations)
        found = f"{n} found" if search else f"{n} conversation{'s' if n != 1 else ''}"
        self.count_label.setText(found)

    def _activated(self, index: QModelIndex) -> None:
        conversation = index.data(ConversationRole)
        if conversation is not None:
            self.open_requested.emit(conversation)

    def open_row(self, row: int) -> None:
        self._activated(self.model.index(row))
