"""Small dialogs: New Project, About, the "runs are still active" question, and the progress
shown while stopped runs save their adapters before the project closes."""

from __future__ import annotations

import os
import platform
from typing import Callable, Optional, Sequence

from PySide6 import QtCore  # QtCore.Qt at use: its first touch builds ~100 enums (start-up)
from PySide6.QtCore import __version__ as qt_version
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench import __version__
from workbench.services import paths
from workbench.ui.common.theme import app_icon

PROJECT_SUFFIX = ".wbproj"


class NewProjectDialog(QDialog):
    """Asks for a project name and a parent folder; the result is <folder>/<name>.wbproj."""

    def __init__(self, parent: Optional[QWidget] = None, location: Optional[str] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New Project")
        self.setMinimumWidth(520)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. support-bot")
        self.location_edit = QLineEdit(location or paths.projects_dir())
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.location_edit, 1)
        row.addWidget(browse)
        self.result_label = QLabel()
        self.result_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("Location:", row)
        form.addRow("Creates:", self.result_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._update)
        self.location_edit.textChanged.connect(self._update)
        self._update()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Project location", self.location_edit.text())
        if folder:
            self.location_edit.setText(folder)

    def project_path(self) -> Optional[str]:
        name = self.name_edit.text().strip()
        location = self.location_edit.text().strip()
        if not name or not location or any(c in name for c in '/\\:*?"<>|'):
            return None
        if not name.endswith(PROJECT_SUFFIX):
            name += PROJECT_SUFFIX
        return os.path.join(os.path.abspath(os.path.expanduser(location)), name)

    def _update(self) -> None:
        path = self.project_path()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if path is None:
            self.result_label.setText("Enter a name (no / \\ : * ? \" < > |) and a location.")
            ok.setEnabled(False)
        elif os.path.exists(path):
            self.result_label.setText(f"{path} already exists; choose another name.")
            ok.setEnabled(False)
        else:
            self.result_label.setText(path)
            ok.setEnabled(True)


def library_versions() -> list[tuple[str, str]]:
    """Versions of the libraries the GUI process uses, read from metadata (nothing imported)."""
    from importlib import metadata  # slow to import; only the About box needs it

    rows = [("Python", platform.python_version()), ("Qt", qt_version)]
    for dist in ("PySide6-Essentials", "pyqtgraph", "sqlite-utils", "pyarrow", "torch",
                 "transformers", "peft"):
        try:
            rows.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            rows.append((dist, "not installed"))
    return rows


def about_dialog(parent: Optional[QWidget]) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("aboutDialog")
    box.setWindowTitle("About Workbench")
    icon = app_icon()
    if not icon.isNull():
        box.setIconPixmap(icon.pixmap(64, 64))
    libs = "".join(f"<tr><td>{n}</td><td>&nbsp;&nbsp;{v}</td></tr>" for n, v in library_versions())
    box.setText(f"<h3>Workbench {__version__}</h3>"
                "<p>Fine-tune language models locally with LoRA: import data, train, watch the "
                "curves, chat with the result.</p>")
    box.setInformativeText(f"<table>{libs}</table><p>Training and chat run in separate "
                           "processes; the window itself never loads torch.</p>")
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


# Answers of ask_about_active_runs.
KEEP_RUNNING, STOP_RUNS, CANCEL = "keep", "stop", "cancel"


def _ask(parent: Optional[QWidget], title: str, text: str, info: str,
         choices: Sequence[tuple[str, str, "QMessageBox.ButtonRole"]], name: str = "") -> str:
    """A question with a Cancel button; returns the answer of the clicked choice (the first is
    the default), or CANCEL."""
    box = QMessageBox(parent)
    if name:
        box.setObjectName(name)
    box.setWindowTitle(title)
    box.setIcon(QMessageBox.Icon.Question)
    box.setText(text)
    box.setInformativeText(info)
    buttons = {box.addButton(label, role): answer for label, answer, role in choices}
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(next(iter(buttons)))
    box.exec()
    return buttons.get(box.clickedButton(), CANCEL)


def ask_about_active_runs(parent: Optional[QWidget], count: int) -> str:
    runs = "1 training run is" if count == 1 else f"{count} training runs are"
    return _ask(parent, "Training is running", f"{runs} still running.",
                "Keep them running in the background (Workbench picks them up again the next "
                "time you open this project), or stop them now? Stopped runs first save their "
                "adapter and a checkpoint, so they can be resumed; the project closes when they "
                "have.",
                [("Keep Running", KEEP_RUNNING, QMessageBox.ButtonRole.AcceptRole),
                 ("Stop Them", STOP_RUNS, QMessageBox.ButtonRole.DestructiveRole)])


_STAGES = {"saving": "saving its adapter and a checkpoint…",
           "terminating": "did not stop in time: terminating…",
           "killing": "still running: killing…"}


class StoppingRunsDialog(QDialog):
    """Non-modal: the window keeps running (and polling) while stopped runs save and end.

    `then` is what to do once the project has closed (quit, open another project); a later
    close request while this is showing replaces it.
    """

    def __init__(self, parent: Optional[QWidget], then: Optional[Callable[[], object]] = None) -> None:
        super().__init__(parent)
        self.setObjectName("stoppingRunsDialog")
        self.setWindowTitle("Stopping Training")
        self.setModal(False)
        self.setMinimumWidth(460)
        self.then = then
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.runs_list = QListWidget()
        self.runs_list.setObjectName("stoppingRunsList")
        self.runs_list.setMaximumHeight(120)
        bar = QProgressBar()
        bar.setRange(0, 0)  # busy: how long a save takes is not known
        note = QLabel("The project closes by itself when they have finished.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        for widget in (self.label, self.runs_list, bar, note):
            layout.addWidget(widget)

    def show_runs(self, runs: Sequence) -> str:
        """Show the runs still stopping (services.runs.StoppingRun); returns the summary line."""
        count = len(runs)
        summary = (f"Stopping {count} training run{'s' if count != 1 else ''}… saving adapters"
                   if count else "Closing the project…")
        self.label.setText(f"<b>{summary}</b>")
        self.runs_list.clear()
        for run in runs:
            self.runs_list.addItem(f"{run.name}: {_STAGES.get(run.stage, run.stage)}")
        return summary


# Answers of ask_about_conversation (or CANCEL).
KEEP_CONVERSATION, NEW_CONVERSATION = "keep-conversation", "new-conversation"


def ask_about_conversation(parent: Optional[QWidget], model_name: str) -> str:
    """Asked before the Chat page loads another model while a conversation is in view."""
    return _ask(parent, "Load another model", f"Continue this conversation with {model_name}?",
                f"{model_name} sees the messages so far and answers from here on. Or start a "
                "new, empty chat. Either way this conversation stays saved in the project.",
                [("Continue Conversation", KEEP_CONVERSATION, QMessageBox.ButtonRole.AcceptRole),
                 ("Start New Chat", NEW_CONVERSATION, QMessageBox.ButtonRole.ActionRole)],
                name="conversationQuestion")
