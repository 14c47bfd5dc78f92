"""The store's queue and segment intents, and the migration that added them."""

from __future__ import annotations

import os
import uuid

import pytest

from workbench.core.errors import ProjectError
from workbench.jobs.protocol import Event
from workbench.services.run_ingest import ingest
from workbench.store import ProjectStore
from tests.helpers.old_schema import STAMP, old_project


def _runs(store, n, status="queued"):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    return [store.add_run(id=str(uuid.uuid4()), name=f"r{i}", dataset_version_id=v.id, base_model_id=m.id,
                          config={}, work_dir=f"runs/r{i}", status=status,
                          queue_position=store.next_queue_position() if status == "queued" else None).id
            for i in range(n)]


def test_queue_order_moves_and_the_queue_run_keeps_first_place(store):
    a, b, c = _runs(store, 3)
    assert store.queued_run_ids() == [a, b, c]
    store.set_queue_order([c, a, b])
    assert store.queued_run_ids() == [c, a, b]
    with pytest.raises(ProjectError, match="queue changed"):
        store.set_queue_order([c, a])  # not the waiting runs
    store.start_segment(c, 0, 0, 0, from_queue=True)  # the queue runs c: it keeps its place
    assert store.get_run(c).queue_position is not None and store.queued_run_ids() == [a, b]
    store.set_queue_order([b, a])
    assert store.get_run(c).queue_position < store.get_run(b).queue_position
    store.finish_run(c, "interrupted", error="The machine went down.\nmore")
    assert store.get_run(c).queue_position is None
    store.queue_run(c, position=1)  # back to the head, to resume first
    assert store.queued_run_ids() == [c, b, a]
    store.start_segment(a, 0, 0, 0, from_queue=True)
    with pytest.raises(ValueError, match="running run cannot wait"):
        store.queue_run(a)
    with pytest.raises(ValueError, match="already running"):
        store.start_segment(a, 0, 0, 0, from_queue=True)


def test_segments_record_each_start_stop_and_resume_and_drop_later_points(store):
    [run] = _runs(store, 1, status="running")
    store.finish_run(run, "cancelled")  # not started by a process yet: reset to a clean start
    store.start_segment(run, 0, 0, 0, from_queue=False)
    ingest(store, run, [Event(1, "started", {"total_steps": 10}),
                        *[Event(i + 1, "log", {"step": i, "values": {"loss": 10.0 - i}}) for i in range(1, 8)],
                        Event(9, "progress", {"step": 7, "total_steps": 10})])
    store.finish_run(run, "interrupted", error="The training process was killed (SIGKILL).\ndetails")
    [first] = store.run_segments(run)
    assert (first.start_step, first.end_step, first.end_status) == (0, 7, "interrupted")
    assert first.reason == "The training process was killed (SIGKILL)." and first.ended_at

    second = store.start_segment(run, 4, 9, 1234, from_queue=False)  # resumed from checkpoint-4
    assert (second.idx, second.start_seq, second.journal_start) == (1, 9, 1234)
    resumed = store.get_run(run)
    assert (resumed.status, resumed.step, resumed.last_loss, resumed.error) == ("running", 4, 6.0, None)
    assert resumed.progress == pytest.approx(0.4) and resumed.first_loss == 9.0 and resumed.finished_at is None
    assert [s for s, _ in store.metric_series(run)] == [1, 2, 3, 4]  # later steps are logged again
    assert resumed.best_loss == 6.0  # the best of the points kept, not of the dropped steps 5-7
    assert store.journal_offset(run) == 1234
    ingest(store, run, [Event(10, "log", {"step": 5, "values": {"loss": 5.5}}),
                        Event(11, "completed", {"adapter_path": "runs/r0/adapter"})])
    # An earlier segment's terminal event is not this segment's.
    assert store.last_event_kind(run, ("completed", "cancelled"), after_seq=11) is None
    assert store.last_event_kind(run, ("completed", "cancelled"), after_seq=9) == "completed"
    store.finish_run(run, "completed")
    assert [(s.idx, s.end_status, s.reason) for s in store.run_segments(run)] == [
        (0, "interrupted", first.reason), (1, "completed", None)]
    assert store.max_event_seq(run) == 11


def test_a_version_1_project_migrates_keeping_its_runs_with_one_segment_each(tmp_path):
    folder, db_path, conn, db = old_project(tmp_path, 1)
    for run_id, status, started in (("done", "completed", "2024-01-01"), ("never", "queued", None)):
        db["runs"].insert({"id": run_id, "name": run_id, "dataset_version_id": "v", "base_model_id": "m",
                           "config": "{}", "status": status, "work_dir": f"runs/{run_id}", "step": 30,
                           "started_at": started, "finished_at": started, **STAMP})
    conn.commit()
    conn.close()

    store = ProjectStore.open(str(folder))
    try:
        assert os.path.exists(db_path + ".v1.bak")
        [segment] = store.run_segments("done")
        assert (segment.idx, segment.start_step, segment.end_step, segment.end_status) == (0, 0, 30, "completed")
        assert store.run_segments("never") == [] and store.queued_run_ids() == ["never"]
        assert store.get_run("done").queue_position is None
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()
