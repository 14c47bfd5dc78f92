"""The one error dialog: show_error(parent, exc) and a sys.excepthook that uses it.

A WorkbenchError shows its user_message, advice and (behind "Show Details…") its details.
Anything else is an unexpected error: a generic message plus the traceback as details, so no
error ends up only in a terminal the user never sees.
"""

from __future__ import annotations

import sys
import traceback
from types import TracebackType
from typing import Callable, Optional, Sequence

from PySide6 import QtCore  # QtCore.Qt at use: its first touch builds ~100 enums (start-up)
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from workbench.core.errors import WorkbenchError

# Dialogs without a parent must stay referenced until they close.
_open_dialogs: set[QMessageBox] = set()


def describe(exc: BaseException) -> tuple[str, str, str]:
    """(message, advice, details) for any exception."""
    if isinstance(exc, WorkbenchError):
        details = exc.details or ""
        return exc.user_message, exc.advice or "", details
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    message = f"Something went wrong: {type(exc).__name__}: {exc}"
    advice = ("This is a bug in Workbench. Please report it with the details below.")
    return message, advice, tb


def show_error(parent: Optional[QWidget], exc: BaseException, title: str = "Workbench",
               actions: Sequence[tuple[str, Callable[[], None]]] = ()) -> QMessageBox:
    """Show `exc` in a (window-modal, non-blocking) dialog and return the dialog.

    `actions` adds buttons that offer a way out (label, callback run after the dialog closes).
    """
    message, advice, details = describe(exc)
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Critical if not isinstance(exc, WorkbenchError)
                else QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    box.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
    if advice:
        box.setInformativeText(advice)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    for label, callback in actions:
        button = box.addButton(label, QMessageBox.ButtonRole.AcceptRole)
        button.clicked.connect(callback)
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    _open_dialogs.add(box)
    box.finished.connect(lambda _result, b=box: _open_dialogs.discard(b))
    # open(), not exec(): a nested event loop inside a slot or an excepthook invites re-entrancy.
    box.open()
    return box


def open_error_dialogs() -> list[QMessageBox]:
    """The error dialogs currently shown (tests use this)."""
    if QApplication.instance() is None:
        return []
    # Dialogs are windows, so topLevelWidgets() lists them even when they have a parent.
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()]


def install_excepthook() -> None:
    """Route uncaught exceptions (e.g. raised in a slot) to the error dialog, keeping stderr."""
    previous = sys.excepthook

    def hook(etype: type[BaseException], value: BaseException, tb: Optional[TracebackType]) -> None:
        previous(etype, value, tb)
        if issubclass(etype, KeyboardInterrupt) or QApplication.instance() is None:
            return
        try:
            parent = QApplication.activeWindow()
            if value.__traceback__ is None and tb is not None:
                value = value.with_traceback(tb)
            show_error(parent, value)
        except Exception:  # never let the hook itself raise
            traceback.print_exc()

    sys.excepthook = hook
