"""RunManager's state machine with stand-in children that speak the real protocol.

The real ChildProcess and RunManager run; only the engine's command line is swapped for a small
script (STAND_IN) that behaves as a training child would in each case: it stops cooperatively,
ignores the stop request, ignores SIGTERM, dies without a word, or hangs. No torch is loaded.
A run is "re-attached" exactly as after an app restart: started by one RunManager, detached
(shutdown() without kill, as Keep Running does), then picked up by a new RunManager.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.records import TrainConfig
from workbench.jobs import launch
from workbench.services.runs import RunManager, last_checkpoint, resume_check

STAND_IN = textwrap.dedent("""
    import json, os, signal, sys, time
    spec_path, mode = sys.argv[1], sys.argv[2]
    work = os.path.dirname(spec_path)
    journal, stop = os.path.join(work, "journal.jsonl"), os.path.join(work, "STOP")
    # As the engine does: number events after the journal's last one, start at the checkpoint.
    seq = [0]
    if os.path.exists(journal):
        for line in open(journal):
            try:
                seq[0] = max(seq[0], json.loads(line)["seq"])
            except ValueError:
                pass
    resume_from = json.load(open(spec_path)).get("resume_from")

    def emit(kind, **payload):
        seq[0] += 1
        line = json.dumps({"seq": seq[0], "kind": kind, "t": time.time(), "payload": payload})
        with open(journal, "a") as f:
            f.write(line + "\\n")
        try:
            print(line, flush=True)
        except OSError:  # the parent detached: the journal has it
            pass

    def mark(name):
        with open(os.path.join(work, name), "w") as f:
            f.write(repr(time.time()))

    def on_term(signum, frame):
        mark("TERM")
        if mode != "ignores-term":
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    mark("READY")
    if os.path.exists(os.path.join(work, "STOP_SEEN")):  # an earlier segment's
        os.remove(os.path.join(work, "STOP_SEEN"))
    if mode != "silent":
        emit("started", total_steps=100, device="cpu", seed=1)
    if mode == "exits-3":
        sys.exit(3)
    if mode == "completes-without-adapter":
        emit("completed", adapter_path=None, steps=100)
        sys.exit(0)
    if mode == "completes-adapter-gone":  # reports a folder that is not there
        emit("completed", adapter_path=os.path.join(work, "adapter"), steps=100)
        sys.exit(0)
    if mode == "killed-after-checkpoint":  # dies without a word, as after kill -9
        ckpt = os.path.join(work, "checkpoints", "checkpoint-5")
        os.makedirs(ckpt, exist_ok=True)
        with open(os.path.join(ckpt, "trainer_state.json"), "w") as f:
            f.write("{}")
        emit("checkpoint", step=5, path=ckpt)
        os.kill(os.getpid(), signal.SIGKILL)
    step, deadline = int(resume_from.rsplit("-", 1)[1]) if resume_from else 0, time.time() + 120
    while time.time() < deadline:
        if mode != "silent" and step < 100:
            step += 1
            emit("progress", step=step, total_steps=100, epoch=step / 100)
            emit("log", step=step, values={"loss": 3.0 - step / 100})
        if mode == "saves-every-5" and step % 5 == 0 and not os.path.isdir(
                os.path.join(work, "checkpoints", f"checkpoint-{step}")):
            ckpt = os.path.join(work, "checkpoints", f"checkpoint-{step}")
            os.makedirs(ckpt, exist_ok=True)
            with open(os.path.join(ckpt, "trainer_state.json"), "w") as f:
                f.write("{}")
            emit("checkpoint", step=step, path=ckpt)
        if os.path.exists(stop) and not os.path.exists(os.path.join(work, "STOP_SEEN")):
            mark("STOP_SEEN")
            if mode in ("cooperative", "saves-every-5"):
                adapter = os.path.join(work, "adapter")
                os.makedirs(adapter, exist_ok=True)
                with open(os.path.join(adapter, "adapter_config.json"), "w") as f:
                    f.write("{}")
                ckpt = os.path.join(work, "checkpoints", f"checkpoint-{step}")
                os.makedirs(ckpt, exist_ok=True)
                with open(os.path.join(ckpt, "trainer_state.json"), "w") as f:
                    f.write("{}")
                emit("checkpoint", step=step, path=ckpt)
                emit("cancelled", adapter_path=adapter, step=step)
                sys.exit(0)
        time.sleep(0.05)
