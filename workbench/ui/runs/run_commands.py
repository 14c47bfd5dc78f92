"""The Runs page's edits of runs (services.run_edit): rename, tags, delete with a confirmation
that lists what goes, open the run's folder, and duplicate its settings onto the Train page.

Dialogs open window-modal with open() (no nested event loop); deleting, and the listing of
what a delete removes, run in a worker on a connection of their own (a run's curves can be a
million rows; the GUI's connection is never held meanwhile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional, Sequence

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from workbench.core.errors import WorkbenchError
from workbench.ui.common.errors import show_error
from workbench.ui.common.workers import Task, run_task

if TYPE_CHECKING:
    from workbench.core.records import Run
    from workbench.ui.shell.context import ProjectContext


def parse_tags(text: str) -> list[str]:
    """"a, b ,, a" -> ["a", "b"]: comma-separated, trimmed, each once, in order."""
    out: list[str] = []
    for part in text.split(","):
        tag = part.strip()
        if tag and tag not in out:
            out.append(tag)
    return out


def _previews(store, run_ids: list[str], progress=None, cancel=None):
    from workbench.services import run_edit

    own = store.connect_again()
    try:
        return [run_edit.delete_preview(own, run_id) for run_id in run_ids]
    finally:
        own.close()


def _delete(store, run_ids: list[str], progress=None, cancel=None):
    from workbench.services import run_edit

    own = store.connect_again()
    try:
        done = []
        for i, run_id in enumerate(run_ids):
            done.append(run_edit.delete_run(own, run_id))
            if progress is not None:
                progress((i + 1) / len(run_ids), "")
        return done
    finally:
        own.close()


def _size(n: int) -> str:
    from workbench.core.memory_estimate import gb

    return gb(n) if n else "0 MB"


def delete_text(runs: Sequence["Run"], previews: Sequence, busy: Sequence["Run"]) -> tuple[str, str]:
    """(question, details) for the confirmation."""
    lines = []
    for run, p in zip(runs, previews):
        what = [f"{p.checkpoints} checkpoint{'s' if p.checkpoints != 1 else ''}"]
        if p.adapter:
            what.append("its adapter")
        what.append(f"{_size(p.bytes)} on disk")
        if p.chat_sessions:
            what.append(f"{p.chat_sessions} chat session{'s' if p.chat_sessions != 1 else ''} keep their "
                        f"messages without it")
        lines.append(f"• {run.name}: {', '.join(what)}")
    for run in busy:
        lines.append(f"• {run.name} is {run.status}: cancel it first (it is not deleted)")
    n = len(runs)
    question = f"Delete {'the run ' + runs[0].name if n == 1 else f'{n} runs'}? This cannot be undone."
    return question, "\n".join(lines)


class RunCommands(QObject):
    duplicate_requested = Signal(object)  # services.run_edit.duplicate_config's result + the run's name
    changed = Signal(list)  # run ids whose rows changed (renamed, tagged) or that were deleted

    def __init__(self, page: QWidget, status: Callable[[str], None]) -> None:
        super().__init__(page)
        self._page, self._status = page, status
        self.ctx: Optional["ProjectContext"] = None
        self.dialog: Optional[QWidget] = None  # the open tags / delete dialog (tests answer it)
        self.task: Optional[Task] = None  # the preview or the delete under way

    # -- rename and tags ----------------------------------------------------------------------
    def rename(self, run_id: str, name: str) -> bool:
        if self.ctx is None:
            return False
        from workbench.services import run_edit

        try:
            run_edit.rename_run(self.ctx.store, run_id, name)
        except Exception as exc:  # noqa: BLE001 - a bad name is the user's to fix
            show_error(self._page, exc, "Cannot rename the run")
            return False
        self.changed.emit([run_id])
        return True

    def edit_tags(self, runs: Sequence["Run"]) -> Optional[QInputDialog]:
        if self.ctx is None or not runs:
            return None
        common = [t for t in runs[0].tags if all(t in r.tags for r in runs[1:])]
        dialog = QInputDialog(self._page)
        dialog.setObjectName("tagsDialog")
        dialog.setWindowTitle("Tags")
        dialog.setLabelText(f"Tags of {runs[0].name if len(runs) == 1 else f'{len(runs)} runs'} "
                            f"(separated by commas):")
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setTextValue(", ".join(common))
        ids, before = [r.id for r in runs], {r.id: list(r.tags) for r in runs}
        dialog.textValueSelected.connect(lambda text: self._set_tags(ids, before, common, parse_tags(text)))
        self._open(dialog)
        return dialog

    def _set_tags(self, ids: list[str], before: dict[str, list[str]], common: list[str], tags: list[str]) -> None:
        if self.ctx is None:
            return
        from workbench.services import run_edit

        try:
            for run_id in ids:
                # Several runs: the tags they shared are replaced, each run's own others kept.
                own = [t for t in before[run_id] if t not in common and t not in tags]
                run_edit.set_tags(self.ctx.store, run_id, own + tags if len(ids) > 1 else tags)
        except Exception as exc:  # noqa: BLE001
            show_error(self._page, exc, "Cannot set the tags")
        self.changed.emit(ids)

    # -- delete -------------------------------------------------------------------------------
    def delete(self, runs: Sequence["Run"], active_ids: Sequence[str]) -> Optional[Task]:
        """List what goes (in a worker), then ask; nothing is deleted before the answer."""
        if self.ctx is None or (self.task is not None and self.task.running):
            return None
        from workbench.core.records import ACTIVE_STATUSES

        busy = [r for r in runs if r.id in active_ids or r.status in ACTIVE_STATUSES]
        doomed = [r for r in runs if r not in busy]
        if not doomed:
            show_error(self._page, WorkbenchError("A run that is training or waiting in the queue cannot be deleted.",
                                                  advice="Cancel it (or remove it from the queue) first."),
                       "Cannot delete")
            return None
        task = self.task = run_task(_previews, self.ctx.store, [r.id for r in doomed], name="delete preview")
        task.finished.connect(lambda previews: self._confirm(doomed, previews, busy))
        task.failed.connect(lambda exc: show_error(self._page, exc, "Cannot delete"))
        return task

    def _confirm(self, runs: list["Run"], previews: list, busy: list["Run"]) -> None:
        question, details = delete_text(runs, previews, busy)
        box = QMessageBox(self._page)
        box.setObjectName("deleteRunsDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Delete runs" if len(runs) > 1 else "Delete run")
        box.setText(question)
        box.setInformativeText(details)
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        ids = [r.id for r in runs]
        delete.clicked.connect(lambda: self._delete_now(ids))
        self._open(box)

    def _delete_now(self, run_ids: list[str]) -> None:
        if self.ctx is None:
            return
        task = self.task = run_task(_delete, self.ctx.store, run_ids, name="delete runs")
        task.finished.connect(lambda summaries: self._deleted(run_ids, summaries))
        task.failed.connect(lambda exc: self._delete_failed(run_ids, exc))

    def _deleted(self, run_ids: list[str], summaries: list) -> None:
        n = len(run_ids)
        self._status(f"Deleted {n} run{'s' if n != 1 else ''}")
        self.changed.emit(run_ids)

    def _delete_failed(self, run_ids: list[str], exc: BaseException) -> None:
        self.changed.emit(run_ids)  # the ones deleted before it went
        show_error(self._page, exc, "Cannot delete")

    # -- folder and settings ------------------------------------------------------------------
    def open_folder(self, run: "Run") -> bool:
        if self.ctx is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(self.ctx.store.abspath(run.work_dir)))

    def duplicate(self, run: "Run") -> None:
        if self.ctx is None:
            return
        from workbench.services import run_edit

        try:
            config, version_id, model_id = run_edit.duplicate_config(self.ctx.store, run.id)
        except Exception as exc:  # noqa: BLE001
            show_error(self._page, exc, "Cannot duplicate the settings")
            return
        self.duplicate_requested.emit((config, version_id, model_id, run.name))

    def _open(self, dialog: QWidget) -> None:
        from PySide6.QtCore import Qt

        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = dialog
        dialog.finished.connect(lambda _r, d=dialog: self._closed(d))
        dialog.open()

    def _closed(self, dialog: QWidget) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def shutdown(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
        if self.task is not None:
            self.task.cancel()
