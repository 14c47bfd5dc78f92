"""ProjectContext: the open project (store + RunManager) as seen by the pages.

Pages receive the context and subscribe to its signals; the context never knows its pages.
The main window's poll timer calls poll(), which ingests child-process events through the
RunManager and tells subscribers what changed.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:  # the store pulls in sqlite-utils (and pandas): only once a project opens
    from workbench.services.projects import OpenProject
    from workbench.services.runs import RunManager, StoppingRun

# Event kinds after which a run's row (status, step, losses) has changed.
_RUN_ROW_KINDS = {"started", "progress", "log", "completed", "cancelled", "failed", "checkpoint",
                  "status", "interrupted"}


class ProjectContext(QObject):
    datasets_changed = Signal()
    models_changed = Signal()
    runs_changed = Signal()  # the list of runs or their status/progress changed
    run_events = Signal(object)  # list[tuple[run_id, Event]] from one poll
    poll_failed = Signal(object)  # exception raised by RunManager.poll()

    def __init__(self, store: "OpenProject", run_manager: Optional["RunManager"] = None) -> None:
        super().__init__()
        from workbench.services import projects

        if run_manager is None:
            from workbench.services.runs import RunManager

            run_manager = RunManager(store, run_queue=True)  # the app runs the queue
        # The handle pages pass to service functions (they never call its methods).
        self.store = store
        self.project = projects.project_record(store)
        self.runs = run_manager
        self._closed = False
        self._last_active: tuple[str, ...] = tuple(self.runs.active_run_ids())
        self._last_changes = self.runs.changes

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def path(self) -> str:
        return self.project.path

    @property
    def closed(self) -> bool:
        return self._closed

    def poll(self) -> list[tuple[str, Any]]:
        """Ingest new events of active runs; emit run_events / runs_changed when something did."""
        if self._closed:
            return []
        try:
            events = self.runs.poll()
            active = tuple(self.runs.active_run_ids())
        except Exception as exc:  # noqa: BLE001 - reported once by the window, never fatal
            traceback.print_exc(file=sys.stderr)
            self.poll_failed.emit(exc)
            return []
        if events:
            self.run_events.emit(events)
        # A run can also change without an event (dead pid -> interrupted): compare actives.
        changes = self.runs.changes
        if (active != self._last_active or changes != self._last_changes
                or any(ev.kind in _RUN_ROW_KINDS for _, ev in events)):
            self.runs_changed.emit()
        self._last_active, self._last_changes = active, changes
        return events

    def active_run_ids(self) -> list[str]:
        return [] if self._closed else list(self.runs.active_run_ids())

    def stop_runs(self) -> list[str]:
        """Ask every active run to stop cooperatively; poll() then follows them to their end."""
        return [] if self._closed else self.runs.stop_all()

    def stopping_runs(self) -> list["StoppingRun"]:
        return [] if self._closed else self.runs.stopping()

    def close(self, stop_runs: bool = False) -> None:
        """Detach from the training children (or, with stop_runs, stop them and wait: headless
        callers only; the window calls stop_runs() and closes once poll() saw them end) and
        close the store."""
        if self._closed:
            return
        self._closed = True
        try:
            self.runs.shutdown(kill=stop_runs)
        finally:
            from workbench.services import projects

            projects.close_project(self.store)
