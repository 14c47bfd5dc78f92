"""ProjectContext: the open project (store + RunManager) as seen by the pages.

Pages receive the context and subscribe to its signals; the context never knows its pages.
`store` is the GUI thread's connection (cheap indexed reads only). The RunManager has a
connection of its own: a RunPoller polls it on its own thread (start_polling) and the context
turns each result into signals in the GUI thread:

- run_changed(Run): a run's row changed (step, losses, status), once per run and poll;
- run_metrics(dict[run_id, list[MetricRow]]): the new metric points (no SQLite read needed);
- run_events(list[(run_id, Event)]): the events of one poll;
- runs_changed(): only when a run started or ended (or a page changed the list: refresh_runs),
  never per progress tick;
- eval_progress(EvalRun) / eval_events(list[(eval_run_id, Event)]) / evals_changed(): the same
  for eval runs. Their EvalManager is made on the poller's thread at its first tick, on the
  RunManager's connection (it re-attaches a running eval: journal reads the GUI must not wait on).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Optional

from PySide6 import QtCore
from PySide6.QtCore import QObject, Signal

from workbench.ui.shell.poller import POLL_INTERVAL_MS, PollResult, RunPoller, initial_state, poll_once

if TYPE_CHECKING:  # the store pulls in sqlite-utils (and pandas): only once a project opens
    from workbench.core.records import Run
    from workbench.services.eval_runs import EvalManager
    from workbench.services.projects import OpenProject
    from workbench.services.runs import RunManager, StoppingRun


class ProjectContext(QObject):
    datasets_changed = Signal()
    models_changed = Signal()
    runs_changed = Signal()  # the list of runs or a run's status changed
    run_changed = Signal(object)  # Run: one run's row changed (step, losses, status)
    run_metrics = Signal(object)  # dict[run_id, list[MetricRow]]: new points of one poll
    run_events = Signal(object)  # list[tuple[run_id, Event]] from one poll
    evals_changed = Signal()  # an eval run was queued, started or ended (or a page changed the list)
    eval_progress = Signal(object)  # EvalRun: one eval run's row changed (items done, status)
    eval_events = Signal(object)  # list[tuple[eval_run_id, Event]] from one poll
    conversations_changed = Signal()  # a chat conversation was added, renamed or deleted
    feedback_changed = Signal()  # a rating, correction or arena vote was added (feedback lists refresh)
    polled = Signal(object)  # PollResult, after the signals above (the window follows it)
    poll_failed = Signal(object)  # exception raised by RunManager.poll()

    def __init__(self, store: "OpenProject", run_manager: Optional["RunManager"] = None) -> None:
        super().__init__()
        from workbench.services import projects, run_views

        if run_manager is None:  # a new, empty project: nothing to catch up on
            run_manager = projects.open_run_manager(store)
        # The handle pages pass to service functions (they never call its methods).
        self.store = store
        self.project = projects.project_record(store)
        self.runs = run_manager
        self.poller: Optional[RunPoller] = None
        self._evals: Optional["EvalManager"] = None
        self._evals_lock = threading.Lock()
        self._closed = False
        self._quiet = False  # polling stopped (the project is closing)
        self._state = initial_state(run_manager)
        # The latest record of each active run (from the polls; the job indicator reads it).
        self._records: dict[str, "Run"] = {
            run_id: run_views.current_run(store, run_id) for run_id in self._state.active}
        # What active_run_ids / stopping_runs answer while a poll holds the RunManager's lock.
        self._active: tuple[str, ...] = tuple(self._state.active)
        self._stopping: tuple["StoppingRun", ...] = ()

    @property
    def name(self) -> str:
        return self.project.name

    @property
    def path(self) -> str:
        return self.project.path

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def evals(self) -> Optional["EvalManager"]:
        """The EvalManager once made (None before the poller's first tick)."""
        return self._evals

    def eval_manager(self) -> "EvalManager":
        """The project's EvalManager, made on first use: call it off the GUI thread (a worker or
        the poller), since making it re-attaches a running eval from its journal."""
        with self._evals_lock:
            if self._evals is None:
                from workbench.services.eval_runs import EvalManager

                self._evals = EvalManager(self.runs.store)
            return self._evals

    # -- polling ---------------------------------------------------------------------------------
    def start_polling(self, interval_ms: int = POLL_INTERVAL_MS) -> None:
        """Poll the runs every `interval_ms` on the poller's thread (the window does this)."""
        if self._closed or self._quiet or self.poller is not None:
            return
        queued = QtCore.Qt.ConnectionType.QueuedConnection
        self.poller = RunPoller(self.runs, self._state, interval_ms, self.eval_manager)
        self.poller.polled.connect(self._apply, queued)
        self.poller.failed.connect(self._failed, queued)
        self.poller.start()

    @property
    def polling(self) -> bool:
        return self.poller is not None and self.poller.running

    def poll(self) -> list[tuple[str, Any]]:
        """One poll now, in the calling thread (tests, headless use): the same signals."""
        if self._closed:
            return []
        try:
            result = poll_once(self.runs, self._state, self.eval_manager())
        except Exception as exc:  # noqa: BLE001 - reported once by the window, never fatal
            import sys
            import traceback

            traceback.print_exc(file=sys.stderr)
            self._failed(exc)
            return []
        self._apply(result)
        return result.events

    def stop_polling(self) -> None:
        """Stop the poller and join its thread; results still queued are dropped."""
        self._quiet = True
        if self.poller is not None:
            self.poller.stop()

    def _apply(self, result: PollResult) -> None:
        if self._closed or self._quiet:  # a result queued before polling stopped
            return
        for run_id, run in result.runs.items():
            if run_id in result.active:
                self._records[run_id] = run
        for run_id in set(self._records) - set(result.active):
            del self._records[run_id]
        self._active, self._stopping = tuple(result.active), tuple(result.stopping)
        if result.events:
            self.run_events.emit(result.events)
        if result.metrics:
            self.run_metrics.emit(result.metrics)
        for run in result.runs.values():
            self.run_changed.emit(run)
        if result.list_changed:
            self.runs_changed.emit()
        if result.eval_events:
            self.eval_events.emit(result.eval_events)
        for eval_run in result.evals.values():
            self.eval_progress.emit(eval_run)
        if result.evals_changed:
            self.evals_changed.emit()
        self.polled.emit(result)

    def _failed(self, exc: BaseException) -> None:
        if not self._closed:
            self.poll_failed.emit(exc)

    def refresh_runs(self) -> None:
        """A page changed the list (rename, delete, queue edits): the others reload it."""
        self.runs_changed.emit()

    def refresh_evals(self) -> None:
        """A page changed the suites or eval runs (queued, deleted): the others reload them."""
        self.evals_changed.emit()

    def latest_run(self, run_id: str) -> "Run":
        """The latest record of an active run: from the polls, else read once (a run started
        since the last poll)."""
        run = self._records.get(run_id)
        if run is None:
            from workbench.services import run_views

            run = self._records[run_id] = run_views.current_run(self.store, run_id)
        return run

    # -- runs ------------------------------------------------------------------------------------
    def _refresh_run_state(self) -> None:
        """Read the active and stopping runs now, unless a poll in progress on the poller's
        thread holds the RunManager's lock (it ingests): then the last poll's answer stands.
        The GUI thread never waits for a poll."""
        if self.runs.lock.acquire(blocking=False):
            try:
                self._active = tuple(self.runs.active_run_ids())
                self._stopping = tuple(self.runs.stopping())
            finally:
                self.runs.lock.release()

    def active_run_ids(self) -> list[str]:
        """The runs training now (never waits: see _refresh_run_state)."""
        if self._closed:
            return []
        self._refresh_run_state()
        return list(self._active)

    def stop_runs(self) -> list[str]:
        """Ask every active run to stop cooperatively; the polls then follow them to their end."""
        return [] if self._closed else self.runs.stop_all()

    def stopping_runs(self) -> list["StoppingRun"]:
        """The runs asked to stop that have not ended (never waits: see _refresh_run_state)."""
        if self._closed:
            return []
        self._refresh_run_state()
        return list(self._stopping)

    def close(self, stop_runs: bool = False) -> None:
        """Stop polling (joins the poller's thread), detach from the training children (or, with
        stop_runs, stop them and wait: headless callers only; the window calls stop_runs() and
        closes once the polls saw them end) and close both connections."""
        if self._closed:
            return
        self._closed = True
        try:
            self.stop_polling()
            try:
                if self._evals is not None:  # a running eval goes on (re-attached next time) unless stop_runs
                    self._evals.shutdown(kill=stop_runs)
            finally:
                self.runs.shutdown(kill=stop_runs)
        finally:
            from workbench.services import projects

            projects.close_project(self.store, runs=self.runs)
