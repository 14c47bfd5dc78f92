import hashlib
import os
import sqlite3
import uuid

import pytest

from workbench.core.errors import ProjectError, SchemaTooNewError
from workbench.jobs.protocol import Event
from workbench.store import ProjectStore
from workbench.store.migrations import SCHEMA_VERSION


def _snapshot(folder):
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_create_sets_up_schema_and_pragmas(tmp_path):
    s = ProjectStore.create(str(tmp_path / "Shop"))
    assert s.path.endswith("Shop.wbproj")
    assert os.path.isdir(os.path.join(s.path, "blobs"))
    pragma = lambda name: s.db.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731 - the store's own connection
    assert pragma("user_version") == SCHEMA_VERSION == 7
    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") >= 5000
    tables = set(s.db.table_names())
    assert {"project", "datasets", "dataset_versions", "base_models", "runs", "metric_points",
            "chat_sessions", "chat_messages", "run_segments", "eval_suites", "eval_items", "eval_runs",
            "eval_results", "eval_ratings", "run_gates", "cross_validations"} <= tables
    assert s.project.name == "Shop" and s.project.created_by == "tester"
    uuid.UUID(s.project.id)
    s.close()


def test_records_carry_uuid_created_at_and_by(store):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="text",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/nowhere", "fp")
    run = store.add_run(id=str(uuid.uuid4()), name="r", dataset_version_id=v.id, base_model_id=m.id,
                        config={}, work_dir="runs/x")
    chat = store.add_chat_session("t", m.id, run.id)
    msg = store.add_chat_message(chat.id, "user", "hi")
    for rec in (ds, v, m, run, chat, msg):
        uuid.UUID(rec.id)
        assert rec.created_by == "tester" and rec.created_at.startswith("20")
    assert [x.content for x in store.chat_messages(chat.id)] == ["hi"]


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.add_version(dataset_id="missing", content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")


def test_reopen_keeps_data(tmp_path):
    s = ProjectStore.create(str(tmp_path / "P.wbproj"))
    s.add_dataset("kept")
    s.close()
    s = ProjectStore.open(str(tmp_path / "P.wbproj"))
    assert [d.name for d in s.list_datasets()] == ["kept"]
    s.close()


def test_newer_schema_is_refused_untouched(tmp_path):
    folder = str(tmp_path / "Future.wbproj")
    s = ProjectStore.create(folder)
    s.close()
    conn = sqlite3.connect(os.path.join(folder, "project.sqlite"))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = _snapshot(folder)
    with pytest.raises(SchemaTooNewError) as err:
        ProjectStore.open(folder)
    assert "newer version of Workbench" in err.value.user_message
    assert "not changed" in err.value.advice
    assert _snapshot(folder) == before


def test_not_a_project(tmp_path):
    with pytest.raises(ProjectError):
        ProjectStore.open(str(tmp_path))
    (tmp_path / "project.sqlite").write_text("hello")
    with pytest.raises(ProjectError):
        ProjectStore.open(str(tmp_path))


def test_event_ingestion_is_idempotent(store):
    from workbench.services.run_ingest import ingest

    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    run = store.add_run(id=str(uuid.uuid4()), name="r", dataset_version_id=v.id, base_model_id=m.id,
                        config={}, work_dir="runs/r", status="running")
    events = [Event(1, "started", {"total_steps": 3}), *[
        Event(i + 2, "log", {"step": i + 1, "values": {"loss": 3.0 - i, "learning_rate": 0.1}}) for i in range(3)]]
    ingest(store, run.id, events)
    ingest(store, run.id, events[1:])  # the same lines again, e.g. from the journal after a restart
    assert store.metric_series(run.id) == [(1, 3.0), (2, 2.0), (3, 1.0)]
    assert len(store.metric_series(run.id, "learning_rate")) == 3
    r = store.get_run(run.id)
    assert (r.first_loss, r.last_loss, r.total_steps) == (3.0, 1.0, 3)
    assert len(store.run_events(run.id)) == 4


def _running_run(store):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    return store.add_run(id=str(uuid.uuid4()), name="r", dataset_version_id=v.id, base_model_id=m.id,
                         config={}, work_dir="runs/r", status="queued")


def test_run_intents_start_and_finish_a_run(store):
    run = _running_run(store)
    store.set_run_status(run.id, "running")
    store.mark_run_started(run.id, 4321)
    r = store.get_run(run.id)
    assert (r.status, r.pid, r.finished_at) == ("running", 4321, None)
    store.finish_run(run.id, "interrupted", error="The training process was killed.", advice="Resume it.")
    r = store.get_run(run.id)
    assert (r.status, r.pid, r.error, r.error_advice) == ("interrupted", None, "The training process was killed.",
                                                          "Resume it.")
    assert r.finished_at and r.finished_at.startswith("20")


def test_finish_run_keeps_the_error_the_child_reported(store):
    from workbench.store import RunReport

    run = _running_run(store)
    store.record_events(run.id, [Event(1, "failed", {"message": "Bad row 3"})], [],
                        RunReport(error="Bad row 3", error_advice="Fix row 3."))
    store.finish_run(run.id, "failed", finished_at="2026-12-01T10:00:00")
    r = store.get_run(run.id)
    assert (r.status, r.error, r.error_advice, r.finished_at) == ("failed", "Bad row 3", "Fix row 3.",
                                                                  "2026-12-01T10:00:00")


def test_run_intents_refuse_statuses_that_do_not_fit(store):
    run = _running_run(store)
    with pytest.raises(ValueError):
        store.finish_run(run.id, "running")  # not an end
    with pytest.raises(ValueError):
        store.finish_run(run.id, "done")  # not a status
    with pytest.raises(ValueError):
        store.set_run_status(run.id, "completed")  # an end goes through finish_run
    assert store.get_run(run.id).status == "queued"
    assert not hasattr(store, "update")  # no generic writer that names tables and columns


def test_record_events_sets_only_what_was_reported(store):
    from workbench.store import MetricRow, RunReport

    run = _running_run(store)
    assert store.journal_offset(run.id) == 0
    store.record_events(run.id, [Event(1, "log", {})], [MetricRow(1, 5, "loss", 2.5)],
                        RunReport(step=5, total_steps=10, progress=0.5, first_loss=2.5, last_loss=2.5,
                                  environment={"device": "cpu"}, journal_offset=120))
    store.record_events(run.id, [Event(2, "progress", {})], [], RunReport(step=6, journal_offset=180))
    r = store.get_run(run.id)
    assert (r.step, r.total_steps, r.progress, r.first_loss, r.last_loss) == (6, 10, 0.5, 2.5, 2.5)
    assert r.environment == {"device": "cpu"} and r.error is None
    assert store.journal_offset(run.id) == 180
    assert store.metric_series(run.id) == [(5, 2.5)]
    with pytest.raises(ProjectError):
        store.journal_offset("no-such-run")
