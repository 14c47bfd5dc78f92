"""Export merged model…: pick one of a run's adapters (final, best, checkpoint-N) and a folder,
then merge it into its base model in an engine child (services.exports), with progress and Cancel.

Listing the checkpoints and starting the child read the run's folders, so both run in a worker;
the running export is polled from a QTimer (ExportJob.poll never blocks), so the GUI thread
never waits on the merge.
"""

from __future__ import annotations

import html
import os
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.core.memory_estimate import gb
from workbench.core.records import Run
from workbench.ui.common import settings, theme
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import hint
from workbench.ui.common.workers import Task, run_task

FOLDER_KEY = "runs/export_parent"  # where the last export went: the next one is suggested beside it
POLL_MS = 100


def _checkpoints(store: Any, run_id: str, progress: Any = None, cancel: Any = None) -> list:
    from workbench.services.exports import checkpoints_of

    return checkpoints_of(store, run_id)


def _start(store: Any, run_id: str, out_dir: str, checkpoint: str, progress: Any = None, cancel: Any = None) -> Any:
    from workbench.core.progress import Cancelled
    from workbench.services.exports import export_merged

    job = export_merged(store, run_id, out_dir, checkpoint)
    if cancel is not None and cancel.cancelled:  # the app is closing: leave no child behind
        job.cancel()
        try:
            job.wait()
        except (Cancelled, WorkbenchError):
            pass
        raise Cancelled()
    return job


