"""Closing the main window's project: ask about active runs, and when the user picks Stop Them,
stop them without freezing the window.

Every run (started in this session or re-attached after a restart) gets the same cooperative
stop: the stop request (a file and a line to the child: nothing waits), then the run poller
keeps ingesting its events on its thread while it saves its adapter and a checkpoint, and
RunManager.poll escalates to SIGTERM / SIGKILL after the grace periods. The poller reports every
tick while a run stops; the close completes from those reports once no run is active; what the
user asked for next (quit, open another project) runs after it.
"""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QTimer

from workbench.ui.shell import dialogs
from workbench.ui.common.errors import show_error
from workbench.ui.common.workers import shutdown_workers


def close_project(w, then: Optional[Callable[[], object]] = None) -> bool:
    """True once `w`'s project is closed. False if the user cancelled, or while stopped runs are
    still saving (the close then completes by itself and `then` runs after it)."""
    ctx = w.ctx
    if ctx is None:
        return True
    if w.stopping is not None:  # already waiting for runs: only the follow-up changes
        w.stopping.then = then or w.stopping.then
        w.stopping.show()
        w.stopping.raise_()
        return False
    if ctx.active_run_ids():
        answer = w.ask_about_active_runs(len(ctx.active_run_ids()))
        if answer == dialogs.CANCEL:
            return False
        if answer == dialogs.STOP_RUNS:
            w.stopping = dialogs.StoppingRunsDialog(w, then)
            ctx.stop_runs()
            w.outer.setEnabled(False)  # nothing new starts in a project that is closing
            w.import_action.setEnabled(False)
            w.stopping.show()
            follow_stopping(w)
            return False
    finish_close(w)
    return True


def follow_stopping(w) -> None:
    """Called on each poll while runs stop: show who is left; close when none is."""
    ctx, stopping = w.ctx, w.stopping
    if ctx is None or stopping is None:
        return
    w.statusBar().showMessage(stopping.show_runs(ctx.stopping_runs()))
    if not ctx.active_run_ids() or ctx.runs.stop_overdue():
        then = stopping.then
        finish_close(w)
        if then is not None:
            QTimer.singleShot(0, then)


def finish_close(w) -> None:
    ctx = w.ctx
    if ctx is None:
        return
    ctx.stop_polling()  # joins the poller's thread: no result reaches a page after this
    for page in w.pages:
        page.shutdown()
    # Workers may be using the store (an import): cancel and join them before closing it.
    shutdown_workers()
    w.ctx = None
    try:
        ctx.close()  # detaches whatever is still running (only after stop_overdue)
    except Exception as exc:  # noqa: BLE001
        show_error(w, exc)
    if w.stopping is not None:
        w.stopping.close()
        w.stopping.deleteLater()
        w.stopping = None
        w.statusBar().clearMessage()
        w.outer.setEnabled(True)
    for page in w.pages:
        page.set_context(None)
    w.setWindowTitle("Workbench")
    w.project_label.setText("No project open")
    w.job_status.hide()
    w.show_workspace(False)
    w.project_changed.emit(None)
