"""A run's metric curves as numpy arrays, read off the GUI thread, and its checkpoints' steps.

load_metrics opens its own read-only SQLite connection (WAL lets it read while the poller
writes), so a worker thread never shares the GUI's or the poller's connection. A million points
load in about a second: the points table's key is the curve order, rows go in chunks into numpy.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from itertools import chain
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from workbench.core.errors import ProjectError
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.core.records import MetricRow, Run
from workbench.core.run_files import RUN_RECORD, read_json_object

if TYPE_CHECKING:  # importing this module must not load sqlite-utils (the Runs page imports it)
    from workbench.store import ProjectStore

__all__ = ["CheckpointMark", "MetricRow", "MetricSeries", "checkpoints", "load_metrics", "metric_names"]

DB_NAME = "project.sqlite"  # the store's file name (store.project_store.DB_NAME)
CHUNK = 65536  # rows per fetchmany: big enough to amortise the call, small enough to cancel


@dataclass(frozen=True)
class MetricSeries:
    """One metric of one run: equal-length arrays ordered by step, then seq (the event order)."""

    name: str
    seq: np.ndarray  # int64
    step: np.ndarray  # int64
    t: np.ndarray  # float64, the event's wall time (epoch seconds; 0.0 for points older than it)
    value: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.seq)

    @classmethod
    def empty(cls, name: str) -> "MetricSeries":
        return cls(name, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64),
                   np.empty(0, np.float64))

    @classmethod
    def from_rows(cls, name: str, rows: Sequence[MetricRow]) -> "MetricSeries":
        """The points of `rows` named `name` (rows of other metrics are left out)."""
        mine = [r for r in rows if r.name == name]
        if not mine:
            return cls.empty(name)
        seq = np.fromiter((r.seq for r in mine), np.int64, len(mine))
        step = np.fromiter((r.step for r in mine), np.int64, len(mine))
        t = np.fromiter((r.t or 0.0 for r in mine), np.float64, len(mine))
        value = np.fromiter((r.value for r in mine), np.float64, len(mine))
        order = np.lexsort((seq, step))
        return cls(name, seq[order], step[order], t[order], value[order])


def connect_read_only(project_path: str) -> sqlite3.Connection:
    """A connection of its own that can only read (a worker's: it never writes, never migrates)."""
    db_path = os.path.join(os.path.abspath(project_path), DB_NAME)
    if not os.path.isfile(db_path):
        raise ProjectError(f"{project_path} is not a Workbench project.", details=f"{db_path} does not exist.")
    uri = f"file:{urllib.parse.quote(db_path)}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
    except sqlite3.DatabaseError as exc:
        raise ProjectError(f"Cannot read the project database {db_path}.", details=str(exc)) from exc
    return conn


def _names(conn: sqlite3.Connection, run_id: str) -> list[str]:
    # One seek in the table's key (run_id, name, ...) per name, not a scan of every point.
    out: list[str] = []
    row = conn.execute("SELECT MIN(name) FROM metric_points WHERE run_id = ?", (run_id,)).fetchone()
    while row is not None and row[0] is not None:
        out.append(row[0])
        row = conn.execute("SELECT MIN(name) FROM metric_points WHERE run_id = ? AND name > ?",
                           (run_id, row[0])).fetchone()
    return out


def metric_names(project_path: str, run_id: str) -> list[str]:
    """The names of the metrics the run logged, sorted (a few index seeks)."""
    conn = connect_read_only(project_path)
    try:
        return _names(conn, run_id)
    finally:
        conn.close()


def _series(conn: sqlite3.Connection, run_id: str, name: str, after_seq: int,
            cancel: Optional[CancelToken], tick: Callable[[int], None]) -> MetricSeries:
    # The table's key (run, name, step, seq) is the curve order: a range of it, no sort, no lookups.
    cur = conn.execute("SELECT seq, step, COALESCE(t, 0.0), value FROM metric_points"
                       " WHERE run_id = ? AND name = ? AND seq > ? ORDER BY step, seq",
                       (run_id, name, after_seq))
    parts: list[np.ndarray] = []
    while True:
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk = cur.fetchmany(CHUNK)
        if not chunk:
            break
        # float64 holds seq and step exactly (they are far below 2**53); a NULL value (SQLite
        # keeps a NaN, a diverged loss, as NULL) becomes NaN.
        parts.append(np.fromiter(chain.from_iterable(chunk), np.float64, 4 * len(chunk)).reshape(len(chunk), 4))
        tick(len(chunk))
    if not parts:
        return MetricSeries.empty(name)
    table = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return MetricSeries(name, table[:, 0].astype(np.int64), table[:, 1].astype(np.int64),
                        np.ascontiguousarray(table[:, 2]), np.ascontiguousarray(table[:, 3]))


def load_metrics(project_path: str, run_id: str, names: Optional[Sequence[str]] = None,
                 after_seq: int = 0, progress: Optional[ProgressCallback] = None,
                 cancel: Optional[CancelToken] = None) -> dict[str, MetricSeries]:
    """The run's metrics (all, or `names`; a name it never logged maps to an empty series),
    points with seq > `after_seq` only. Call it from a worker thread; `cancel` stops it
    between chunks (raises core.progress.Cancelled)."""
    conn = connect_read_only(project_path)
    try:
        wanted = list(names) if names is not None else _names(conn, run_id)
        total = 0
        if progress is not None:
            total = conn.execute("SELECT COUNT(*) FROM metric_points WHERE run_id = ? AND seq > ?",
                                 (run_id, after_seq)).fetchone()[0]
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if total:
                report(progress, done / total, "Loading the run's curves")

        out = {name: _series(conn, run_id, name, after_seq, cancel=cancel, tick=tick) for name in wanted}
        report(progress, 1.0, "")
        return out
    finally:
        conn.close()


@dataclass(frozen=True)
class CheckpointMark:
    """A checkpoint the run keeps, as a mark on its curves."""

    step: int
    path: str  # absolute
    best: bool  # the one with the lowest eval loss


def _step_of(name: str) -> Optional[int]:
    head, _, tail = name.partition("-")
    return int(tail) if head == "checkpoint" and tail.isdigit() else None



def checkpoints(store: "ProjectStore", run: Run) -> list[CheckpointMark]:
    """The run's kept checkpoint-N folders in step order, the best (by eval loss) marked: from
    best/'s record once the run ended, else from the newest checkpoint's trainer state while it
    trains. A listdir and a small JSON read or two: call it from a worker."""
    work = store.abspath(run.work_dir)
    root = os.path.join(work, "checkpoints")
    try:
        names = os.listdir(root)
    except OSError:
        names = []
    kept = sorted((step, os.path.join(root, n)) for n in names if (step := _step_of(n)) is not None
                  and os.path.isdir(os.path.join(root, n)))
    best_dir = store.abspath(run.environment.get("best_path") or os.path.join(run.work_dir, "best"))
    best_name = str(read_json_object(os.path.join(best_dir, RUN_RECORD)).get("checkpoint") or "")
    if not best_name and kept:
        state = read_json_object(os.path.join(kept[-1][1], "trainer_state.json"))
        best_name = os.path.basename(os.path.normpath(str(state.get("best_model_checkpoint") or "")))
    best_step = _step_of(best_name)
    marks = [CheckpointMark(step, path, step == best_step) for step, path in kept]
    if best_step is not None and best_step not in {m.step for m in marks} and os.path.isdir(best_dir):
        # Its checkpoint folder is gone, but best/ holds its adapter.
        marks.append(CheckpointMark(best_step, best_dir, True))
        marks.sort(key=lambda m: m.step)
    return marks
