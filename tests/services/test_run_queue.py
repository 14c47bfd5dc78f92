"""The run queue and resuming as the same run, with the stand-in children of test_run_manager
(real RunManager, ChildProcess, store and ingest; no torch).

Queue: runs wait, start one after another, can be reordered and removed, a failure does not
block the ones after it, and the order survives a restart; a run the queue was running that
died while no Workbench watched (a reboot) resumes first, as the same run.
Resume: the same run continues with a new segment; its curve has no gap and no duplicate.
"""

from __future__ import annotations

import os
import signal

import pytest

from tests.services.test_run_manager import _poll_until, _reap, _work, stand_in  # noqa: F401
from workbench.core.errors import WorkbenchError
from workbench.core.records import TrainConfig
from workbench.jobs.protocol import read_journal
from workbench.services import run_queue
from workbench.services.runs import RunManager, last_checkpoint

CONFIG = TrainConfig(max_steps=100)


def _enqueue(manager, version_id, model_id, *names):
    return [manager.enqueue(version_id, model_id, CONFIG, name=n).id for n in names]


def _names(store, ids):
    return [store.get_run(i).name for i in ids]


def _steps(store, run_id):
    return [s for s, _ in store.metric_series(run_id, "loss")]


def test_queued_runs_start_one_after_another_in_the_order_set(project, stand_in):
    store, version_id, model_id = project
    manager = RunManager(store, run_queue=True)
    a, b, c = _enqueue(manager, version_id, model_id, "a", "b", "c")
    assert manager.active_run_ids() == [] and store.get_run(a).status == "queued"
    assert manager.queued_run_ids() == [a, b, c]
    assert manager.move_in_queue(c, 1) == [c, a, b]
    assert run_queue.move_by(store, c, 1) == [a, c, b]

    manager.poll()  # starts the head, only the head
    assert manager.active_run_ids() == [a] and manager.queued_run_ids() == [c, b]
    assert store.get_run(a).status == "running"
    manager.remove_from_queue(b)  # nothing is deleted: it ends cancelled, saying why
    removed = store.get_run(b)
    assert removed.status == "cancelled" and removed.error == run_queue.REMOVED and removed.queue_position is None
    with pytest.raises(WorkbenchError, match="not waiting in the queue"):
        manager.move_in_queue(a, 2)  # running: not a waiting run

    manager.cancel(a)
    _poll_until(manager, lambda: manager.active_run_ids() == [c])
    assert store.get_run(a).status == "cancelled" and store.get_run(a).queue_position is None
    manager.cancel(c)
    _poll_until(manager, lambda: not manager.active_run_ids())
    manager.shutdown()
    assert [store.get_run(i).status for i in (a, b, c)] == ["cancelled"] * 3
    assert store.queued_run_ids() == []


def test_a_run_that_fails_does_not_block_the_queue(project, stand_in):
    store, version_id, model_id = project
    manager = RunManager(store, run_queue=True)
    first, second = _enqueue(manager, version_id, model_id, "crashes", "next")
    stand_in["value"] = "completes-without-adapter"  # reports completed, leaves no adapter: failed
    manager.poll()
    stand_in["value"] = "cooperative"
    _poll_until(manager, lambda: manager.active_run_ids() == [second])
    assert store.get_run(first).status == "failed"
    manager.shutdown(kill=True)
    assert store.get_run(second).status == "cancelled"


def test_a_queued_run_whose_model_is_gone_fails_and_the_next_starts(project, stand_in, tmp_path):
    store, version_id, model_id = project
    manager = RunManager(store, run_queue=True)
    gone_dir = tmp_path / "gone-model"
    gone_dir.mkdir()
    (gone_dir / "config.json").write_text("{}")
    gone = store.add_base_model("gone", "hf_folder", str(gone_dir), "c" * 64)
    first = manager.enqueue(version_id, gone.id, CONFIG, name="model gone").id
    [second] = _enqueue(manager, version_id, model_id, "next")
    (gone_dir / "config.json").unlink()
    manager.poll()
    assert manager.active_run_ids() == [second]
    failed = store.get_run(first)
    assert failed.status == "failed" and "missing on this machine" in failed.error
    manager.shutdown(kill=True)


def test_the_queue_survives_a_restart_and_goes_on_after_the_running_run(project, stand_in):
    store, version_id, model_id = project
    first = RunManager(store, run_queue=True)
    a, b, c = _enqueue(first, version_id, model_id, "a", "b", "c")
    first.poll()
    first.move_in_queue(c, 1)
    _poll_until(first, lambda: store.get_run(a).step >= 2)
    first.shutdown()  # the app closes, Keep Running: a trains on, b and c wait
    assert store.get_run(a).status == "running" and store.queued_run_ids() == [c, b]

    headless = RunManager(store)  # a listing (workbench runs) re-attaches but starts nothing
    headless.poll()
    assert headless.active_run_ids() == [a] and store.queued_run_ids() == [c, b]
    headless.shutdown()

    manager = RunManager(store, run_queue=True)
    assert manager.active_run_ids() == [a]
    manager.poll()
    assert manager.active_run_ids() == [a]  # one at a time
    manager.cancel(a)
    _poll_until(manager, lambda: manager.active_run_ids() == [c])
    manager.shutdown(kill=True)
    assert store.queued_run_ids() == [b]  # stopping for a close holds the queue: b waits
    assert store.get_run(c).status == "cancelled"


