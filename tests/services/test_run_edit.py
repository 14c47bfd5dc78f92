"""Editing runs: rename, tags, notes, duplicate settings, and deleting all or nothing."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import uuid

import pytest

from workbench.core.errors import ProjectError, WorkbenchError
from workbench.core.records import TrainConfig
from workbench.jobs.protocol import Event
from workbench.services import run_edit
from workbench.services.run_ingest import ingest
from workbench.store import ProjectStore
from workbench.store.run_edits import TRASH_PREFIX


def _run(store, status="completed", name="r"):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    run_id = str(uuid.uuid4())
    return store.add_run(id=run_id, name=name, dataset_version_id=v.id, base_model_id=m.id,
                         config=dataclasses.asdict(TrainConfig(r=4, batch_size=2)), work_dir=f"runs/{run_id}",
                         status=status)


def _trained_folder(store, run):
    """The folder a run leaves (the layout RunManager and the engine write): checkpoints, the
    final adapter, best/, its log and journal."""
    work = store.abspath(run.work_dir)
    for sub in ("checkpoints/checkpoint-2", "checkpoints/checkpoint-4", "adapter", "best"):
        os.makedirs(os.path.join(work, sub))
        with open(os.path.join(work, sub, "adapter_model.safetensors"), "wb") as f:
            f.write(b"\0" * 1000)
    for name in ("train.log", "journal.jsonl"):
        with open(os.path.join(work, name), "w") as f:
            f.write("x" * 100)
    store.start_segment(run.id, 0, 0, 0, from_queue=False)
    ingest(store, run.id, [Event(1, "started", {"total_steps": 4}),
                           *[Event(i + 1, "log", {"step": i, "values": {"loss": 3.0 - i}}) for i in range(1, 5)],
                           Event(6, "completed", {"adapter_path": os.path.join(work, "adapter")})])
    store.finish_run(run.id, "completed")
    return work


def test_rename_tags_and_notes(store):
    run = _run(store)
    run_edit.rename_run(store, run.id, "  lr sweep\n 3e-4 ")
    assert store.get_run(run.id).name == "lr sweep 3e-4"
    for bad, message in (("   ", "needs a name"), ("x" * 201, "up to 200")):
        with pytest.raises(WorkbenchError, match=message):
            run_edit.rename_run(store, run.id, bad)
    assert store.get_run(run.id).name == "lr sweep 3e-4"
    assert run_edit.set_tags(store, run.id, [" baseline", "", "lr  sweep", "baseline"]) == ["baseline", "lr sweep"]
    assert store.get_run(run.id).tags == ["baseline", "lr sweep"]
    with pytest.raises(WorkbenchError, match="up to 50"):
        run_edit.set_tags(store, run.id, ["t" * 51])
    run_edit.set_notes(store, run.id, "Loss spikes at step 40.\nTry warmup.")
    reopened = ProjectStore.open(store.path)
    try:
        kept = reopened.get_run(run.id)
        assert (kept.name, kept.tags, kept.notes) == ("lr sweep 3e-4", ["baseline", "lr sweep"],
                                                      "Loss spikes at step 40.\nTry warmup.")
    finally:
        reopened.close()
    with pytest.raises(ProjectError, match="No run"):
        run_edit.rename_run(store, "no-such-run", "x")


def test_duplicate_config_gives_the_settings_the_run_trains_with(store):
    run = _run(store)
    config, version_id, model_id = run_edit.duplicate_config(store, run.id)
    assert config == TrainConfig(r=4, batch_size=2) and (version_id, model_id) == (run.dataset_version_id,
                                                                                    run.base_model_id)


def test_delete_removes_the_folder_and_rows_and_unlinks_its_chats(store):
    run = _run(store)
    other = _run(store, name="other")
    _trained_folder(store, other)
    work = _trained_folder(store, run)
    chat = store.add_chat_session("about r", run.base_model_id, run.id)
    store.add_chat_message(chat.id, "user", "hello")
    preview = run_edit.delete_preview(store, run.id)
    assert (preview.checkpoints, preview.adapter, preview.chat_sessions, preview.metric_points) == (2, True, 1, 4)
    assert preview.bytes == 4 * 1000 + 2 * 100
    assert run_edit.delete_run(store, run.id) == preview
    assert not os.path.exists(work) and not [n for n in os.listdir(os.path.dirname(work)) if n.startswith(TRASH_PREFIX)]
    with pytest.raises(ProjectError):
        store.get_run(run.id)
    for table in ("metric_points", "run_events", "run_segments"):
        assert store.db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (run.id,)).fetchone()[0] == 0
    [session] = [s for s in store.db.execute("SELECT id, run_id FROM chat_sessions").fetchall()]
    assert tuple(session) == (chat.id, None) and [m.content for m in store.chat_messages(chat.id)] == ["hello"]
    # The other run is untouched.
    assert store.get_run(other.id).status == "completed" and os.path.isdir(store.abspath(other.work_dir))
    assert len(store.metric_series(other.id)) == 4
    assert store.db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_an_active_run_is_not_deleted(store):
    for status, advice in (("running", "Cancel it first"), ("queued", "remove it from the queue")):
        run = _run(store, status=status)
        os.makedirs(store.abspath(run.work_dir))
        with pytest.raises(WorkbenchError, match="cannot be deleted") as err:
            run_edit.delete_run(store, run.id)
        assert advice in err.value.advice
        assert store.get_run(run.id).status == status and os.path.isdir(store.abspath(run.work_dir))


def test_a_delete_that_fails_in_the_database_keeps_the_folder(store):
    run = _run(store)
    work = _trained_folder(store, run)
    # Another connection holds the write lock: the delete's transaction cannot commit.
    blocker = sqlite3.connect(os.path.join(store.path, "project.sqlite"), timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    store._conn.execute("PRAGMA busy_timeout = 100")
    try:
        with pytest.raises(ProjectError, match="nothing of it was removed"):
            run_edit.delete_run(store, run.id)
    finally:
        blocker.rollback()
        blocker.close()
    assert os.path.isdir(os.path.join(work, "checkpoints", "checkpoint-4"))
    assert store.get_run(run.id).status == "completed" and len(store.metric_series(run.id)) == 4


def test_a_delete_cut_short_is_finished_or_undone_at_the_next_open(store):
    kept, gone = _run(store, name="kept"), _run(store, name="gone")
    kept_work, gone_work = _trained_folder(store, kept), _trained_folder(store, gone)
    # As if the app died between renaming the folders and committing: one run's rows are still
    # there (its folder comes back), the other's went (its trash goes).
    trash = {w: os.path.join(os.path.dirname(w), TRASH_PREFIX + os.path.basename(w)) for w in (kept_work, gone_work)}
    for work, to in trash.items():
        os.rename(work, to)
    with store._lock, store._conn:
        for table in ("metric_points", "run_events", "run_segments"):
            store._conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (gone.id,))
        store._conn.execute("DELETE FROM runs WHERE id = ?", (gone.id,))
    store.close()
    reopened = ProjectStore.open(store.path)
    try:
        assert os.path.isdir(os.path.join(kept_work, "adapter")) and not os.path.exists(trash[kept_work])
        assert not os.path.exists(gone_work) and not os.path.exists(trash[gone_work])
        assert reopened.get_run(kept.id).status == "completed"
    finally:
        reopened.close()
