"""Metric points on disk: bytes per point, insert and load times, schema 4 against the current one.

Not a timed test: it prints figures. One run of N points (7 metrics a step, as a training run
logs: loss, grad_norm, learning_rate, epoch, tokens_per_s, memory_bytes, num_input_tokens_seen)
is written into two fresh projects, one at schema version 4 (a UUID, created_at and created_by
per point, three indexes) and one at the current schema, in transactions of 140 points (a
poll's 20 steps), then:

- bytes per point: the database file after a WAL checkpoint, over N (and per table / index);
- load: services.run_metrics.load_metrics of all the run's curves (best of 3, warm cache);
- tail: load_metrics of the points after the last 20 steps' seq (best of 3);
- re-ingest: the last batch inserted again (must change nothing);
- migration: opening a copy of the schema-4 project with the current ProjectStore (backup
  included), when the current schema is newer.

    .venv/bin/python tests/benchmarks/bench_metric_points.py [--points 1000000] [--dir /tmp/wb-bench-points]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import sqlite_utils  # noqa: E402

from workbench.services.run_metrics import load_metrics  # noqa: E402
from workbench.store import MetricRow, ProjectStore, RunReport, migrations  # noqa: E402

NAMES = ("loss", "grad_norm", "learning_rate", "epoch", "tokens_per_s", "memory_bytes", "num_input_tokens_seen")
BATCH = 140
RUN_ID = "26112316-33b0-4674-a0c2-546b76ad35bc"  # a run id is a UUID
V4_INSERT = ("INSERT OR IGNORE INTO metric_points (id, run_id, seq, step, name, value, t, created_at, created_by)"
             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _rows(points: int) -> list[MetricRow]:
    rows, t0 = [], 1_795_000_000.0
    steps = -(-points // len(NAMES))
    for step in range(1, steps + 1):
        t = t0 + step * 0.37
        values = (3.0 / (1 + step / 5000) + (step % 17) * 1e-3, 0.8 + (step % 11) * 0.01, 2e-4 * (1 - step / steps),
                  step / steps * 3, 1500.0 + step % 97, 5e8 + step % 1024 * 4096.0, step * 512.0)
        rows.extend(MetricRow(step, step, name, value, t) for name, value in zip(NAMES, values))
    return rows[:points]


def _seed(db: sqlite_utils.Database) -> None:
    stamp = {"created_at": "2026-01-01T00:00:00.000+00:00", "created_by": "me"}
    db["project"].insert({"id": str(uuid.uuid4()), "name": "Bench", "app_version": "0", **stamp})
    db["datasets"].insert({"id": "d", "name": "d", **stamp})
    db["dataset_versions"].insert({"id": "v", "dataset_id": "d", **stamp})
    db["base_models"].insert({"id": "m", "name": "m", **stamp})
    db["runs"].insert({"id": RUN_ID, "name": "r", "dataset_version_id": "v", "base_model_id": "m", "config": "{}",
                       "status": "running", "work_dir": f"runs/{RUN_ID}", **stamp})


def _v4_project(folder: str, rows: list[MetricRow]) -> tuple[float, int]:
    """A schema-4 project holding `rows`, written as schema 4's record_events wrote points."""
    os.makedirs(os.path.join(folder, "blobs"))
    conn = ProjectStore._connect(os.path.join(folder, "project.sqlite"))
    db = sqlite_utils.Database(conn)
    with conn:
        for number, migration in enumerate(migrations.MIGRATIONS[:4], start=1):
            migration(db)
            conn.execute(f"PRAGMA user_version = {number}")
        _seed(db)
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        with conn:
            stamp = "2026-01-01T00:00:00.000+00:00"
            conn.executemany(V4_INSERT, [(str(uuid.uuid4()), RUN_ID, m.seq, m.step, m.name, m.value, m.t, stamp, "me")
                                         for m in rows[i:i + BATCH]])
    elapsed = time.perf_counter() - start
    before = conn.total_changes
    with conn:
        conn.executemany(V4_INSERT, [(str(uuid.uuid4()), RUN_ID, m.seq, m.step, m.name, m.value, m.t, "x", "me")
                                     for m in rows[-BATCH:]])
    again = conn.total_changes - before
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return elapsed, again


