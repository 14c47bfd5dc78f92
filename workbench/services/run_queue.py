"""The run queue's use cases that need no process: its order, moves, removal.

Runs wait with status "queued"; RunManager starts the first when no run is training (one at a
time). The order lives in the project (runs.queue_position), so it survives a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError
from workbench.core.records import Run

if TYPE_CHECKING:
    from workbench.store import ProjectStore

REMOVED = "Removed from the queue before it started."


def queued_runs(store: "ProjectStore") -> list[Run]:
    """The waiting runs, the next to start first."""
    return [store.get_run(run_id) for run_id in store.queued_run_ids()]


def _waiting(store: "ProjectStore", run_id: str) -> list[str]:
    order = store.queued_run_ids()
    if run_id not in order:
        run = store.get_run(run_id)
        raise WorkbenchError(f"Run {run.name} is not waiting in the queue (it is {run.status}).",
                             advice="Only waiting runs can be moved or removed; cancel a running one.")
    return order


def move_to(store: "ProjectStore", run_id: str, position: int) -> list[str]:
    """Move a waiting run to `position` (1 = next to start, clamped to the queue); the new order."""
    order = _waiting(store, run_id)
    order.remove(run_id)
    order.insert(max(0, min(position - 1, len(order))), run_id)
    store.set_queue_order(order)
    return order


def move_by(store: "ProjectStore", run_id: str, delta: int) -> list[str]:
    """Move a waiting run `delta` places later (negative: earlier); the new order."""
    order = _waiting(store, run_id)
    return move_to(store, run_id, order.index(run_id) + 1 + delta)


def remove(store: "ProjectStore", run_id: str) -> Run:
    """Take a waiting run out of the queue. Nothing is deleted: a run that never started ends
    cancelled with its settings kept; one queued to resume goes back to how it had ended."""
    _waiting(store, run_id)
    last = store.last_segment(run_id)
    if last is None or not last.end_status:
        store.finish_run(run_id, "cancelled", error=REMOVED,
                         advice="Its settings are kept in its details: start it again from the Train page.")
    else:  # its error from that end is still on the run (a resume clears it only as it starts)
        store.finish_run(run_id, last.end_status, finished_at=last.ended_at)
    return store.get_run(run_id)
