"""The run queue and run segments, as store intents (a mixin of ProjectStore).

A queued run waits with status "queued" and a queue_position (smaller goes first); the queue
keeps the position while it runs the run, and finish_run clears it. A segment is one stretch a
run's training process ran: the first start is segment 0, each resume adds one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any, Callable, Optional

import sqlite_utils

from workbench.core.clock import now_iso
from workbench.core.errors import ProjectError
from workbench.core.records import ACTIVE_STATUSES, RunSegment, from_dict


class RunQueueAndSegments:
    """Uses the ProjectStore's connection, lock and `_query` helper."""

    _conn: sqlite3.Connection
    _lock: threading.RLock
    db: sqlite_utils.Database
    _query: Callable[..., list[dict[str, Any]]]

    # -- the queue -------------------------------------------------------------------------------
    def queued_run_ids(self) -> list[str]:
        """The waiting runs, first to start first."""
        rows = self._query("SELECT id FROM runs WHERE status = 'queued' ORDER BY queue_position, created_at, rowid")
        return [r["id"] for r in rows]

    def next_queue_position(self) -> int:
        rows = self._query("SELECT COALESCE(MAX(queue_position), 0) + 1 AS n FROM runs WHERE queue_position IS NOT NULL")
        return rows[0]["n"]

    def queue_run(self, run_id: str, position: Optional[int] = None) -> None:
        """Put an ended (or new) run in the queue at `position` (1 = next to start; None = last)."""
        with self._lock, self._conn:
            status = self._status(run_id)
            if status == "running":
                raise ValueError("A running run cannot wait in the queue.")
            order = [i for i in self.queued_run_ids() if i != run_id]
            at = len(order) if position is None else max(0, min(position - 1, len(order)))
            order.insert(at, run_id)
            self._conn.execute("UPDATE runs SET status = 'queued' WHERE id = ?", (run_id,))
            self._number(order)

    def set_queue_order(self, run_ids: list[str]) -> None:
        """Reorder the waiting runs: `run_ids` must be exactly the queued runs, in the new order."""
        with self._lock, self._conn:
            if sorted(run_ids) != sorted(self.queued_run_ids()):
                raise ProjectError("The queue changed meanwhile: the new order does not list the waiting runs.",
                                   advice="Look at the queue again and repeat the move.")
            self._number(run_ids)

    def _number(self, order: list[str]) -> None:
        # After the queue's running run (if any), so that it stays first for a restart.
        base = self._query("SELECT COALESCE(MAX(queue_position), 0) AS n FROM runs "
                           "WHERE status = 'running' AND queue_position IS NOT NULL")[0]["n"]
        self._conn.executemany("UPDATE runs SET queue_position = ? WHERE id = ?",
                               [(base + i + 1, run_id) for i, run_id in enumerate(order)])

    def _status(self, run_id: str) -> str:
        rows = self._query("SELECT status FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise ProjectError(f"No run with id {run_id} in this project.")
        return rows[0]["status"]

    # -- segments --------------------------------------------------------------------------------
    def run_segments(self, run_id: str) -> list[RunSegment]:
        rows = self._query("SELECT * FROM run_segments WHERE run_id = ? ORDER BY idx", (run_id,))
        return [from_dict(RunSegment, r) for r in rows]

    def last_segment(self, run_id: str) -> Optional[RunSegment]:
        rows = self._query("SELECT * FROM run_segments WHERE run_id = ? ORDER BY idx DESC LIMIT 1", (run_id,))
        return from_dict(RunSegment, rows[0]) if rows else None

    def max_event_seq(self, run_id: str) -> int:
        return self._query("SELECT COALESCE(MAX(seq), 0) AS n FROM run_events WHERE run_id = ?", (run_id,))[0]["n"]

    def start_segment(self, run_id: str, start_step: int, start_seq: int, journal_start: int,
                      from_queue: bool, note: Optional[str] = None) -> RunSegment:
        """The run's training process is about to start (again): status running, a new segment.

        Resuming from the checkpoint at `start_step` drops the metric points of later steps
        (the resumed process logs them again, so the curve has neither a gap nor a duplicate),
        and the run's step, last and best losses go back to what the points kept say.
        """
        with self._lock, self._conn:
            status = self._status(run_id)
            if status == "running":
                raise ValueError("The run is already running.")
            last = self.last_segment(run_id)
            idx = 0 if last is None else last.idx + 1
            row: dict[str, Any] = {"status": "running", "pid": None, "finished_at": None,
                                   "journal_offset": journal_start}
            if not from_queue:
                row["queue_position"] = None
            if idx > 0 or start_step > 0:
                self._conn.execute("DELETE FROM metric_points WHERE run_id = ? AND step > ?", (run_id, start_step))
                total = self._query("SELECT total_steps FROM runs WHERE id = ?", (run_id,))[0]["total_steps"] or 0
                row.update(step=start_step, progress=(start_step / total) if total else 0.0,
                           last_loss=self._last_value(run_id, "loss"), error=None, error_advice=None,
                           last_eval_loss=self._last_value(run_id, "eval_loss"),
                           best_loss=self._min_value(run_id, "loss"),
                           best_eval_loss=self._min_value(run_id, "eval_loss"))
            else:
                row["started_at"] = now_iso()
            self.db["runs"].update(run_id, row)
            segment = RunSegment(run_id=run_id, idx=idx, started_at=now_iso(), start_step=start_step,
                                 start_seq=start_seq, journal_start=journal_start, note=note)
            self.db["run_segments"].insert({
                "run_id": run_id, "idx": idx, "started_at": segment.started_at, "start_step": start_step,
                "start_seq": start_seq, "journal_start": journal_start, "note": note})
        return segment

    def _last_value(self, run_id: str, name: str) -> Optional[float]:
        rows = self._query("SELECT value FROM metric_points WHERE run_id = ? AND name = ? "
                           "ORDER BY step DESC, seq DESC LIMIT 1", (run_id, name))
        return rows[0]["value"] if rows else None

    def _min_value(self, run_id: str, name: str) -> Optional[float]:
        return self._query("SELECT MIN(value) AS v FROM metric_points WHERE run_id = ? AND name = ?",
                           (run_id, name))[0]["v"]

    def set_run_config(self, run_id: str, config: dict[str, Any]) -> None:
        """New settings for an ended run that starts again (an out-of-memory retry): the next
        segment trains with them; the segment's note records the change."""
        with self._lock, self._conn:
            if self._status(run_id) in ACTIVE_STATUSES:
                raise ValueError("A queued or running run keeps its settings.")
            self.db["runs"].update(run_id, {"config": json.dumps(config)})

    def _end_segment(self, run_id: str, status: str, ended_at: str) -> None:
        """Inside finish_run's transaction: the open segment ends with the run's status."""
        if status in ACTIVE_STATUSES:
            return
        run = self._query("SELECT step, error FROM runs WHERE id = ?", (run_id,))[0]
        reason = (run["error"] or "").strip().splitlines()[0] if run["error"] and status != "completed" else None
        self._conn.execute(
            "UPDATE run_segments SET ended_at = ?, end_step = ?, end_status = ?, reason = ? "
            "WHERE run_id = ? AND ended_at IS NULL", (ended_at, run["step"], status, reason, run_id))
