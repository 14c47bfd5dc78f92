"""Stopping training runs: the cooperative stop (stop file + a line to the child), then SIGTERM
and SIGKILL as the polls see the graces pass. A part of RunManager (services/runs.py), kept
apart because stopping is its own concern; every public method holds the manager's lock."""

from __future__ import annotations

import functools
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from workbench.core.clock import now_iso
from workbench.jobs.launch import pid_alive
from workbench.services import run_queue


def locked(method):
    """Run `method` holding the manager's lock: the poller thread polls while the GUI thread
    starts, cancels and queues runs."""
    @functools.wraps(method)
    def with_lock(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return with_lock


@dataclass(frozen=True)
class StoppingRun:
    """A run asked to stop that has not ended yet (for progress shown while a project closes)."""

    run_id: str
    name: str
    stage: str  # "saving" (cooperative stop), "terminating" (SIGTERM sent), "killing" (SIGKILL sent)


class StopEscalation:
    """The stop that follows a cooperative request and is not heeded: SIGTERM after the stop
    grace, SIGKILL after the terminate grace, on later polls. Shared by the RunManager and the
    EvalManager (their tracked children have child, pid, spec_path and the three timestamps)."""

    stop_grace_s: float
    term_grace_s: float

    def _escalate_stop(self, tracked: Any) -> None:
        if tracked.stop_requested_at is None or not self._alive(tracked):
            return
        now = time.monotonic()
        if tracked.terminated_at is None:
            if now - tracked.stop_requested_at > self.stop_grace_s:
                tracked.terminated_at = now
                self._signal(tracked, signal.SIGTERM)
        elif tracked.killed_at is None and now - tracked.terminated_at > self.term_grace_s:
            tracked.killed_at = now
            self._signal(tracked, signal.SIGKILL)

    def _signal(self, tracked: Any, sig: int) -> None:
        if tracked.child is not None:
            tracked.child.terminate() if sig == signal.SIGTERM else tracked.child.kill()
        elif tracked.pid and pid_alive(tracked.pid, must_contain=tracked.spec_path):
            try:
                os.kill(tracked.pid, sig)
            except OSError:  # ended meanwhile, or not ours to signal
                pass


class RunStopping(StopEscalation):
    """RunManager's stopping methods (its _runs, store, lock and graces)."""

    @locked
    def cancel(self, run_id: str) -> None:
        """Stop a run: a waiting one leaves the queue; a training one is asked to save and stop."""
        tracked = self._runs.get(run_id)
        if tracked is None:
            run = self.store.get_run(run_id)
            if run.status == "queued":
                run_queue.remove(self.store, run_id)
            elif run.status == "running":  # no process this manager knows of
                self.store.finish_run(run_id, "cancelled")
            return
        if tracked.stop_requested_at is None:
            tracked.stop_requested_at = time.monotonic()
            with open(tracked.stop_file, "w", encoding="utf-8") as f:
                f.write(now_iso())
            if tracked.child is not None:
                tracked.child.send_line("stop")

    @locked
    def stop_all(self) -> list[str]:
        """Ask every tracked run to stop cooperatively (never blocks); the ids asked. The queue
        is held: nothing new starts (the project is closing); its runs wait for the next open."""
        self._queue_held = True
        for run_id in list(self._runs):
            self.cancel(run_id)
        return list(self._runs)

    @locked
    def stopping(self) -> list[StoppingRun]:
        """The runs asked to stop that have not ended yet, with how far the stop has gone."""
        return [StoppingRun(t.run_id, t.name,
                            "killing" if t.killed_at else "terminating" if t.terminated_at else "saving")
                for t in self._runs.values() if t.stop_requested_at is not None]

    @locked
    def stop_overdue(self) -> bool:
        """A stop request outlived SIGTERM and SIGKILL with room to spare: the process is not
        ours to end (or unkillable); waiting longer is pointless, the next open re-attaches it."""
        limit = self.stop_grace_s + 2 * self.term_grace_s + 5.0
        now = time.monotonic()
        return any(t.stop_requested_at is not None and now - t.stop_requested_at > limit
                   for t in self._runs.values())

