"""Migration 4 (live monitoring): metric points keep their time, runs keep what the Runs table
shows (how curves are read: test_metric_points_schema.py); and a second connection for the run
poller."""

from __future__ import annotations

import os
import uuid

import pytest

from workbench.jobs.protocol import Event
from workbench.store import MetricRow, ProjectStore, RunReport
from tests.helpers.old_schema import STAMP, old_project


def _v3_project(tmp_path):
    """A project database exactly as schema version 3 left it, with one run that logged."""
    folder, db_path, conn, db = old_project(tmp_path, 3)
    for run_id, env in (("done", '{"peak_memory_bytes": 12345, "tokens_per_s": 99.5}'), ("empty", None)):
        db["runs"].insert({"id": run_id, "name": run_id, "dataset_version_id": "v", "base_model_id": "m",
                           "config": "{}", "status": "completed", "work_dir": f"runs/{run_id}",
                           "environment": env, **STAMP})
    points = [(1, 1, "loss", 3.0), (2, 2, "loss", 1.5), (3, 3, "loss", 2.0), (3, 3, "eval_loss", 2.5),
              (4, 4, "eval_loss", 2.25)]
    for seq, step, name, value in points:
        db["metric_points"].insert({"id": str(uuid.uuid4()), "run_id": "done", "seq": seq, "step": step,
                                    "name": name, "value": value, **STAMP})
    conn.commit()
    conn.close()
    return str(folder), db_path


def test_a_version_3_project_migrates_backfilling_what_the_runs_table_shows(tmp_path):
    folder, db_path = _v3_project(tmp_path)
    store = ProjectStore.open(folder)
    try:
        assert os.path.exists(db_path + ".v3.bak")
        done = store.get_run("done")
        assert (done.best_loss, done.best_eval_loss, done.last_eval_loss) == (1.5, 2.25, 2.25)
        assert (done.peak_memory_bytes, done.tokens_per_s) == (12345, 99.5)
        assert (done.tags, done.notes) == ([], "")
        empty = store.get_run("empty")
        assert (empty.best_loss, empty.best_eval_loss, empty.peak_memory_bytes, empty.tags) == (None, None, None, [])
        assert store.metric_series("done") == [(1, 3.0), (2, 1.5), (3, 2.0)]  # the points stay
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


def _run(store):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    return store.add_run(id=str(uuid.uuid4()), name="r", dataset_version_id=v.id, base_model_id=m.id,
                         config={}, work_dir="runs/r", status="running")


def test_metric_points_keep_the_event_time(store):
    run = _run(store)
    assert (run.tags, run.notes, run.best_loss) == ([], "", None)
    store.record_events(run.id, [Event(1, "log", {}, 1700000000.5)],
                        [MetricRow(1, 1, "loss", 2.5, 1700000000.5), MetricRow(2, 2, "loss", 2.0)],
                        RunReport(best_loss=2.0, tokens_per_s=10.0, peak_memory_bytes=2 ** 33))
    rows = store.db.execute("SELECT seq, t FROM metric_points WHERE run_id = ? ORDER BY seq", (run.id,)).fetchall()
    assert [tuple(r) for r in rows] == [(1, 1700000000.5), (2, 0.0)]
    r = store.get_run(run.id)
    assert (r.best_loss, r.tokens_per_s, r.peak_memory_bytes) == (2.0, 10.0, 2 ** 33)


def test_connect_again_is_a_second_connection_to_the_same_project(store):
    run = _run(store)
    other = store.connect_again()
    try:
        assert other is not store and other.project == store.project and other.path == store.path
        assert other.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # The poller's connection writes; the GUI's sees it at once, and the reverse.
        other.record_events(run.id, [Event(1, "log", {})], [MetricRow(1, 1, "loss", 2.5, 1.0)],
                            RunReport(step=1, last_loss=2.5))
        assert store.get_run(run.id).step == 1 and store.metric_series(run.id) == [(1, 2.5)]
        store.set_run_status(run.id, "running")
        store.mark_run_started(run.id, 77)
        assert other.get_run(run.id).pid == 77
        # A read held open on one connection does not block the other's write (WAL).
        cursor = store.db.execute("SELECT * FROM metric_points")
        cursor.fetchone()
        other.record_events(run.id, [Event(2, "log", {})], [MetricRow(2, 2, "loss", 2.0, 2.0)], RunReport(step=2))
        cursor.close()
    finally:
        other.close()
    assert store.get_run(run.id).step == 2  # closing the second leaves the first open
    assert not [n for n in os.listdir(store.path) if n.endswith(".bak")]  # no migration, no backup


def test_connect_again_refuses_a_closed_project(tmp_path):
    from workbench.core.errors import ProjectError

    s = ProjectStore.create(str(tmp_path / "Closed.wbproj"))
    s.close()
    with pytest.raises(ProjectError, match="closed"):
        s.connect_again()


def test_run_duration_runs_from_start_to_end_or_now():
    from workbench.core.records import Run

    base = dict(id="r", name="r", dataset_version_id="v", base_model_id="m", config={}, status="running",
                work_dir="runs/r", created_at="x", created_by="me")
    assert Run(**base).duration_s() is None  # not started
    live = Run(**base, started_at="2026-01-01T10:00:00.000+00:00")
    start = 1767261600.0  # 2026-01-01T10:00:00Z
    assert live.duration_s(now=start + 90.5) == pytest.approx(90.5)
    ended = Run(**base, started_at="2026-01-01T10:00:00.000+00:00", finished_at="2026-01-01T11:00:30.250+00:00")
    assert ended.duration_s(now=start + 10 ** 6) == pytest.approx(3630.25)
    assert Run(**base, started_at="garbage").duration_s() is None
