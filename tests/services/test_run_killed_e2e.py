"""`kill -9` of a real training child: the run is interrupted (not failed), `workbench train`
exits non-zero saying so, `workbench runs` lists it as interrupted, and it resumes from its
last checkpoint."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from workbench.jobs.protocol import read_journal
from workbench.services.runs import RunManager, last_checkpoint

pytestmark = pytest.mark.slow


def _wait_for(predicate, timeout=300.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_kill_9_leaves_an_interrupted_run_that_resumes(demo_store):
    store = demo_store
    project = store.path
    # Far more steps than the test waits for: the kill always lands mid-run, however fast the machine.
    cli = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "train", "--project", project, "--model", "tiny",
         "--max-steps", "100000", "--save-steps", "2", "--batch-size", "4", "--max-length", "96"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: store.list_runs() and store.list_runs()[0].pid, what="the run to start")
        run = store.list_runs()[0]
        work = store.abspath(run.work_dir)
        _wait_for(lambda: last_checkpoint(work) is not None, what="a first checkpoint")
        os.kill(run.pid, signal.SIGKILL)
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 1, err
    assert "error: the run ended interrupted: The training process was killed (SIGKILL)" in err

    listed = subprocess.run([sys.executable, "-m", "workbench.cli", "runs", "--project", project, "--json"],
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["id"] == run.id and row["status"] == "interrupted", row
    assert "Resume it from its checkpoint at step" in row["error_advice"]

    checkpoint = last_checkpoint(work)  # the newest complete one (a save cut short is skipped)
    ckpt_step = int(checkpoint.rsplit("-", 1)[1])
    manager = RunManager(store)
    try:
        resumed = manager.resume(run.id)
        _wait_for(lambda: manager.poll() is not None and store.get_run(resumed.id).step > ckpt_step,
                  what="the resumed run to train past its checkpoint")
        manager.cancel(resumed.id)
        _wait_for(lambda: manager.poll() is not None and resumed.id not in manager.active_run_ids(),
                  what="the resumed run to stop")
    finally:
        manager.shutdown(kill=True)
    final = store.get_run(resumed.id)
    assert final.status == "cancelled", final.error
    events, _ = read_journal(os.path.join(store.abspath(final.work_dir), "journal.jsonl"))
    started = [e for e in events if e.kind == "started"]
    assert resumed.id == run.id  # the same run, continued, not restarted
    assert len(started) == 2 and started[-1].payload["start_step"] == ckpt_step
    assert glob.glob(os.path.join(store.abspath(final.adapter_path), "adapter_config.json"))
