"""Shown while no project is open: create, open, the demo, or a recent project."""

from __future__ import annotations

import os
from typing import Optional

from PySide6 import QtCore  # QtCore.Qt at use: its first touch builds ~100 enums (start-up)
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.theme import app_icon


class WelcomeWidget(QWidget):
    new_requested = Signal()
    open_requested = Signal()
    demo_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        icon = QLabel()
        if not app_icon().isNull():
            icon.setPixmap(app_icon().pixmap(72, 72))
        title = QLabel("<h1>Workbench</h1>")
        subtitle = QLabel("Fine-tune language models on your own machine: import chats, train a "
                          "LoRA adapter, watch the loss, then talk to the result.")
        subtitle.setWordWrap(True)
        self.new_button = QPushButton("New Project…")
        self.open_button = QPushButton("Open Project…")
        self.demo_button = QPushButton("Open Demo Project")
        self.demo_button.setDefault(True)
        self.demo_button.setObjectName("primary")
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.demo_button.clicked.connect(self.demo_requested)
        buttons = QHBoxLayout()
        for b in (self.demo_button, self.new_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        # While a project opens in a worker: what opens, and a busy bar (it has no fraction).
        self.opening_label = QLabel()
        self.opening_label.setObjectName("welcomeOpening")
        self.opening_bar = QProgressBar()
        self.opening_bar.setRange(0, 0)
        self.opening_bar.setMaximumWidth(320)
        self.opening_bar.setTextVisible(False)
        self.recent_label = QLabel("<b>Recent projects</b>")
        self.recent_list = QListWidget()
        self.recent_list.setObjectName("welcomeRecent")
        self.recent_list.setMaximumHeight(260)  # eight entries; no empty well below them
        self.recent_list.itemActivated.connect(
            lambda item: self.recent_requested.emit(item.data(QtCore.Qt.ItemDataRole.UserRole)))
        column = QVBoxLayout()
        column.addSpacing(40)
        header = QHBoxLayout()
        header.addWidget(icon)
        header.addWidget(title, 1)
        column.addLayout(header)
        column.addWidget(subtitle)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addSpacing(12)
        column.addWidget(self.opening_label)
        column.addWidget(self.opening_bar)
        column.addSpacing(18)
        column.addWidget(self.recent_label)
        column.addWidget(self.recent_list)
        column.addStretch(1)
        box = QWidget()
        box.setMaximumWidth(680)
        box.setLayout(column)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 4)
        outer.addStretch(1)
        self.set_opening(None)

    def set_opening(self, text: "str | None") -> None:
        """Show "Opening NAME…" with a busy bar while a project opens (None: nothing opens);
        the buttons and the recent list wait meanwhile (one open at a time)."""
        self.opening_label.setText(text or "")
        self.opening_label.setVisible(bool(text))
        self.opening_bar.setVisible(bool(text))
        for widget in (self.new_button, self.open_button, self.demo_button, self.recent_list):
            widget.setEnabled(not text)

    def set_recent(self, paths: list[str]) -> None:
        self.recent_list.clear()
        for path in paths:
            name = os.path.basename(path.rstrip("/\\"))
            item = QListWidgetItem(f"{name}    —    {os.path.dirname(path)}")
            item.setData(QtCore.Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            self.recent_list.addItem(item)
        self.recent_label.setVisible(bool(paths))
        self.recent_list.setVisible(bool(paths))