""")


@pytest.fixture
def stand_in(monkeypatch):
    """Children started by RunManager run STAND_IN in `mode` instead of the training engine."""
    mode = {"value": "cooperative"}
    monkeypatch.setattr(launch, "engine_argv",
                        lambda verb, spec, *_: [sys.executable, "-c", STAND_IN, spec, mode["value"]])
    return mode


def _poll_until(manager, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        manager.poll()
        time.sleep(0.05)


def _work(store, run_id):
    return store.abspath(store.get_run(run_id).work_dir)


def _started(manager, store, version_id, model_id):
    run = manager.start(version_id, model_id, TrainConfig(max_steps=100))
    _poll_until(manager, lambda: store.get_run(run.id).step >= 2)
    return run


def _reattached(store, version_id, model_id, **graces):
    """A run started by one RunManager, detached, and picked up by a new one (an app restart)."""
    first = RunManager(store)
    run = _started(first, store, version_id, model_id)
    pid = store.get_run(run.id).pid
    first.shutdown()  # Keep Running: the child goes on, journal only
    manager = RunManager(store, **graces)
    assert manager.active_run_ids() == [run.id]
    return manager, run, pid


def _reap(pid):
    """Wait for our own (detached) child and return how it ended: ("exit", code) / ("signal", n)."""
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return ("signal", os.WTERMSIG(status)) if os.WIFSIGNALED(status) else ("exit", os.WEXITSTATUS(status))
        assert time.monotonic() < deadline, "the child did not end"
        time.sleep(0.05)


def test_reattached_run_gets_the_cooperative_stop_on_shutdown(project, stand_in):
    """The headless Stop path (shutdown(kill=True)): a re-attached child is asked to stop and
    given time to save; it is never sent SIGTERM at once."""
    store, version_id, model_id = project
    manager, run, pid = _reattached(store, version_id, model_id)
    manager.shutdown(kill=True)  # blocks until the run has ended (fine headless)
    final = store.get_run(run.id)
    assert final.status == "cancelled", final.error
    assert final.adapter_path and os.path.isfile(
        os.path.join(store.abspath(final.adapter_path), "adapter_config.json"))
    assert not final.error
    assert not os.path.exists(os.path.join(_work(store, run.id), "TERM"))
    assert _reap(pid) == ("exit", 0)
    check = resume_check(store, final)
    assert check.ok and check.checkpoint == last_checkpoint(_work(store, run.id))


def test_stop_all_never_blocks_and_escalates_to_sigterm_after_the_grace(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "ignores-stop"
    manager, run, pid = _reattached(store, version_id, model_id, stop_grace_s=1.5, term_grace_s=1.0)
    work = _work(store, run.id)
    assert manager.stop_all() == [run.id]
    # A request, not a wait: it returns with the run still saving, before any SIGTERM.
    assert manager.active_run_ids() == [run.id]
    assert not os.path.exists(os.path.join(work, "TERM"))
    assert os.path.exists(os.path.join(work, "STOP"))
    assert [(s.run_id, s.stage) for s in manager.stopping()] == [(run.id, "saving")]
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "cancelled"
    assert "did not stop within 1.5 s" in final.error and "no adapter" in final.error
    assert final.error_advice == "It saved no checkpoint: start a new run with the same settings."
    # SIGTERM came only after the grace (measured from the stop file the parent wrote).
    term_at = float(open(os.path.join(work, "TERM")).read())
    assert term_at - os.path.getmtime(os.path.join(work, "STOP")) >= 1.5 - 0.05
    assert _reap(pid) == ("signal", signal.SIGTERM)
    assert manager.stopping() == []


def test_a_child_that_ignores_sigterm_is_killed(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "ignores-term"
    manager, run, pid = _reattached(store, version_id, model_id, stop_grace_s=0.5, term_grace_s=1.0)
    manager.stop_all()
    _poll_until(manager, lambda: [s.stage for s in manager.stopping()] == ["terminating"])
    assert os.path.exists(os.path.join(_work(store, run.id), "TERM"))
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    assert store.get_run(run.id).status == "cancelled"
    assert _reap(pid) == ("signal", signal.SIGKILL)


def test_owned_child_stops_cooperatively_through_stdin_and_stop_file(project, stand_in):
    store, version_id, model_id = project
    manager = RunManager(store)
    run = _started(manager, store, version_id, model_id)
    manager.stop_all()
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "cancelled" and final.adapter_path and not final.error


def test_owned_child_that_ignores_everything_is_terminated_then_killed(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "ignores-term"
    manager = RunManager(store, stop_grace_s=0.5, term_grace_s=1.0)
    run = _started(manager, store, version_id, model_id)
    manager.cancel(run.id)
    seen = set()
    _poll_until(manager, lambda: seen.update(s.stage for s in manager.stopping())
                or run.id not in manager.active_run_ids())
    assert "terminating" in seen
    final = store.get_run(run.id)
    assert final.status == "cancelled" and "ended by force" in final.error
    assert os.path.exists(os.path.join(_work(store, run.id), "TERM"))


def test_child_that_exits_without_a_word_is_interrupted_with_its_exit_code(project, stand_in):
    """A crash (no terminal event) is not a reported failure: interrupted, with how it ended."""
    store, version_id, model_id = project
    stand_in["value"] = "exits-3"
    manager = RunManager(store)
    run = manager.start(version_id, model_id, TrainConfig(max_steps=100))
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "interrupted", final.error
    assert "exited with code 3 before it finished, without reporting an error" in final.error
    assert final.error_advice.startswith("It saved no checkpoint")
    assert not resume_check(store, final).ok  # nothing to resume from: the reason says so


def test_killed_child_is_interrupted_and_resumes_from_its_checkpoint(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "killed-after-checkpoint"
    manager = RunManager(store)
    run = manager.start(version_id, model_id, TrainConfig(max_steps=100))
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "interrupted", final.error
    assert "was killed (SIGKILL) before it finished" in final.error
    assert "Resume it from its checkpoint at step 5" in final.error_advice
    check = resume_check(store, final)
    assert check.ok and check.checkpoint.endswith(os.path.join("checkpoints", "checkpoint-5"))
    stand_in["value"] = "cooperative"
    resumed = manager.resume(run.id)
    spec = json.load(open(os.path.join(_work(store, resumed.id), "train.spec.json")))
    assert spec["resume_from"] == check.checkpoint
    manager.shutdown(kill=True)
    assert store.get_run(resumed.id).status == "cancelled"


def test_reattached_child_killed_while_watched_is_interrupted(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "ignores-stop"
    manager, run, pid = _reattached(store, version_id, model_id)
    manager.poll()  # seen running
    os.kill(pid, signal.SIGKILL)
    assert _reap(pid) == ("signal", signal.SIGKILL)
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "interrupted"
    assert final.error == "The training process ended without reporting why."
    assert final.error_advice == "It saved no checkpoint: start a new run with the same settings."


def test_completed_without_an_adapter_is_a_failure(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "completes-without-adapter"
    manager = RunManager(store)
    run = manager.start(version_id, model_id, TrainConfig(max_steps=100))
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "failed"
    assert final.error == "Training reported that it completed, but it reported no adapter folder."


def test_completed_with_its_adapter_folder_missing_is_a_failure_naming_it(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "completes-adapter-gone"
    manager = RunManager(store)
    run = manager.start(version_id, model_id, TrainConfig(max_steps=100))
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    adapter = os.path.join(_work(store, run.id), "adapter")
    assert final.status == "failed"
    assert final.error == (f"Training reported that it completed, but its adapter folder {adapter} "
                           "is missing or incomplete (no adapter_config.json).")
    assert "log" in final.error_advice


def test_owned_child_whose_heartbeat_goes_stale_is_interrupted_and_ended(project, stand_in):
    """An attached child, not only a re-attached one, that sends nothing (no heartbeat) is hung."""
    import psutil

    store, version_id, model_id = project
    stand_in["value"] = "silent"
    manager = RunManager(store, stale_s=1.0)
    run = manager.start(version_id, model_id, TrainConfig(max_steps=100))
    pid = store.get_run(run.id).pid
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    final = store.get_run(run.id)
    assert final.status == "interrupted", final.error
    assert "stopped reporting" in final.error and "so it was ended" in final.error
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_reattached_run_whose_journal_stops_growing_is_interrupted(project, stand_in):
    store, version_id, model_id = project
    stand_in["value"] = "silent"
    first = RunManager(store)
    run = first.start(version_id, model_id, TrainConfig(max_steps=100))
    pid = store.get_run(run.id).pid
    # Re-attach only once the child runs its own command line (the pid check reads it).
    ready = os.path.join(_work(store, run.id), "READY")
    _poll_until(first, lambda: os.path.exists(ready))
    first.shutdown()
    try:
        manager = RunManager(store, stale_s=1.0)
        _poll_until(manager, lambda: run.id not in manager.active_run_ids())
        final = store.get_run(run.id)
        assert final.status == "interrupted" and "stopped reporting" in final.error
    finally:
        os.kill(pid, signal.SIGKILL)
        _reap(pid)


def test_resume_check_and_resume(project, stand_in):
    store, version_id, model_id = project
    manager = RunManager(store)
    run = _started(manager, store, version_id, model_id)
    check = resume_check(store, store.get_run(run.id))
    assert not check.ok and check.reason == "The run is still training."
    # Killed before it could save: nothing to resume from, and the advice says what to do.
    stand_in["value"] = "ignores-stop"
    killed = _started(manager, store, version_id, model_id)
    os.kill(store.get_run(killed.id).pid, signal.SIGKILL)
    _poll_until(manager, lambda: killed.id not in manager.active_run_ids())
    check = resume_check(store, store.get_run(killed.id))
    assert not check.ok and "saved no checkpoint" in check.reason
    assert "Train page" in check.advice and "chat" not in check.advice
    with pytest.raises(WorkbenchError) as err:
        manager.resume(killed.id)
    assert "cannot be resumed" in err.value.user_message
    assert "checkpoint steps" not in err.value.advice and "Train page" in err.value.advice
    # A partial checkpoint folder (no trainer_state.json) is not offered.
    partial = os.path.join(_work(store, killed.id), "checkpoints", "checkpoint-7")
    os.makedirs(partial)
    assert not resume_check(store, store.get_run(killed.id)).ok

    # Cancelled cooperatively: it left an adapter and a checkpoint; resume starts from it.
    manager.cancel(run.id)
    _poll_until(manager, lambda: run.id not in manager.active_run_ids())
    cancelled = store.get_run(run.id)
    check = resume_check(store, cancelled)
    assert check.ok and os.path.basename(check.checkpoint).startswith("checkpoint-")
    stand_in["value"] = "cooperative"
    resumed = manager.resume(run.id)
    spec = json.load(open(os.path.join(_work(store, resumed.id), "train.spec.json")))
    assert spec["resume_from"] == check.checkpoint
    # The same run continues: same id, name and folder, running again.
    assert (resumed.id, resumed.name, resumed.work_dir) == (run.id, cancelled.name, cancelled.work_dir)
    assert resumed.status == "running" and not resumed.error
    manager.shutdown(kill=True)
    assert store.get_run(resumed.id).status == "cancelled"
    # A completed run has nothing to resume.
    done = store.add_run(id="done-run", name="done", dataset_version_id=version_id, base_model_id=model_id,
                         config={}, status="completed", work_dir="runs/done-run")
    assert "nothing left to resume" in resume_check(store, done).reason
