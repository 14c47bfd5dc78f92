"""What a user edits on a run (name, tags, notes) and deleting one, as store intents (a mixin
of ProjectStore).

Deleting is all or nothing: the run's folder is first renamed to a trash name beside it, then
its rows go in one transaction; if that fails the folder is renamed back. Only then is the
trash removed. A trash folder left behind (the app died between the two) is sorted out when the
project next opens: put back if its run's rows are still there, removed if they are gone.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from typing import Any, Callable

from workbench.core.errors import ProjectError

TRASH_PREFIX = ".deleting-"


class RunEdits:
    """Uses the ProjectStore's connection, lock and helpers."""

    path: str
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _query: Callable[..., list[dict[str, Any]]]
    abspath: Callable[[str], str]

    def _set_run_field(self, run_id: str, column: str, value: Any) -> None:
        with self._lock, self._conn:
            if self._conn.execute(f"UPDATE runs SET {column} = ? WHERE id = ?", (value, run_id)).rowcount == 0:
                raise ProjectError(f"No run with id {run_id} in this project.")

    def rename_run(self, run_id: str, name: str) -> None:
        self._set_run_field(run_id, "name", name)

    def set_run_tags(self, run_id: str, tags: list[str]) -> None:
        self._set_run_field(run_id, "tags", json.dumps(list(tags), ensure_ascii=False))

    def set_run_notes(self, run_id: str, notes: str) -> None:
        self._set_run_field(run_id, "notes", notes)

    def run_link_counts(self, run_id: str) -> dict[str, int]:
        """How many rows of other kinds hang on the run: its chat sessions and metric points."""
        chats = self._query("SELECT COUNT(*) AS n FROM chat_sessions WHERE run_id = ?", (run_id,))[0]["n"]
        points = self._query("SELECT COUNT(*) AS n FROM metric_points WHERE run_id = ?", (run_id,))[0]["n"]
        return {"chat_sessions": chats, "metric_points": points}

    def delete_run(self, run_id: str) -> None:
        """Delete the run, its folder and its rows (points, events, segments); its chat sessions
        stay, messages and all, no longer linked to it. Whether it may go is the caller's rule."""
        with self._lock:
            rows = self._query("SELECT work_dir FROM runs WHERE id = ?", (run_id,))
            if not rows:
                raise ProjectError(f"No run with id {run_id} in this project.")
            work = self.abspath(rows[0]["work_dir"]) if rows[0]["work_dir"] else None
            trash = None
            if work and os.path.isdir(work):
                trash = os.path.join(os.path.dirname(work), TRASH_PREFIX + os.path.basename(work))
                try:
                    os.rename(work, trash)
                except OSError as exc:
                    raise ProjectError(f"Cannot delete the run's folder {work}.", details=str(exc),
                                       advice="Close any program that has a file of the run open, then "
                                              "delete it again.") from exc
            try:
                with self._conn:
                    self._conn.execute("UPDATE chat_sessions SET run_id = NULL WHERE run_id = ?", (run_id,))
                    for table in ("metric_points", "run_events", "run_segments", "run_gates"):
                        self._conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                    self._conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            except BaseException as exc:
                if trash is not None and work is not None:
                    os.rename(trash, work)
                if isinstance(exc, sqlite3.DatabaseError):
                    raise ProjectError("The run could not be deleted; nothing of it was removed.",
                                       details=str(exc), advice="Try again; if it fails again, close "
                                       "other Workbench windows on this project.") from exc
                raise
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)  # a leftover goes at the next open

    def sweep_deleted_runs(self) -> None:
        """Finish or undo deletes that were cut short (see the module's docstring)."""
        root = os.path.join(self.path, "runs")
        try:
            names = [n for n in os.listdir(root) if n.startswith(TRASH_PREFIX)]
        except OSError:
            return
        for name in names:
            trash = os.path.join(root, name)
            work_dir = os.path.join("runs", name[len(TRASH_PREFIX):])
            kept = self._query("SELECT id FROM runs WHERE work_dir = ? OR work_dir = ?",
                               (work_dir, self.abspath(work_dir)))
            original = self.abspath(work_dir)
            if kept and not os.path.exists(original):
                try:
                    os.rename(trash, original)
                except OSError:
                    pass  # tried again at the next open
            elif not kept:
                shutil.rmtree(trash, ignore_errors=True)
