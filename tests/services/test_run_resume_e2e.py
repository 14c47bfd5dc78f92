"""Real training children killed with SIGKILL and resumed as the same run (issue 8 req 5, 11).

On CPU a run killed at step k and resumed from its last checkpoint ends with the same loss
curve (within 1e-4 per step) as one never stopped: the Trainer restores the optimizer,
scheduler and RNG states and skips the batches already seen, across epoch boundaries (22
conversations in batches of 4: an epoch is 6 steps). Each kill is seen by the manager's first
poll after the process is gone, every metric written before it is kept, the resumed curve has
no gap and no duplicate, and the database passes PRAGMA integrity_check.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.engine.demo_corpus import ticket_conversations
from workbench.core.records import TrainConfig
from workbench.jobs.protocol import read_journal
from workbench.services import models
from workbench.services.runs import RunManager, last_checkpoint

pytestmark = pytest.mark.slow

STEPS = 16
# Checkpoints every 2 steps; a high learning rate and dropout, so that a wrong batch order or
# RNG state after the resume would show in the curve.
CONFIG = TrainConfig(r=4, alpha=8, dropout=0.1, learning_rate=1e-2, max_steps=STEPS, batch_size=4,
                     max_length=64, seed=5, save_steps=2, eval_steps=0)


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model_dir):
    from workbench.services import datasets
    from workbench.store import ProjectStore
    from tests.helpers.rows import write_jsonl

    root = tmp_path_factory.mktemp("resume")
    store = ProjectStore.create(str(root / "Resume.wbproj"))
    version = datasets.import_dataset(store, str(write_jsonl(root / "tickets.jsonl", ticket_conversations(22))),
                                      name="tickets")
    model = models.ensure_builtin_model(store, "tiny")
    yield store, version.id, model.id
    store.close()


def _poll_until(manager, predicate, what, timeout=600.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        manager.poll()
        time.sleep(0.02)


def _curve(store, run_id):
    return store.metric_series(run_id, "loss")


def _train_to_the_end(manager, store, run_id):
    _poll_until(manager, lambda: run_id not in manager.active_run_ids(), "the run to end")
    run = store.get_run(run_id)
    assert run.status == "completed", run.error
    return _curve(store, run_id)


@pytest.fixture(scope="module")
def reference(project):
    """The curve of a run never stopped."""
    store, version_id, model_id = project
    manager = RunManager(store)
    try:
        run = manager.start(version_id, model_id, CONFIG, name="never stopped")
        curve = _train_to_the_end(manager, store, run.id)
    finally:
        manager.shutdown(kill=True)
    assert [s for s, _ in curve] == list(range(1, STEPS + 1))
    return curve


def _gone(pid):
    """The process has exited and can be waited for (peeked at with WNOWAIT: the manager,
    whose child it is, still reaps it). A zombie leader whose threads are still exiting is not."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill_at(manager, store, run_id, step):
    """SIGKILL the run's process once it has logged `step` (and saved a checkpoint), then check
    what the manager makes of it: interrupted on its first poll after the process is gone, with
    every metric point the process wrote."""
    work = store.abspath(store.get_run(run_id).work_dir)

    def reached() -> bool:
        run = store.get_run(run_id)
        assert run_id in manager.active_run_ids(), f"the run ended {run.status} before step {step}: {run.error}"
        return run.step >= step and last_checkpoint(work) is not None

    _poll_until(manager, reached, f"step {step}")
    pid = store.get_run(run_id).pid
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + 30
    while not _gone(pid):
        assert time.monotonic() < deadline, "the killed process did not end"
        time.sleep(0.01)
    manager.poll()  # the first poll after the process is gone sees it
    seen_after = time.monotonic() - killed_at
    run = store.get_run(run_id)
    assert run_id not in manager.active_run_ids() and run.status == "interrupted", run.status
    assert "killed (SIGKILL)" in run.error and seen_after < 30
    segment = store.run_segments(run_id)[-1]
    written = {(e.payload["step"], e.payload["values"]["loss"])
               for e in read_journal(os.path.join(work, "journal.jsonl"), segment.journal_start)[0]
               if e.kind == "log" and "loss" in e.payload["values"]}
    assert written and written <= set(_curve(store, run_id))  # every point written before the kill
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return run


def _same_curve(curve, reference):
    assert [s for s, _ in curve] == [s for s, _ in reference]  # no gap, no duplicate
    worst = max(abs(a - b) for (_, a), (_, b) in zip(curve, reference))
    assert worst <= 1e-4, f"the resumed curve differs by up to {worst:.2e}"


def test_a_run_killed_at_several_steps_ends_with_the_curve_of_one_never_stopped(project, reference):
    """Three kills of one run, within the first epoch (6 steps), just past it and late: one run
    covers killed once and killed often (each child start costs seconds, a step almost nothing)."""
    store, version_id, model_id = project
    kills = (4, 7, 11)
    manager = RunManager(store)
    resumes = []
    try:
        run = manager.start(version_id, model_id, CONFIG, name="killed often")
        for step in kills:
            killed = _kill_at(manager, store, run.id, step)
            saved = last_checkpoint(store.abspath(killed.work_dir))
            resumed = manager.resume(run.id)
            kept = [s for s, _ in _curve(store, run.id)]
            assert resumed.id == run.id and kept == list(range(1, resumed.step + 1))
            # It goes back to the newest complete checkpoint, not to where the kill landed.
            assert resumed.step == int(saved.rsplit("-", 1)[1]) <= killed.step
            resumes.append((killed.step, resumed.step))
        curve = _train_to_the_end(manager, store, run.id)
    finally:
        manager.shutdown(kill=True)
    _same_curve(curve, reference)
    segments = store.run_segments(run.id)
    assert [(s.end_status, s.end_step) for s in segments] == \
        [("interrupted", k) for k, _ in resumes] + [("completed", STEPS)]
    assert [s.start_step for s in segments[1:]] == [r for _, r in resumes]
    seqs = [e["seq"] for e in store.run_events(run.id)]
    assert seqs == sorted(set(seqs))
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
