"""Polling the training runs off the GUI thread.

RunManager.poll() reads the children's events and ingests them into SQLite (through the run
manager's own connection), follows stops and starts queued runs: work that grows with a run's
event rate and must never stall the window. A RunPoller does it every 250 ms on its own QThread
and hands each PollResult to the GUI thread (a queued signal); poll_once() is the same work for a
caller that wants it now, in its own thread (tests, headless use). The eval runs' EvalManager
(on the same connection as the RunManager) is polled in the same tick.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

if TYPE_CHECKING:
    from workbench.core.eval_records import EvalRun
    from workbench.core.records import Run
    from workbench.services.eval_runs import EvalManager
    from workbench.services.runs import RunManager, StoppingRun

POLL_INTERVAL_MS = 250
_live: set["RunPoller"] = set()  # started and not joined yet (tests check none outlives them)


@dataclass(frozen=True)
class PollResult:
    """What one poll changed."""

    events: list[tuple[str, Any]]  # (run_id, Event), in the order they were read
    metrics: dict[str, list[Any]]  # run_id -> its new MetricRow points (run_ingest.metric_rows)
    runs: dict[str, "Run"]  # re-read: runs that had events, started or ended
    active: tuple[str, ...]  # the runs training after this poll
    list_changed: bool  # a run started or ended (the list or a status changed)
    stopping: tuple["StoppingRun", ...] = ()  # runs asked to stop, not ended yet
    eval_events: list[tuple[str, Any]] = field(default_factory=list)  # (eval_run_id, Event)
    evals: dict[str, "EvalRun"] = field(default_factory=dict)  # re-read: eval runs with events, started or ended
    evals_changed: bool = False  # an eval run started or ended

    @property
    def empty(self) -> bool:
        return not (self.events or self.runs or self.list_changed or self.stopping
                    or self.eval_events or self.evals or self.evals_changed)


@dataclass
class PollState:
    """What the last poll saw, to tell what the next one changed (guarded by the manager's lock:
    the poller thread and poll_once callers share it)."""

    active: tuple[str, ...] = ()
    changes: int = 0
    eval_active: tuple[str, ...] = ()
    eval_changes: int = 0


def initial_state(runs: "RunManager") -> PollState:
    with runs.lock:
        return PollState(tuple(runs.active_run_ids()), runs.changes)


def poll_once(runs: "RunManager", state: PollState, evals: Optional["EvalManager"] = None) -> PollResult:
    """One poll in the calling thread: ingest, then what changed, with the runs re-read through
    the manager's own connection (never the GUI's); the same for the eval runs of `evals`."""
    from workbench.core.errors import WorkbenchError
    from workbench.services import run_views
    from workbench.services.run_ingest import metric_rows

    with runs.lock:
        events = runs.poll()
        active = tuple(runs.active_run_ids())
        # A run can start and end between two polls (the active set looks the same): the
        # manager's change counter still moved.
        list_changed = active != state.active or runs.changes != state.changes
        touched = set(active) ^ set(state.active)
        state.active, state.changes = active, runs.changes
        by_run: dict[str, list[Any]] = {}
        for run_id, event in events:
            by_run.setdefault(run_id, []).append(event)
        records = {}
        for run_id in [*by_run, *sorted(touched - set(by_run))]:
            try:
                records[run_id] = run_views.current_run(runs.store, run_id)
            except WorkbenchError:  # deleted meanwhile
                pass
        stopping = tuple(runs.stopping())
    metrics = {run_id: rows for run_id, evs in by_run.items() if (rows := metric_rows(evs))}
    eval_events, eval_records, evals_changed = _poll_evals(evals, state) if evals is not None else ([], {}, False)
    return PollResult(events, metrics, records, active, list_changed, stopping, eval_events, eval_records, evals_changed)


def _poll_evals(evals: "EvalManager", state: PollState) -> tuple[list[tuple[str, Any]], dict[str, "EvalRun"], bool]:
    from workbench.core.errors import WorkbenchError
    from workbench.services.eval_views import current_eval_run

    with evals.lock:
        events = evals.poll()
        active = tuple(evals.active_ids())
        changed = active != state.eval_active or evals.changes != state.eval_changes
        touched = set(active) ^ set(state.eval_active)
        state.eval_active, state.eval_changes = active, evals.changes
        records = {}
        for eval_run_id in dict.fromkeys([*(i for i, _e in events), *sorted(touched)]):
            try:
                records[eval_run_id] = current_eval_run(evals.store, eval_run_id)
            except WorkbenchError:  # deleted meanwhile
                pass
    return events, records, changed


class _Worker(QObject):
    """Lives in the poller's thread: its timer fires there, so the polls run there."""

    polled = Signal(object)  # PollResult (only when something changed)
    failed = Signal(object)  # the exception a poll raised

    def __init__(self, runs: "RunManager", state: PollState, interval_ms: int,
                 evals: Optional[Callable[[], "EvalManager"]] = None) -> None:
        super().__init__()
        self.runs, self.state, self.interval_ms = runs, state, interval_ms
        self.evals = evals  # makes (the first tick, in this thread) or returns the EvalManager
        self.timer: Optional[QTimer] = None

    @Slot()
    def begin(self) -> None:
        self.timer = QTimer(self)
        self.timer.setInterval(self.interval_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.tick()  # the first poll at once: a run re-attached on open shows without a wait

    @Slot()
    def tick(self) -> None:
        try:
            result = poll_once(self.runs, self.state, self.evals() if self.evals is not None else None)
        except Exception as exc:  # noqa: BLE001 - reported once by the window, never fatal
            traceback.print_exc(file=sys.stderr)
            self.failed.emit(exc)
            return
        if not result.empty:  # a stopping run reports every tick: the close dialog follows it
            self.polled.emit(result)

    @Slot()
    def end(self) -> None:
        if self.timer is not None:
            self.timer.stop()  # in its own thread, as Qt requires
        QThread.currentThread().quit()


class RunPoller(QObject):
    """Polls `runs` every `interval_ms` on its own thread; `polled` / `failed` are delivered in
    the thread that made the poller (the GUI thread). stop() joins the thread."""

    polled = Signal(object)
    failed = Signal(object)
    _end = Signal()

    def __init__(self, runs: "RunManager", state: PollState, interval_ms: int = POLL_INTERVAL_MS,
                 evals: Optional[Callable[[], "EvalManager"]] = None) -> None:
        super().__init__()
        self._thread = QThread()
        self._thread.setObjectName("workbench-run-poller")
        self._worker = _Worker(runs, state, interval_ms, evals)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.begin)
        self._end.connect(self._worker.end)  # queued: the worker lives in the other thread
        self._worker.polled.connect(self.polled)
        self._worker.failed.connect(self.failed)

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def start(self) -> None:
        _live.add(self)
        self._thread.start()

    def stop(self, timeout_ms: int = 60000) -> bool:
        """Stop polling and join the thread (a poll in progress finishes first: one batch of
        events); True when the thread ended."""
        if self._thread.isRunning():
            self._end.emit()
            ok = self._thread.wait(timeout_ms)
        else:
            ok = True
        _live.discard(self)
        return ok


def live_poller_count() -> int:
    """Pollers started and not stopped (a test that leaves one running fails)."""
    return len(_live)