def _is_empty_dir(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is None
    except OSError:
        return False


class ExportDialog(QDialog):
    """state: listing -> ready -> starting -> running -> completed | ready (failed or cancelled)."""

    def __init__(self, store: Any, run: Run, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle(f"Export Merged Model — {run.name}")
        self.setMinimumWidth(620)
        self.store, self.run = store, run
        self.state = "listing"
        self.job: Any = None  # services.exports.ExportJob while one runs
        self.result: Any = None  # services.exports.ExportResult once exported
        self.task: Optional[Task] = None  # the worker listing checkpoints or starting the child
        self._checkpoints: list = []
        self._cancel_asked = self._close_when_done = False

        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setObjectName("exportCheckpoint")
        self.checkpoint_combo.addItem("Reading the run's checkpoints…")
        self.checkpoint_combo.setToolTip("Which of the run's adapters to merge: the final one, the one with the "
                                         "lowest evaluation loss (best), or a periodic checkpoint.")
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in run.name) or "run"
        parent_dir = str(settings.settings().value(FOLDER_KEY, "") or os.path.expanduser("~"))
        self.default_name = f"{name}-merged"
        self.folder_edit = QLineEdit(os.path.join(parent_dir, self.default_name))
        self.folder_edit.setObjectName("exportFolder")
        self.folder_edit.setToolTip("A new or empty folder (a folder Workbench exported to before is replaced).")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)

        self.message = QLabel()
        self.message.setObjectName("exportMessage")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The line that loads the export, in a field the user can select and copy.
        self.load_line = QLineEdit()
        self.load_line.setObjectName("exportLoadLine")
        self.load_line.setReadOnly(True)
        self.load_line.hide()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.hide()
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("primary")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.close_button = QPushButton("Cancel")
        # While exporting it cancels the export and the dialog stays (to say so, or to try again).
        self.close_button.clicked.connect(lambda: self.cancel_export() if self.busy else self.reject())

        form = QFormLayout()
        form.addRow("Checkpoint:", self.checkpoint_combo)
        form.addRow("Save to folder:", folder_row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addWidget(hint("Merge the run's LoRA adapter into its base model and save a plain model folder "
                              "(safetensors weights, config, tokenizer and chat template): it loads with "
                              "transformers alone, without peft or Workbench."))
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.load_line)
        layout.addWidget(self.bar)
        layout.addStretch(1)
        layout.addLayout(buttons)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.folder_edit.textChanged.connect(self._update)
        self._update()
        task = self.task = run_task(_checkpoints, store, run.id, name="list checkpoints")
        task.finished.connect(self._listed)
        task.failed.connect(self._list_failed)
        task.done.connect(lambda: self._task_done(task))

    # -- choosing ----------------------------------------------------------------------------------
    def _listed(self, checkpoints: list) -> None:
        self._checkpoints = checkpoints
        combo = self.checkpoint_combo
        combo.clear()
        for info in checkpoints:
            combo.addItem(info.title, info.label)
            combo.setItemData(combo.count() - 1, info.path, Qt.ItemDataRole.ToolTipRole)
        labels = [info.label for info in checkpoints]
        default = "best" if "best" in labels else "final"
        combo.setCurrentIndex(labels.index(default) if default in labels else 0)
        self.state = "ready"
        if not checkpoints:
            self._say("This run saved no adapter, so there is nothing to export. Resume it or start a new run.",
                      error=True)
        self._update()

    def _list_failed(self, exc: BaseException) -> None:
        self.checkpoint_combo.clear()
        self.state = "ready"
        self._say("Could not read the run's checkpoints.", error=True)
        self._update()
        show_error(self, exc, "Cannot export")

    def _task_done(self, task: Task) -> None:
        if self.task is task:
            self.task = None

    def checkpoint(self) -> Optional[str]:
        return self.checkpoint_combo.currentData()

    def folder(self) -> str:
        text = self.folder_edit.text().strip()
        return os.path.abspath(os.path.expanduser(text)) if text else ""

    def ask_folder(self, start: str) -> str:
        """The folder picker (tests replace this to answer it)."""
        return QFileDialog.getExistingDirectory(self, "Choose a Folder for the Merged Model", start)

    def browse(self) -> None:
        current = self.folder()
        start = current if os.path.isdir(current) else os.path.dirname(current) or os.path.expanduser("~")
        picked = self.ask_folder(start)
        if picked:
            # An empty folder (perhaps just made in the picker) is the export; any other is
            # where a new folder for it goes, so nothing already there is replaced.
            self.folder_edit.setText(picked if _is_empty_dir(picked) else os.path.join(picked, self.default_name))

    # -- exporting ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.state in ("starting", "running")

    def start_export(self) -> None:
        if self.state not in ("ready", "completed") or not self.checkpoint() or not self.folder():
            return
        out = self.folder()
        settings.settings().setValue(FOLDER_KEY, os.path.dirname(out))
        self.state, self.result, self._cancel_asked = "starting", None, False
        self.load_line.hide()
        self.bar.setValue(0)
        self.bar.show()
        self._say("Starting the export…")
        self._update()
        task = self.task = run_task(_start, self.store, self.run.id, out, self.checkpoint(), name="start export")
        task.finished.connect(self._started)
        task.failed.connect(self._failed)
        task.cancelled.connect(self._start_cancelled)  # the app closed meanwhile (shutdown_workers)
        task.done.connect(lambda: self._task_done(task))

    def _started(self, job: Any) -> None:
        self.job, self.state = job, "running"
        if self._cancel_asked:  # Cancel was pressed while the child was starting
            job.cancel()
        self.timer.start()
        self._update()

    def _start_cancelled(self) -> None:
        self.state = "ready"  # _start stopped the child it had started
        self.bar.hide()
        self._say("Export cancelled: nothing was written.")
        self._update()
        self._finish_close()

    def _poll(self) -> None:
        job = self.job
        if job is None:
            self.timer.stop()
            return
        job.poll()
        self.bar.setValue(int(job.fraction * 1000))
        if not job.done:
            message = html.escape(f"{job.message[:1].upper()}{job.message[1:]}…")
            self._say("Cancelling…" if self._cancel_asked else message)
            return
        self.timer.stop()
        self.job = None
        if job.state == "completed":
            self._completed(job.result)
        elif job.state == "cancelled":
            self.state = "ready"
            self.bar.hide()
            self._say("Export cancelled: nothing was written.")
        else:
            self._failed(job.error or WorkbenchError("The export failed."))
            return
        self._update()
        self._finish_close()

    def _completed(self, result: Any) -> None:
        self.result, self.state = result, "completed"
        which = result.checkpoint + (f" (step {result.step})" if result.step is not None else "")
        size = f", {gb(result.size_bytes)}" if result.size_bytes else ""
        self._say(f"<b>Exported</b> {html.escape(which)} to <b>{html.escape(result.path)}</b> "
                  f"({html.escape(result.dtype)}{size}). Plain transformers loads it, without peft or Workbench:")
        self.load_line.setText(f"AutoModelForCausalLM.from_pretrained({result.path!r})")
        self.load_line.setCursorPosition(0)
        self.load_line.show()

    def _failed(self, exc: BaseException) -> None:
        self.job, self.state = None, "ready"
        self.bar.hide()
        self._say("The export failed: nothing was written.", error=True)
        self._update()
        if not self._finish_close():
            show_error(self, exc, "Export failed")

    def cancel_export(self) -> None:
        """Ask the export to stop; it ends (and the dialog says so) over the next polls."""
        if not self.busy or self._cancel_asked:
            return
        self._cancel_asked = True
        if self.job is not None:
            self.job.cancel()
        self._say("Cancelling…")
        self._update()

    def reject(self) -> None:
        # Escape or the window's close button while exporting: cancel, and close once the child
        # has stopped (a dialog that went away would leave it unwatched).
        if self.busy:
            self._close_when_done = True
            self.cancel_export()
            return
        super().reject()

    def _finish_close(self) -> bool:
        if self._close_when_done and not self.busy:
            self._close_when_done = False
            super().reject()
            return True
        return False

    # -- what the dialog shows ---------------------------------------------------------------------
    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(f"<span style='color:{theme.colors().error_text}'>{text}</span>" if error else text)

    def _update(self) -> None:
        idle = self.state in ("ready", "completed")
        self.checkpoint_combo.setEnabled(idle and bool(self._checkpoints))
        self.folder_edit.setEnabled(idle)
        self.browse_button.setEnabled(idle)
        can = idle and bool(self._checkpoints) and bool(self.folder())
        self.export_button.setEnabled(can)
        self.export_button.setText("Export Again" if self.state == "completed" else "Export")
        self.export_button.setToolTip("" if can else (
            "Reading the run's checkpoints…" if self.state == "listing" else
            "Choose a checkpoint and a folder." if idle else "An export is running."))
        self.close_button.setText("Close" if idle or self.state == "listing" else "Cancel Export")
        self.close_button.setEnabled(not self._cancel_asked)
        # A longer message wraps onto more lines: grow the dialog rather than clip them.
        self.layout().activate()
        self.resize(self.width(), max(self.height(), self.layout().totalHeightForWidth(self.width())))