def _current_project(folder: str, rows: list[MetricRow]) -> tuple[float, int]:
    """A project at the current schema holding `rows`, written by ProjectStore.record_events."""
    os.makedirs(os.path.join(folder, "blobs"))
    conn = ProjectStore._connect(os.path.join(folder, "project.sqlite"))
    migrations.migrate(conn, os.path.join(folder, "project.sqlite"))
    with conn:
        _seed(sqlite_utils.Database(conn))
    conn.close()
    store = ProjectStore.open(folder)
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        store.record_events(RUN_ID, [], rows[i:i + BATCH], RunReport())
    elapsed = time.perf_counter() - start
    before = store.db.conn.total_changes
    store.record_events(RUN_ID, [], rows[-BATCH:], RunReport())
    again = store.db.conn.total_changes - before
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return elapsed, again


def _best(fn, times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _sizes(db_path: str) -> list[tuple[str, float]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT name, SUM(pgsize) FROM dbstat WHERE name LIKE '%metric_points%'"
                            " GROUP BY name ORDER BY 2 DESC").fetchall()
    except sqlite3.OperationalError:  # an SQLite built without dbstat
        return []
    finally:
        conn.close()


def _report(label: str, folder: str, rows: list[MetricRow], insert_s: float, again: int) -> None:
    n = len(rows)
    db_path = os.path.join(folder, "project.sqlite")
    size = os.path.getsize(db_path)
    load = _best(lambda: load_metrics(folder, RUN_ID))
    loaded = load_metrics(folder, RUN_ID)
    assert sum(len(s) for s in loaded.values()) == n, "load_metrics lost points"
    tail_seq = rows[-1].seq - 20
    tail = _best(lambda: load_metrics(folder, RUN_ID, after_seq=tail_seq))
    print(f"\n{label} (schema {migrations.file_schema_version(db_path)}), {n:,} points:")
    print(f"  on disk          {size / 1e6:8.1f} MB   {size / n:6.1f} bytes/point")
    for name, nbytes in _sizes(db_path):
        print(f"    {name:36s} {nbytes / 1e6:8.1f} MB   {nbytes / n:6.1f} bytes/point")
    print(f"  insert           {insert_s:8.2f} s    {n / insert_s:,.0f} points/s ({BATCH} a transaction)")
    print(f"  re-ingest        {again} rows changed by the last batch again")
    print(f"  load_metrics     {load:8.3f} s    all {len(loaded)} curves")
    print(f"  tail (20 steps)  {tail * 1e3:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/wb-bench-points")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    rows = _rows(args.points)
    v4 = os.path.join(args.dir, "V4.wbproj")
    insert_s, again = _v4_project(v4, rows)
    _report("Schema 4", v4, rows, insert_s, again)
    if migrations.SCHEMA_VERSION > 4:
        copy = os.path.join(args.dir, "Migrated.wbproj")
        shutil.copytree(v4, copy)
        start = time.perf_counter()
        ProjectStore.open(copy).close()
        migrate_s = time.perf_counter() - start
        size = os.path.getsize(os.path.join(copy, "project.sqlite"))
        print(f"\nMigrating that project to schema {migrations.SCHEMA_VERSION}: {migrate_s:.2f} s (backup included),"
              f" then {size / 1e6:.1f} MB ({size / len(rows):.1f} bytes/point)")
        assert sum(len(s) for s in load_metrics(copy, RUN_ID).values()) == len(rows), "the migration lost points"
    current = os.path.join(args.dir, "Current.wbproj")
    insert_s, again = _current_project(current, rows)
    _report("Current", current, rows, insert_s, again)
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