def test_after_a_reboot_the_queue_resumes_its_run_as_the_same_run_first(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "saves-every-5"
    first = RunManager(store, run_queue=True)
    a, b = _enqueue(first, version_id, model_id, "a", "b")
    first.poll()
    _poll_until(first, lambda: store.get_run(a).step >= 12)
    pid = store.get_run(a).pid
    first.shutdown()
    os.kill(pid, signal.SIGKILL)  # the machine goes down with the app closed
    assert _reap(pid) == ("signal", signal.SIGKILL)
    checkpoint = last_checkpoint(_work(store, a))
    ckpt_step = int(checkpoint.rsplit("-", 1)[1])
    assert ckpt_step >= 10

    manager = RunManager(store, run_queue=True)  # the next open
    found = store.get_run(a)
    assert found.status == "queued" and store.queued_run_ids() == [a, b]
    assert "ended while Workbench was closed" in found.error
    manager.poll()
    assert manager.active_run_ids() == [a]  # the same run, before b
    _poll_until(manager, lambda: store.get_run(a).step > ckpt_step + 3)
    resumed = store.get_run(a)
    assert resumed.status == "running" and not resumed.error
    segments = store.run_segments(a)
    assert [(s.idx, s.start_step, s.end_status) for s in segments] == [(0, 0, "interrupted"), (1, ckpt_step, None)]
    manager.cancel(a)
    _poll_until(manager, lambda: manager.active_run_ids() == [b])
    manager.shutdown(kill=True)
    steps = _steps(store, a)
    assert steps == list(range(1, len(steps) + 1))  # no gap, no duplicate
    assert store.get_run(a).status == "cancelled"


def test_resume_continues_the_same_run_with_a_new_segment_and_no_duplicate_points(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "saves-every-5"
    manager = RunManager(store)
    run = manager.start(version_id, model_id, CONFIG, name="r")
    _poll_until(manager, lambda: store.get_run(run.id).step >= 13)
    os.kill(store.get_run(run.id).pid, signal.SIGKILL)
    _poll_until(manager, lambda: not manager.active_run_ids())
    killed = store.get_run(run.id)
    assert killed.status == "interrupted"
    before = _steps(store, run.id)
    assert before == list(range(1, killed.step + 1))  # every point up to the kill is kept
    checkpoint = last_checkpoint(_work(store, run.id))
    ckpt_step = int(checkpoint.rsplit("-", 1)[1])
    assert ckpt_step <= killed.step  # usually before it: its later points are dropped at the resume
    # A kill mid-write leaves a partial last line: the resumed run's events must not be glued to it.
    journal = os.path.join(_work(store, run.id), "journal.jsonl")
    with open(journal, "ab") as f:
        f.write(b'{"seq": 100000, "kind": "log", "payl')

    resumed = manager.resume(run.id)
    assert resumed.id == run.id and resumed.status == "running"
    assert resumed.step == ckpt_step and _steps(store, run.id) == list(range(1, ckpt_step + 1))
    _poll_until(manager, lambda: store.get_run(run.id).step > ckpt_step + 5)
    # Re-attached after a restart, the resumed run's journal is read from its segment's start.
    manager.shutdown()
    manager = RunManager(store)
    manager.poll()
    manager.cancel(run.id)
    _poll_until(manager, lambda: not manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "cancelled" and not final.error
    steps = _steps(store, run.id)
    assert steps == list(range(1, final.step + 1))  # continues at the checkpoint: no gap, no duplicate
    segments = store.run_segments(run.id)
    assert [(s.idx, s.start_step, s.end_status) for s in segments] == [
        (0, 0, "interrupted"), (1, ckpt_step, "cancelled")]
    assert segments[0].end_step == killed.step and "killed (SIGKILL)" in segments[0].reason
    assert segments[1].end_step == final.step and segments[1].reason is None
    events = store.run_events(run.id)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    marker = next(e for e in events if e["kind"] == "resumed")
    assert marker["payload"]["start_step"] == ckpt_step and marker["seq"] == segments[1].start_seq + 1
    parsed = read_journal(journal)[0]
    assert any(e.seq > marker["seq"] and e.kind == "cancelled" for e in parsed)


def test_resume_can_wait_in_the_queue(project, stand_in):
    store, version_id, model_id = project
    manager = RunManager(store, run_queue=True)
    run = manager.start(version_id, model_id, CONFIG, name="r")
    _poll_until(manager, lambda: store.get_run(run.id).step >= 2)
    manager.cancel(run.id)
    _poll_until(manager, lambda: not manager.active_run_ids())
    assert manager.resume(run.id, queue=True).status == "queued"
    # Removed again before it started: it goes back to how it had ended, error and all.
    back = manager.remove_from_queue(run.id)
    assert back.status == "cancelled" and back.error != run_queue.REMOVED
    manager.resume(run.id, queue=True)
    manager.poll()
    assert manager.active_run_ids() == [run.id]
    assert [s.start_step > 0 for s in store.run_segments(run.id)] == [False, True]
    manager.shutdown(kill=True)