class ExportCommand(QObject):
    """The Runs page's "Export merged model…": an action with its shortcut (active while the page
    is on screen), a button that is the action, and the dialog it opens for the selected run."""

    def __init__(self, page: QWidget, selection: Callable[[], tuple[Any, Optional[Run]]]) -> None:
        super().__init__(page)
        self._page, self._selection = page, selection  # selection() -> (store, run) on screen
        self.action = QAction("Export merged model…", page)
        self.action.setShortcut(QKeySequence("Ctrl+E"))
        self.action.setIconText(self.action.text())  # the button's text; Qt's default drops the "…"
        self.action.triggered.connect(lambda _checked=False: self.open())
        page.addAction(self.action)
        self.button = QToolButton()
        self.button.setObjectName("exportButton")
        self.button.setDefaultAction(self.action)  # it follows the action's state and tooltip
        self.dialog: Optional[ExportDialog] = None
        self.follow(None)

    def follow(self, run: Optional[Run]) -> None:
        from workbench.core.records import CHATTABLE_STATUSES

        ok = run is not None and run.status in CHATTABLE_STATUSES and bool(run.adapter_path)
        self.action.setEnabled(ok)
        self.action.setToolTip("Merge this run's adapter into its base model as a plain model folder (Ctrl+E)"
                               if ok else "A completed or cancelled run with an adapter can be exported.")

    def open(self) -> Optional[ExportDialog]:
        store, run = self._selection()
        if store is None or run is None or not self.action.isEnabled():
            return None
        dialog = self.dialog = ExportDialog(store, run, self._page)
        dialog.finished.connect(lambda _result: self._closed(dialog))
        dialog.open()  # window-modal, without a nested event loop
        return dialog

    def _closed(self, dialog: ExportDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        if dialog.task is not None:  # closed while the checkpoints were being read: they still arrive
            dialog.task.done.connect(dialog.deleteLater)
        else:
            dialog.deleteLater()

    def shutdown(self) -> None:
        if self.dialog is not None:
            self.dialog.reject()  # a running export is cancelled, then the dialog closes
