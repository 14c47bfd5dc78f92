"""The import dialog's Source box: a path typed or pasted (completed from the file system, as
in any file dialog), or chosen with the File… / Folder… buttons."""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QDir, Qt, QUrl, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCompleter, QFileSystemModel, QLineEdit, QWidget


class PathEdit(QLineEdit):
    """The Source box: type or paste a path (completed from the file system); Enter previews it
    and does not press the dialog's default button (Import)."""

    entered = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourcePath")
        self._model = QFileSystemModel(self)  # lists folders in its own thread, not the GUI thread
        self._model.setFilter(QDir.Filter.AllEntries | QDir.Filter.NoDotAndDotDot | QDir.Filter.AllDirs)
        self._model.setRootPath("")
        self._model.directoryLoaded.connect(self._loaded)
        completer = QCompleter(self._model, self)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(completer)
        self.textEdited.connect(self._edited)

    def _edited(self, text: str) -> None:
        # The model lists a folder only when asked, in the background: ask for the folder being
        # typed in, and complete again once it is listed.
        folder = os.path.dirname(os.path.expanduser(text))
        if folder and folder != self._model.rootPath():
            self._model.setRootPath(folder)

    def _loaded(self, folder: str) -> None:
        if self.hasFocus() and not self.isReadOnly() and os.path.dirname(os.path.expanduser(self.text())) == folder:
            self.completer().complete()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            self.entered.emit()
            return
        super().keyPressEvent(event)


def typed_path(text: str) -> str:
    """A typed or pasted path as a plain absolute path ('' when there is none): quotes and
    file:// URLs (from a file manager) removed, ~ expanded. Pure text: no file is read."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    if text.startswith("file://"):
        text = QUrl(text).toLocalFile()
    return os.path.abspath(os.path.expanduser(text)) if text else ""
