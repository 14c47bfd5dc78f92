"""Migration 5: a metric point is its natural key (run, name, step, seq) and two numbers, in a
WITHOUT ROWID table that is the curve order itself; no id, created_at or created_by per point."""

from __future__ import annotations

import math
import os
import sqlite3
import uuid

import numpy as np
import pytest

from workbench.jobs.protocol import Event
from workbench.services.run_metrics import load_metrics
from workbench.store import MetricRow, ProjectStore, RunReport
from tests.helpers.old_schema import STAMP, old_project

# (seq, step, name, value, t) as schema 4 kept them: a NaN loss was stored as NULL, points
# older than migration 4 have no time.
V4_POINTS = [(1, 1, "loss", 3.0, 100.0), (1, 1, "epoch", 0.5, 100.0), (2, 2, "loss", None, 101.0),
             (3, 3, "loss", 2.0, None), (3, 3, "eval_loss", 2.5, 102.0), (4, 3, "eval_loss", 2.25, 103.0)]


def _v4_project(tmp_path):
    """A project database exactly as schema version 4 left it: two runs with points, and
    points of a run that is gone (written with foreign keys off)."""
    folder, db_path, conn, db = old_project(tmp_path, 4)
    for run_id in ("a", "b"):
        db["runs"].insert({"id": run_id, "name": run_id, "dataset_version_id": "v", "base_model_id": "m",
                           "config": "{}", "status": "completed", "work_dir": f"runs/{run_id}", **STAMP})
    for run_id, points in (("a", V4_POINTS), ("b", V4_POINTS[:2]), ("gone", V4_POINTS[:1])):
        for seq, step, name, value, t in points:
            db["metric_points"].insert({"id": str(uuid.uuid4()), "run_id": run_id, "seq": seq, "step": step,
                                        "name": name, "value": value, "t": t, **STAMP})
    # Enough points that the old table's pages are most of the file (the migration gives them back).
    db["metric_points"].insert_all(
        ({"id": str(uuid.uuid4()), "run_id": "b", "seq": 10 + i, "step": 10 + i, "name": "loss",
          "value": 1.0 / (i + 1), "t": 200.0 + i, **STAMP} for i in range(3000)), batch_size=1000)
    conn.commit()
    conn.close()
    return folder, db_path


def _columns(store):
    return [(r[1], r[2], r[3], r[5]) for r in store.db.execute("PRAGMA table_info(metric_points)")]


def test_a_version_4_project_migrates_its_points_into_the_lean_table(tmp_path):
    folder, db_path = _v4_project(tmp_path)
    size_before = os.path.getsize(db_path)
    store = ProjectStore.open(folder)
    try:
        assert os.path.exists(db_path + ".v4.bak")  # the old rows, ids and all, stay in the backup
        # (name, type, not null, position in the primary key): no id, created_at or created_by.
        assert _columns(store) == [("run_id", "TEXT", 1, 1), ("name", "TEXT", 1, 2), ("step", "INTEGER", 1, 3),
                                   ("seq", "INTEGER", 1, 4), ("t", "REAL", 0, 0), ("value", "REAL", 0, 0)]
        sql = store.db.execute("SELECT sql FROM sqlite_schema WHERE name = 'metric_points'").fetchone()[0]
        assert "WITHOUT ROWID" in sql
        assert [r[1] for r in store.db.execute("PRAGMA index_list(metric_points)")] == ["sqlite_autoindex_metric_points_1"]
        assert [r[0] for r in store.db.execute("PRAGMA foreign_key_list(metric_points)")] == [0]
        rows = store.db.execute("SELECT seq, step, name, value, t FROM metric_points WHERE run_id = 'a'"
                                " ORDER BY seq, name").fetchall()
        assert [tuple(r) for r in rows] == sorted(((s, st, n, v, t) for s, st, n, v, t in V4_POINTS),
                                                  key=lambda r: (r[0], r[2]))
        assert store.db.execute("SELECT COUNT(*) FROM metric_points WHERE run_id = 'b'").fetchone()[0] == 3002
        # A point of a run that no longer exists cannot be shown anywhere: it is left out.
        assert store.db.execute("SELECT COUNT(*) FROM metric_points WHERE run_id = 'gone'").fetchone()[0] == 0
        assert store.metric_series("a", "eval_loss") == [(3, 2.5), (3, 2.25)]
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    finally:
        store.close()
    # The old table's pages went back to the disk (later migrations' empty tables and indexes
    # take a page each: 60% leaves room for them, far below the unvacuumed size).
    assert os.path.getsize(db_path) < size_before * 0.6
    curves = load_metrics(folder, "a")
    loss = curves["loss"]
    assert list(loss.step) == [1, 2, 3] and list(loss.t) == [100.0, 101.0, 0.0]
    assert loss.value[0] == 3.0 and math.isnan(loss.value[1]) and loss.value[2] == 2.0  # NULL was a NaN
    assert list(curves["eval_loss"].seq) == [3, 4]


def _run(store):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    return store.add_run(id=str(uuid.uuid4()), name="r", dataset_version_id=v.id, base_model_id=m.id,
                         config={}, work_dir="runs/r", status="running")


def _points(steps: int, first_seq: int = 1) -> list[MetricRow]:
    names = ("loss", "grad_norm", "learning_rate", "epoch", "tokens_per_s", "memory_bytes", "num_input_tokens_seen")
    return [MetricRow(first_seq + s, s + 1, n, 1.0 / (s + 1) + i, 1.7e9 + s) for s in range(steps)
            for i, n in enumerate(names)]


def test_ingesting_the_same_points_again_changes_nothing(store):
    run = _run(store)
    rows = _points(50)
    store.record_events(run.id, [Event(1, "log", {})], rows, RunReport())
    stored = store.db.execute("SELECT * FROM metric_points ORDER BY run_id, name, step, seq").fetchall()
    before = store.db.conn.total_changes
    store.record_events(run.id, [Event(1, "log", {})], rows[::-1], RunReport())  # the journal read again
    assert store.db.conn.total_changes == before
    assert store.db.execute("SELECT * FROM metric_points ORDER BY run_id, name, step, seq").fetchall() == stored
    assert len(stored) == 350


def test_a_nan_value_is_kept_and_loads_as_nan(store):
    run = _run(store)
    store.record_events(run.id, [], [MetricRow(1, 1, "loss", 2.0, 1.0), MetricRow(2, 2, "loss", float("nan"), 2.0),
                                     MetricRow(3, 3, "loss", float("inf"), 3.0)], RunReport())
    loss = load_metrics(store.path, run.id)["loss"]
    assert list(loss.step) == [1, 2, 3] and loss.value[0] == 2.0 and math.isnan(loss.value[1])
    assert loss.value[2] == np.inf


def test_a_curve_is_read_in_the_tables_own_order(store):
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT seq, step, t, value FROM metric_points"
        " WHERE run_id = ? AND name = ? AND seq > ? ORDER BY step, seq", ("r", "loss", 0)).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "PRIMARY KEY" in details and "TEMP B-TREE" not in details


def test_a_point_costs_under_a_hundred_bytes_on_disk(store):
    try:
        store.db.execute("SELECT COUNT(*) FROM dbstat").fetchone()
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    run = _run(store)
    rows = _points(3000)  # 21,000 points, written a poll's worth (20 steps) at a time
    for i in range(0, len(rows), 140):
        store.record_events(run.id, [], rows[i:i + 140], RunReport())
    used = store.db.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%metric_points%'").fetchone()[0]
    assert used / len(rows) < 100  # schema 4: about 360 (a UUID, two stamps, three indexes)
