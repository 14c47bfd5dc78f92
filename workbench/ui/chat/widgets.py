"""Small widgets and the command actions of the Chat page."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QComboBox, QPlainTextEdit


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter inserts a newline."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ModelCombo(QComboBox):
    """The model selector; it says when its popup closes (a refresh waits for that)."""

    popup_closed = Signal()

    def hidePopup(self) -> None:  # noqa: N802 (Qt API)
        super().hidePopup()
        self.popup_closed.emit()

    @property
    def popup_open(self) -> bool:
        return self.view().isVisible()


def page_action(owner: QObject, text: str, shortcut: str, tip: str, slot: Callable[[], object],
                checkable: bool = False) -> QAction:
    """A page command: its shortcut works while the focus is anywhere in the page (not on other
    pages), and the buttons and menus that offer it trigger this one action."""
    action = QAction(text, owner)
    action.setShortcut(QKeySequence(shortcut))
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
    action.setCheckable(checkable)
    action.triggered.connect(lambda *_: slot())
    owner.addAction(action)  # type: ignore[attr-defined]
    return action


def bind(button, action: QAction, object_name: Optional[str] = None):
    """A push button that triggers `action` and shows its tooltip (enabled state: the page's
    _update_controls sets both)."""
    button.clicked.connect(lambda *_: action.trigger())
    button.setToolTip(action.toolTip())
    if object_name:
        button.setObjectName(object_name)
    return button


def state_text(state: str, name: str, device: Optional[str], no_models: bool) -> str:
    """The status line: always names the model that is loaded (not just selected)."""
    if state == "none":
        return "No model yet: add one on the Models page." if no_models else "No model loaded."
    where = f", running on {device}" if device else ""
    return {"new": f"Loading {name}…", "starting": f"Loading {name}…",
            "ready": f"Ready — {name}{where}", "generating": f"Generating — {name}{where}",
            "failed": f"{name} failed to load or crashed.",
            "closed": f"{name} was closed."}.get(state, state)


def placeholder(state: str, name: str) -> str:
    if state in ("new", "starting"):
        return f"Loading {name}…"
    if state in ("ready", "generating"):
        return f"{name} is loaded. Type a message below."
    return ("Choose a base model or a finished run, press Load, then type a message. "
            "Enter sends, Shift+Enter starts a new line, Esc stops a reply.")
