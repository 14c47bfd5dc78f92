"""Numbered schema migrations. PRAGMA user_version holds the version a database is at.

To change the schema, append a function to MIGRATIONS; never edit one that has shipped.
Before migrating an existing project, the database is backed up next to itself.
"""

from __future__ import annotations

import sqlite3
import struct
from typing import Callable

import sqlite_utils

from workbench.core.errors import ProjectError, SchemaTooNewError


def _v1(db: sqlite_utils.Database) -> None:
    common = {"created_at": str, "created_by": str}
    db["project"].create({"id": str, "name": str, "app_version": str, **common}, pk="id")
    db["datasets"].create({"id": str, "name": str, **common}, pk="id")
    db["dataset_versions"].create(
        {
            "id": str, "dataset_id": str, "content_hash": str, "blob_path": str,
            "row_count": int, "format": str, "source_name": str, "source_size": int,
            "source_hash": str, "options": str, "parent_id": str, **common,
        },
        pk="id",
        foreign_keys=[("dataset_id", "datasets", "id"), ("parent_id", "dataset_versions", "id")],
    )
    db["dataset_versions"].create_index(["dataset_id"])
    db["dataset_versions"].create_index(["source_hash"])
    db["base_models"].create(
        {"id": str, "name": str, "kind": str, "path": str, "fingerprint": str, **common},
        pk="id",
    )
    db["runs"].create(
        {
            "id": str, "name": str, "dataset_version_id": str, "base_model_id": str,
            "config": str, "status": str, "work_dir": str, "pid": int, "adapter_path": str,
            "progress": float, "step": int, "total_steps": int, "first_loss": float,
            "last_loss": float, "seed": int, "environment": str, "error": str,
            "error_advice": str, "started_at": str, "finished_at": str,
            "last_event_at": str, "journal_offset": int, **common,
        },
        pk="id",
        foreign_keys=[
            ("dataset_version_id", "dataset_versions", "id"),
            ("base_model_id", "base_models", "id"),
        ],
        not_null={"status"},
    )
    # Every event a child reported, keyed by (run, seq): ingesting twice is a no-op.
    db["run_events"].create(
        {"run_id": str, "seq": int, "kind": str, "payload": str, "t": float},
        pk=("run_id", "seq"),
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["metric_points"].create(
        {"id": str, "run_id": str, "seq": int, "step": int, "name": str, "value": float, **common},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["metric_points"].create_index(["run_id", "seq", "name"], unique=True)
    db["metric_points"].create_index(["run_id", "name", "step"])
    db["chat_sessions"].create(
        {"id": str, "title": str, "base_model_id": str, "run_id": str, **common},
        pk="id",
        foreign_keys=[("base_model_id", "base_models", "id"), ("run_id", "runs", "id")],
    )
    db["chat_messages"].create(
        {"id": str, "session_id": str, "idx": int, "role": str, "content": str, **common},
        pk="id",
        foreign_keys=[("session_id", "chat_sessions", "id")],
    )
    db["chat_messages"].create_index(["session_id", "idx"], unique=True)


def _v2(db: sqlite_utils.Database) -> None:
    """The run queue and run segments (issue 8).

    runs.queue_position: the run's place in the queue while it waits (status queued) and while
    the queue runs it; NULL otherwise. run_segments: one row per stretch a run's training
    process ran (started, stopped, resumed), with where its events begin in the journal.
    """
    db["runs"].add_column("queue_position", int)
    db["runs"].create_index(["status", "queue_position"])
    db["run_segments"].create(
        {"run_id": str, "idx": int, "started_at": str, "ended_at": str, "start_step": int,
         "end_step": int, "end_status": str, "reason": str, "start_seq": int, "journal_start": int},
        pk=("run_id", "idx"),
        foreign_keys=[("run_id", "runs", "id")],
    )
    # Runs made before segments existed ran once: one segment each, from what the run says.
    db.execute(
        "INSERT INTO run_segments (run_id, idx, started_at, ended_at, start_step, end_step, end_status,"
        " reason, start_seq, journal_start) SELECT id, 0, started_at, finished_at, 0, step,"
        " CASE WHEN status IN ('queued', 'running') THEN NULL ELSE status END, NULL, 0, 0"
        " FROM runs WHERE started_at IS NOT NULL")


def _v3(db: sqlite_utils.Database) -> None:
    """Why a run failed, as a kind (core/failures.py), and what a segment changed as it started
    (an out-of-memory retry's smaller batch)."""
    db["runs"].add_column("failure_kind", str)
    db["run_segments"].add_column("note", str)


def _v4(db: sqlite_utils.Database) -> None:
    """Live monitoring (issue 9): each metric point's wall time (the x axis "time"), and what
    the Runs table shows per run kept on the row, so it needs no scan of metric_points.

    tags is a JSON list; best_loss is backfilled for runs made before (one indexed MIN each).
    A curve is read from one covering index (run, name, step, seq, t, value) in its order, with no
    lookup of each point's table row: a million points load in about a second, not four. It
    replaces the (run, name, step) index, its prefix.
    """
    db["metric_points"].add_column("t", float)
    db.execute("DROP INDEX IF EXISTS idx_metric_points_run_id_name_step")
    db["metric_points"].create_index(["run_id", "name", "step", "seq", "t", "value"], index_name="idx_metric_points_curve")
    for column, kind in (("best_loss", float), ("best_eval_loss", float), ("last_eval_loss", float),
                         ("tokens_per_s", float), ("peak_memory_bytes", int), ("tags", str), ("notes", str)):
        db["runs"].add_column(column, kind)
    db.execute("UPDATE runs SET tags = '[]', notes = ''")
    db.execute("UPDATE runs SET best_loss = (SELECT MIN(value) FROM metric_points m"
               " WHERE m.run_id = runs.id AND m.name = 'loss')")
    db.execute("UPDATE runs SET best_eval_loss = (SELECT MIN(value) FROM metric_points m"
               " WHERE m.run_id = runs.id AND m.name = 'eval_loss')")
    db.execute("UPDATE runs SET last_eval_loss = (SELECT value FROM metric_points m"
               " WHERE m.run_id = runs.id AND m.name = 'eval_loss' ORDER BY step DESC, seq DESC LIMIT 1)")
    # Ended runs measured these at the end (their environment holds them).
    db.execute("UPDATE runs SET peak_memory_bytes = json_extract(environment, '$.peak_memory_bytes'),"
               " tokens_per_s = json_extract(environment, '$.tokens_per_s')"
               " WHERE environment IS NOT NULL AND json_valid(environment)")


def _v5(db: sqlite_utils.Database) -> None:
    """Lean metric points (issue 9): a point is its natural key and two numbers.

    Schema 4 stored a UUID, created_at and created_by per point and three indexes over it:
    about 360 bytes a point on disk (a 100k-step run, 7 metrics a step, took 250 MB). A point is
    a fact of its run (the run carries its author), named by (run, seq, name); a table keyed by
    (run, name, step, seq) WITHOUT ROWID is the curve index itself, in the order curves are read,
    and makes INSERT OR IGNORE idempotent (one seq has one step). value may be NULL: SQLite
    stores a NaN (a diverged loss) as NULL. The rows are copied in key order (the old curve
    index is that order); points of runs that are gone, or missing a key part, are left out
    (the backup taken before migrating keeps them).
    """
    db.execute(
        "CREATE TABLE metric_points_v5 (run_id TEXT NOT NULL REFERENCES runs(id), name TEXT NOT NULL,"
        " step INTEGER NOT NULL, seq INTEGER NOT NULL, t REAL, value REAL,"
        " PRIMARY KEY (run_id, name, step, seq)) WITHOUT ROWID")
    db.execute(
        "INSERT INTO metric_points_v5 (run_id, name, step, seq, t, value)"
        " SELECT run_id, name, step, seq, t, value FROM metric_points"
        " WHERE run_id IN (SELECT id FROM runs) AND name IS NOT NULL AND step IS NOT NULL AND seq IS NOT NULL"
        " ORDER BY run_id, name, step, seq")
    db.execute("DROP TABLE metric_points")  # its indexes go with it
    db.execute("ALTER TABLE metric_points_v5 RENAME TO metric_points")


def _v6(db: sqlite_utils.Database) -> None:
    """Evaluation (issue 10): suites (immutable versions of items + metrics + generation), eval
    runs, each item's result in each run, people's ratings, a training run's gate, and
    cross-validations. Records carry UUIDs and created_at / created_by so projects merge by id.

    eval_runs.run_id names the training run whose adapter was evaluated; it is not a foreign key:
    an eval run keeps its own copy of the adapter and stays a valid result after the run is deleted.
    """
    common = {"created_at": str, "created_by": str}
    db["eval_suites"].create(
        {"id": str, "lineage_id": str, "name": str, "version": int, "parent_id": str, "content_hash": str,
         "item_count": int, "metrics": str, "generation": str, "source": str, "description": str, **common},
        pk="id", foreign_keys=[("parent_id", "eval_suites", "id")])
    db["eval_suites"].create_index(["lineage_id", "version"], unique=True)
    db["eval_items"].create(
        {"suite_id": str, "idx": int, "item_id": str, "messages": str, "refs": str, "label": str, "tags": str},
        pk=("suite_id", "idx"), foreign_keys=[("suite_id", "eval_suites", "id")])
    db["eval_runs"].create(
        {"id": str, "suite_id": str, "suite_hash": str, "base_model_id": str, "run_id": str,
         "checkpoint": str, "step": int, "label": str, "status": str, "work_dir": str, "purpose": str,
         "group_id": str, "done_items": int, "failed_items": int, "total_items": int, "summary": str,
         "judge_model_id": str, "pid": int, "error": str, "error_advice": str, "started_at": str,
         "finished_at": str, "journal_offset": int, "queue_position": int, **common},
        pk="id", not_null={"status"},
        foreign_keys=[("suite_id", "eval_suites", "id"), ("base_model_id", "base_models", "id")])
    db["eval_runs"].create_index(["suite_id"])
    db["eval_runs"].create_index(["run_id"])
    db["eval_runs"].create_index(["status"])
    db["eval_results"].create(
        {"eval_run_id": str, "item_id": str, "idx": int, "output": str, "error": str, "tokens": int,
         "seconds": float, "finish_reason": str, "ref_nll": float, "ref_tokens": int, "judge_score": float,
         "judge_reason": str, "judge_error": str, "scores": str},
        pk=("eval_run_id", "item_id"), foreign_keys=[("eval_run_id", "eval_runs", "id")])
    db["eval_ratings"].create(
        {"id": str, "eval_run_id": str, "item_id": str, "scale": str, "value": float, "comment": str,
         "rater": str, **common},
        pk="id", foreign_keys=[("eval_run_id", "eval_runs", "id")])
    db["eval_ratings"].create_index(["eval_run_id", "item_id"])
    db["run_gates"].create(
        {"run_id": str, "suite_id": str, "rules": str, "every_checkpoint": int, "cv_id": str, "fold": int,
         **common},
        pk="run_id", foreign_keys=[("suite_id", "eval_suites", "id")])
    db["cross_validations"].create(
        {"id": str, "name": str, "dataset_version_id": str, "base_model_id": str, "k": int, "seed": int,
         "config": str, "metrics": str, "generation": str, "run_ids": str, "suite_ids": str, **common},
        pk="id")


def _v7(db: sqlite_utils.Database) -> None:
    """Chat testing and feedback (issue 11): conversations as trees (each message's parent, the
    branch shown), how each reply was made, feedback on replies, arenas with their rounds and
    votes; a dataset version's kind (sft | preference) and the adapter a run started from.
    """
    common = {"created_at": str, "created_by": str}
    for column, kind in (("checkpoint", str), ("system_prompt", str), ("settings", str), ("head_id", str),
                         ("arena_id", str), ("updated_at", str)):
        db["chat_sessions"].add_column(column, kind)
    for column, kind in (("parent_id", str), ("model_key", str), ("settings", str), ("prompt_tokens", int),
                         ("tokens", int), ("seconds", float), ("ttft", float), ("finish_reason", str)):
        db["chat_messages"].add_column(column, kind)
    # Messages written before: one straight branch per session (each follows the one before).
    db.execute("UPDATE chat_messages SET parent_id = (SELECT p.id FROM chat_messages p WHERE"
               " p.session_id = chat_messages.session_id AND p.idx = chat_messages.idx - 1)")
    db.execute("UPDATE chat_sessions SET head_id = (SELECT m.id FROM chat_messages m WHERE"
               " m.session_id = chat_sessions.id ORDER BY m.idx DESC LIMIT 1), updated_at = created_at")
    db["chat_sessions"].create_index(["arena_id"])
    db["chat_feedback"].create(
        {"id": str, "message_id": str, "session_id": str, "kind": str, "value": float, "tags": str,
         "comment": str, "correction": str, "rater": str, **common},
        pk="id", foreign_keys=[("message_id", "chat_messages", "id"), ("session_id", "chat_sessions", "id")])
    db["chat_feedback"].create_index(["message_id"])
    db["chat_feedback"].create_index(["session_id"])
    db["arenas"].create(
        {"id": str, "title": str, "targets": str, "blind": int, "settings": str, "system_prompt": str, **common},
        pk="id")
    db["arena_rounds"].create(
        {"id": str, "arena_id": str, "idx": int, "prompt": str, "sides": str, "blind": int, "revealed": int,
         **common},
        pk="id", foreign_keys=[("arena_id", "arenas", "id")])
    db["arena_rounds"].create_index(["arena_id", "idx"], unique=True)
    db["arena_votes"].create(
        {"id": str, "round_id": str, "arena_id": str, "outcome": str, "rater": str, "blind": int,
         "comment": str, **common},
        pk="id", foreign_keys=[("round_id", "arena_rounds", "id"), ("arena_id", "arenas", "id")])
    db["arena_votes"].create_index(["arena_id"])
    db["arena_votes"].create_index(["round_id"])
    db["dataset_versions"].add_column("kind", str)
    db.execute("UPDATE dataset_versions SET kind = 'sft'")
    db["runs"].add_column("init_run_id", str)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]
SCHEMA_VERSION = len(MIGRATIONS)


def file_schema_version(db_path: str) -> int:
    """user_version read from the file header, without opening (and so touching) the database."""
    with open(db_path, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise ProjectError(
            f"{db_path} is not a Workbench project database.",
            details="The file does not start with the SQLite header.",
            advice="Open the NAME.wbproj folder of a Workbench project.",
        )
    return struct.unpack(">I", header[60:64])[0]


def check_not_newer(db_path: str, app_version: str) -> int:
    version = file_schema_version(db_path)
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            "This project was saved by a newer version of Workbench and cannot be opened.",
            details=f"{db_path}: schema version {version}, this Workbench "
            f"({app_version}) understands up to {SCHEMA_VERSION}.",
            advice="Update Workbench to open it. The project was not changed.",
        )
    return version


def migrate(conn: sqlite3.Connection, db_path: str) -> None:
    db = sqlite_utils.Database(conn)
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current == SCHEMA_VERSION:
        return
    if current > 0:
        backup = sqlite3.connect(f"{db_path}.v{current}.bak")
        with backup:
            conn.backup(backup)
        backup.close()
    for number in range(current + 1, SCHEMA_VERSION + 1):
        with conn:  # each migration is one transaction together with its version bump
            MIGRATIONS[number - 1](db)
            conn.execute(f"PRAGMA user_version = {number}")
    # A migration that rewrote a table (5: metric points) leaves the old one's pages free in the
    # file: give them back to the disk (the file would not shrink by itself). Without room for
    # the copy VACUUM makes, the project stays as migrated; new points reuse the free pages.
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    if free > conn.execute("PRAGMA page_count").fetchone()[0] // 2:
        try:
            conn.execute("VACUUM")
        except sqlite3.OperationalError:
            pass
