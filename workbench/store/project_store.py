"""ProjectStore: one open NAME.wbproj folder (project.sqlite + blobs + run folders)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
from typing import Any, Iterable, Optional

import sqlite_utils

from workbench import __version__
from workbench.core.clock import default_user, new_id, now_iso
from workbench.core.errors import ProjectError
from workbench.core.records import (
    ACTIVE_STATUSES,
    RUN_STATUSES,
    BaseModel,
    ChatMessage,
    ChatSession,
    Dataset,
    DatasetVersion,
    Project,
    Run,
    from_dict,
)
from workbench.store import migrations
from workbench.store.chat_store import ChatStore
from workbench.store.evals import EvalStore
from workbench.store.run_edits import RunEdits
from workbench.store.run_report import MetricRow, RunReport
from workbench.store.run_segments import RunQueueAndSegments

DB_NAME = "project.sqlite"
PROJECT_SUFFIX = ".wbproj"
_JSON_FIELDS = {"options", "config", "environment", "tags"}
_JSON_LISTS = {"tags"}  # JSON fields holding a list (the others hold an object)


def _row_to(cls: type, row: dict[str, Any]) -> Any:
    data = dict(row)
    for key in _JSON_FIELDS & data.keys():
        data[key] = json.loads(data[key]) if data[key] else ([] if key in _JSON_LISTS else {})
    if "notes" in data and data["notes"] is None:
        data["notes"] = ""
    return from_dict(cls, data)


class ProjectStore(RunQueueAndSegments, RunEdits, EvalStore, ChatStore):
    """All reads and writes of one project. Thread-safe: one connection guarded by a lock."""

    def __init__(self, path: str, conn: sqlite3.Connection, user: str) -> None:
        self.path = path
        self.user = user
        self._conn = conn
        self._lock = threading.RLock()
        self.db = sqlite_utils.Database(conn)
        row = next(self.db["project"].rows, None)
        if row is None:
            raise ProjectError(f"{path} has no project record.", advice="The project is damaged.")
        self.project = Project(path=path, **{k: row[k] for k in ("id", "name", "created_at", "created_by")})

    # -- opening -------------------------------------------------------------------------------
    @staticmethod
    def _connect(db_path: str) -> sqlite3.Connection:
        conn = sqlite3.connect(db_path, timeout=10.0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @classmethod
    def create(cls, folder: str, name: Optional[str] = None, user: Optional[str] = None) -> "ProjectStore":
        folder = os.path.abspath(folder)
        if not folder.endswith(PROJECT_SUFFIX):
            folder += PROJECT_SUFFIX
        if os.path.exists(os.path.join(folder, DB_NAME)):
            raise ProjectError(
                f"A project already exists at {folder}.", advice="Open it instead, or pick another name."
            )
        name = name or os.path.basename(folder)[: -len(PROJECT_SUFFIX)]
        user = user or default_user()
        created_folder = not os.path.exists(folder)
        os.makedirs(os.path.join(folder, "blobs"), exist_ok=True)
        db_path = os.path.join(folder, DB_NAME)
        try:
            conn = cls._connect(db_path)
            migrations.migrate(conn, db_path)
            with conn:
                sqlite_utils.Database(conn)["project"].insert(
                    {"id": new_id(), "name": name, "app_version": __version__,
                     "created_at": now_iso(), "created_by": user}
                )
        except Exception:
            # Leave nothing half-made behind.
            if created_folder:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        return cls(folder, conn, user)

    @classmethod
    def open(cls, folder: str, user: Optional[str] = None) -> "ProjectStore":
        folder = os.path.abspath(folder)
        db_path = os.path.join(folder, DB_NAME)
        if not os.path.isfile(db_path):
            raise ProjectError(
                f"{folder} is not a Workbench project.",
                details=f"{db_path} does not exist.",
                advice="Choose a NAME.wbproj folder, or create a new project.",
            )
        # Refuse a newer schema before SQLite touches the file (no -wal/-shm, no migration).
        migrations.check_not_newer(db_path, __version__)
        try:
            conn = cls._connect(db_path)
            migrations.migrate(conn, db_path)
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"Cannot open the project database {db_path}.", details=str(exc)) from exc
        store = cls(folder, conn, user or default_user())
        store.sweep_deleted_runs()
        return store

    def connect_again(self) -> "ProjectStore":
        """Another connection to this project's database, for another thread (the run poller):
        SQLite's WAL lets it write while this one reads. The schema is current already (no
        migration, no backup). Close it with close()."""
        with self._lock:
            if self._conn is None:
                raise ProjectError(f"The project {self.path} is closed.")
        return type(self)(self.path, self._connect(os.path.join(self.path, DB_NAME)), self.user)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.DatabaseError:
                    pass
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    # -- helpers ---------------------------------------------------------------------------------
    def abspath(self, rel: str) -> str:
        return rel if os.path.isabs(rel) else os.path.join(self.path, rel)

    def relpath(self, path: str) -> str:
        return os.path.relpath(os.path.abspath(path), self.path)

    def _stamp(self) -> dict[str, str]:
        return {"id": new_id(), "created_at": now_iso(), "created_by": self.user}

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]

    def _one(self, cls: type, table: str, id_: str) -> Any:
        rows = self._query(f"SELECT * FROM {table} WHERE id = ?", (id_,))
        if not rows:
            raise ProjectError(f"No {table.rstrip('s').replace('_', ' ')} with id {id_} in this project.")
        return _row_to(cls, rows[0])

    def _insert(self, table: str, record: dict[str, Any]) -> None:
        row = {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in record.items()}
        with self._lock, self._conn:
            self.db[table].insert(row)

    def _update_run(self, run_id: str, row: dict[str, Any]) -> None:
        row = {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in row.items()}
        with self._lock, self._conn:
            self.db["runs"].update(run_id, row)

    # -- datasets --------------------------------------------------------------------------------
    def add_dataset(self, name: str) -> Dataset:
        record = {**self._stamp(), "name": name}
        self._insert("datasets", record)
        return Dataset(**record)

    def list_datasets(self) -> list[Dataset]:
        return [_row_to(Dataset, r) for r in self._query("SELECT * FROM datasets ORDER BY created_at DESC, rowid DESC")]

    def dataset_name(self, dataset_id: str) -> str:
        return self._one(Dataset, "datasets", dataset_id).name

    def add_version(self, **fields: Any) -> DatasetVersion:
        record = {**self._stamp(), "parent_id": None, "options": {}, "kind": "sft", **fields}
        self._insert("dataset_versions", record)
        return _row_to(DatasetVersion, {**record, "options": json.dumps(record["options"])})

    def list_versions(self, dataset_id: Optional[str] = None) -> list[DatasetVersion]:
        if dataset_id is None:
            rows = self._query("SELECT * FROM dataset_versions ORDER BY created_at DESC, rowid DESC")
        else:
            rows = self._query(
                "SELECT * FROM dataset_versions WHERE dataset_id = ? ORDER BY created_at DESC, rowid DESC", (dataset_id,)
            )
        return [_row_to(DatasetVersion, r) for r in rows]

    def get_version(self, version_id: str) -> DatasetVersion:
        return self._one(DatasetVersion, "dataset_versions", version_id)

    def find_version_by_source(self, source_hash: str, options: dict[str, Any]) -> Optional[DatasetVersion]:
        rows = self._query("SELECT * FROM dataset_versions WHERE source_hash = ?", (source_hash,))
        for row in rows:
            version = _row_to(DatasetVersion, row)
            if all(version.options.get(k) == v for k, v in options.items()):
                return version
        return None

    # -- base models -----------------------------------------------------------------------------
    def add_base_model(self, name: str, kind: str, path: str, fingerprint: str) -> BaseModel:
        record = {**self._stamp(), "name": name, "kind": kind, "path": path, "fingerprint": fingerprint}
        self._insert("base_models", record)
        return BaseModel(**record)

    def list_base_models(self) -> list[BaseModel]:
        return [_row_to(BaseModel, r) for r in self._query("SELECT * FROM base_models ORDER BY created_at, rowid")]

    def get_base_model(self, model_id: str) -> BaseModel:
        return self._one(BaseModel, "base_models", model_id)

    # -- runs ------------------------------------------------------------------------------------
    def add_run(self, **fields: Any) -> Run:
        record = {**self._stamp(), "status": "queued", "progress": 0.0, "step": 0, "total_steps": 0,
                  "journal_offset": 0, "tags": [], "notes": "", **fields}
        self._insert("runs", record)
        return self.get_run(record["id"])

    def list_runs(self) -> list[Run]:
        return [_row_to(Run, r) for r in self._query("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC")]

    def get_run(self, run_id: str) -> Run:
        return self._one(Run, "runs", run_id)

    def journal_offset(self, run_id: str) -> int:
        """How far into its journal a re-attached run's events were read (bookkeeping, not a
        fact of the run, so not on the Run record)."""
        rows = self._query("SELECT journal_offset FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise ProjectError(f"No run with id {run_id} in this project.")
        return rows[0]["journal_offset"] or 0

    def mark_run_started(self, run_id: str, pid: int) -> None:
        """The run's training process is up: `pid` is what a re-opened project re-attaches to."""
        self._update_run(run_id, {"pid": pid})

    def set_run_status(self, run_id: str, status: str) -> None:
        """Change the status of a run that goes on (queued -> running); an end is finish_run."""
        if status not in ACTIVE_STATUSES:
            raise ValueError(f"{status!r} is not an active run status; end a run with finish_run().")
        self._update_run(run_id, {"status": status})

    def finish_run(self, run_id: str, status: str, error: Optional[str] = None,
                   advice: Optional[str] = None, finished_at: Optional[str] = None,
                   failure_kind: Optional[str] = None) -> None:
        """The run has ended with `status`: it has no process any more. `error` and `advice`,
        when given, replace what the child reported (None keeps that); `failure_kind` says why
        it failed or was interrupted (cleared when it completed or was cancelled)."""
        if status not in RUN_STATUSES or status in ACTIVE_STATUSES:
            raise ValueError(f"{status!r} is not a status a run ends with.")
        ended = finished_at or now_iso()
        # An ended run has left the queue; its open segment ends with it.
        row: dict[str, Any] = {"status": status, "finished_at": ended, "pid": None, "queue_position": None,
                               "failure_kind": failure_kind if status in ("failed", "interrupted") else None}
        if error is not None:
            row["error"] = error
            row["error_advice"] = advice or ""
        with self._lock, self._conn:
            self.db["runs"].update(run_id, row)
            self._end_segment(run_id, status, ended)

    def record_events(self, run_id: str, events: list[Any], metrics: list[MetricRow],
                      report: RunReport) -> int:
        """Store events, metric points and what they say about the run in one transaction;
        idempotent by seq. Returns how many events were new.
        """
        with self._lock, self._conn:
            before = self._conn.total_changes
            self._conn.executemany(
                "INSERT OR IGNORE INTO run_events (run_id, seq, kind, payload, t) VALUES (?, ?, ?, ?, ?)",
                [(run_id, e.seq, e.kind, json.dumps(e.payload), e.t) for e in events],
            )
            new = self._conn.total_changes - before
            # A point is keyed by (run, name, step, seq): the same event again changes nothing.
            self._conn.executemany(
                "INSERT OR IGNORE INTO metric_points (run_id, name, step, seq, t, value) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, m.name, m.step, m.seq, m.t, m.value) for m in metrics],
            )
            row = {k: (json.dumps(v) if k in _JSON_FIELDS else v) for k, v in report.columns().items()}
            if row:
                self.db["runs"].update(run_id, row)
        return new

    def run_events(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT seq, kind, payload, t FROM run_events WHERE run_id = ? ORDER BY seq", (run_id,))
        for r in rows:
            r["payload"] = json.loads(r["payload"])
        return rows

    def last_event_kind(self, run_id: str, kinds: tuple[str, ...], after_seq: int = 0) -> Optional[str]:
        """The kind of the run's last event among `kinds` with seq > `after_seq` (a segment's)."""
        marks = ",".join("?" * len(kinds))
        rows = self._query(
            f"SELECT kind FROM run_events WHERE run_id = ? AND seq > ? AND kind IN ({marks})"
            " ORDER BY seq DESC LIMIT 1",
            (run_id, after_seq, *kinds),
        )
        return rows[0]["kind"] if rows else None

    def last_event_payload(self, run_id: str, kind: str, after_seq: int = 0) -> Optional[dict[str, Any]]:
        """The payload of the run's last `kind` event with seq > `after_seq`."""
        rows = self._query("SELECT payload FROM run_events WHERE run_id = ? AND seq > ? AND kind = ?"
                           " ORDER BY seq DESC LIMIT 1", (run_id, after_seq, kind))
        return json.loads(rows[0]["payload"]) if rows else None

    def metric_series(self, run_id: str, name: str = "loss") -> list[tuple[int, float]]:
        rows = self._query(
            "SELECT step, value FROM metric_points WHERE run_id = ? AND name = ? ORDER BY step, seq",
            (run_id, name),
        )
        return [(r["step"], r["value"]) for r in rows]

    # -- chat ------------------------------------------------------------------------------------
    def add_chat_session(self, title: str, base_model_id: str, run_id: Optional[str]) -> ChatSession:
        record = {**self._stamp(), "title": title, "base_model_id": base_model_id, "run_id": run_id}
        self._insert("chat_sessions", record)
        return ChatSession(**record)

    def add_chat_message(self, session_id: str, role: str, content: str) -> ChatMessage:
        with self._lock:
            idx = self._query(
                "SELECT COALESCE(MAX(idx), -1) + 1 AS n FROM chat_messages WHERE session_id = ?", (session_id,)
            )[0]["n"]
            record = {**self._stamp(), "session_id": session_id, "idx": idx, "role": role, "content": content}
            self._insert("chat_messages", record)
        return ChatMessage(**record)

    def chat_messages(self, session_id: str) -> list[ChatMessage]:
        rows = self._query("SELECT * FROM chat_messages WHERE session_id = ? ORDER BY idx", (session_id,))
        return [_row_to(ChatMessage, r) for r in rows]
