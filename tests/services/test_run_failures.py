"""Failures a run explains: its kind (core/failures.py) recorded, the log's last lines in the
error, and out of memory retried with half the batch and double the accumulation, by the user
or by the run itself, as the same run from its checkpoint.

The real RunManager and ChildProcess run; the engine's command line is a stand-in that runs
out of memory (reports it as the engine does) while the batch is above a limit."""

from __future__ import annotations

import sys
import textwrap

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.records import TrainConfig
from workbench.jobs import launch
from tests.helpers.runs import wait_until_ended
from workbench.services.runs import RunManager

STAND_IN = textwrap.dedent("""
    import json, os, sys, time
    spec_path, limit = sys.argv[1], int(sys.argv[2])
    spec = json.load(open(spec_path))
    work, journal = spec["output_dir"], spec["journal_path"]
    seq = [0]
    if os.path.exists(journal):
        for line in open(journal):
            try:
                seq[0] = max(seq[0], json.loads(line)["seq"])
            except ValueError:
                pass

    def emit(kind, **payload):
        seq[0] += 1
        line = json.dumps({"seq": seq[0], "kind": kind, "t": time.time(), "payload": payload})
        with open(journal, "a") as f:
            f.write(line + "\\n")
        print(line, flush=True)

    def save(folder):
        os.makedirs(folder, exist_ok=True)
        for name in ("trainer_state.json", "adapter_config.json"):
            with open(os.path.join(folder, name), "w") as f:
                f.write("{}")

    cfg = spec["config"]
    step = int(spec["resume_from"].rsplit("-", 1)[1]) if spec.get("resume_from") else 0
    emit("started", total_steps=6, device="cpu", seed=1, start_step=step)
    print(f"batch {cfg['batch_size']} x accumulation {cfg['grad_accum']}", file=sys.stderr, flush=True)
    while step < 6:
        step += 1
        emit("progress", step=step, total_steps=6)
        emit("log", step=step, values={"loss": 3.0 - step / 10})
        if step == 2 and not os.path.isdir(os.path.join(work, "checkpoints", "checkpoint-2")):
            save(os.path.join(work, "checkpoints", "checkpoint-2"))
        if step == 3 and cfg["batch_size"] > limit:
            print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr, flush=True)
            emit("failed", error_kind="oom", message="Out of memory.", details="Traceback ...",
                 advice="Retry with half the batch size and double the gradient accumulation.")
            sys.exit(1)
    save(os.path.join(work, "adapter"))
    emit("completed", adapter_path=os.path.join(work, "adapter"), steps=6, first_loss=2.9, last_loss=2.4)
""")


@pytest.fixture
def oom_above(monkeypatch):
    """Children run STAND_IN, which runs out of memory while batch_size > limit["value"]."""
    limit = {"value": 2}
    monkeypatch.setattr(launch, "engine_argv",
                        lambda verb, spec, *_: [sys.executable, "-c", STAND_IN, spec, str(limit["value"])])
    return limit


def test_out_of_memory_is_its_own_kind_with_the_log_tail_and_advice(project, oom_above):
    store, version_id, model_id = project
    manager = RunManager(store)
    run = wait_until_ended(manager, manager.start(version_id, model_id, TrainConfig(batch_size=8, max_steps=6)).id)
    assert (run.status, run.failure_kind) == ("failed", "oom")
    assert run.error.startswith("Out of memory.") and "CUDA out of memory. Tried to allocate" in run.error
    assert "half the batch" in run.error_advice


def test_retry_halves_the_batch_doubles_accumulation_and_continues_the_same_run(project, oom_above):
    store, version_id, model_id = project
    oom_above["value"] = 4
    manager = RunManager(store)
    config = TrainConfig(batch_size=8, grad_accum=1, max_steps=6)
    run = wait_until_ended(manager, manager.start(version_id, model_id, config).id)
    assert run.failure_kind == "oom"
    manager.retry_smaller(run.id)
    done = wait_until_ended(manager, run.id)
    assert (done.status, done.failure_kind) == ("completed", None)
    cfg = done.train_config
    assert (cfg.batch_size, cfg.grad_accum, cfg.effective_batch) == (4, 2, 8)
    segments = store.run_segments(run.id)
    assert [s.end_status for s in segments] == ["failed", "completed"]
    assert segments[1].start_step == 2 and "batch 8 -> 4" in segments[1].note
    assert [s for s, _ in store.metric_series(run.id)] == [1, 2, 3, 4, 5, 6]  # no gap, no duplicate


def test_auto_retry_keeps_halving_until_it_fits_and_records_each_try(project, oom_above):
    store, version_id, model_id = project
    oom_above["value"] = 2
    manager = RunManager(store)
    run = manager.start(version_id, model_id, TrainConfig(batch_size=8, max_steps=6, auto_retry_oom=True))
    done = wait_until_ended(manager, run.id)
    assert done.status == "completed" and done.train_config.batch_size == 2 and done.train_config.grad_accum == 4
    notes = [s.note for s in store.run_segments(run.id)]
    assert notes[0] is None and notes[1].startswith("Auto-retry") and "8 -> 4" in notes[1] and "4 -> 2" in notes[2]


def test_auto_retry_stops_at_batch_one_and_a_manual_retry_says_why(project, oom_above):
    store, version_id, model_id = project
    oom_above["value"] = 0  # never fits
    manager = RunManager(store)
    run = manager.start(version_id, model_id, TrainConfig(batch_size=2, max_steps=6, auto_retry_oom=True))
    done = wait_until_ended(manager, run.id)
    assert (done.status, done.failure_kind, done.train_config.batch_size) == ("failed", "oom", 1)
    with pytest.raises(WorkbenchError) as err:
        manager.retry_smaller(run.id)
    assert "batch size 1" in err.value.user_message and "gradient checkpointing" in err.value.advice


def test_only_an_out_of_memory_failure_is_retried_smaller(project, oom_above):
    store, version_id, model_id = project
    oom_above["value"] = 100
    manager = RunManager(store)
    done = wait_until_ended(manager, manager.start(version_id, model_id, TrainConfig(batch_size=8, max_steps=6)).id)
    assert done.status == "completed"
    with pytest.raises(WorkbenchError):
        manager.retry_smaller(done.id)


def test_a_killed_process_is_recorded_as_killed(project, monkeypatch):
    store, version_id, model_id = project
    monkeypatch.setattr(launch, "engine_argv", lambda verb, spec, *_: [
        sys.executable, "-c", "import os, signal, time; time.sleep(0.5); os.kill(os.getpid(), signal.SIGKILL)"])
    manager = RunManager(store)
    done = wait_until_ended(manager, manager.start(version_id, model_id, TrainConfig(max_steps=6)).id)
    assert (done.status, done.failure_kind) == ("interrupted", "killed")
    assert "SIGKILL" in done.error
