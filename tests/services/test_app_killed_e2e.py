"""The app process killed (-9) in the middle of a run: the training child keeps going, and the
next open of the project finds the run completed with every metric it logged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.engine.engine_helpers import REPO, child_env
from workbench.jobs.protocol import read_journal

pytestmark = pytest.mark.slow

# What the app does to start a run: open the project, a RunManager, start; then it just lives on.
APP = r"""
import sys, time
from workbench.core.records import TrainConfig
from workbench.services.runs import RunManager
from workbench.store import ProjectStore
store = ProjectStore.open(sys.argv[1])
manager = RunManager(store)
run = manager.start(store.list_versions()[0].id, store.list_base_models()[0].id,
                    TrainConfig(learning_rate=1e-3, max_steps=30, batch_size=4, max_length=96, save_steps=10))
print(run.id, run.pid, flush=True)
while True:
    manager.poll()
    time.sleep(0.2)
"""


def _wait_for(predicate, timeout=300.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_run_outlives_a_killed_app_and_reopening_shows_it_complete(demo_store):
    from workbench.services.runs import RunManager
    from workbench.store import ProjectStore

    path = demo_store.path
    demo_store.close()
    app = subprocess.Popen([sys.executable, "-c", APP, path], stdout=subprocess.PIPE, text=True,
                           env=child_env(), cwd=REPO)
    try:
        run_id, pid = app.stdout.readline().split()
        child = psutil.Process(int(pid))
        journal = os.path.join(path, "runs", run_id, "journal.jsonl")
        steps = lambda: [e for e in read_journal(journal)[0] if e.kind == "progress"]  # noqa: E731
        _wait_for(lambda: len(steps()) >= 3, what="three training steps")
        app.send_signal(signal.SIGKILL)
        app.wait(30)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
    # The child is not the app's to take down: it trains on to the end.
    assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    child.wait(600)
    events, _ = read_journal(journal)
    assert events[-1].kind == "completed", [e.kind for e in events[-5:]]
    logged = sorted({e.payload["step"] for e in events if e.kind == "log" and "loss" in e.payload["values"]})
    store = ProjectStore.open(path)
    try:
        manager = RunManager(store)
        _wait_for(lambda: (manager.poll(), store.get_run(run_id).status)[1] == "completed", timeout=60,
                  what="the reopened project to record the end")
        run = store.get_run(run_id)
        assert run.step == 30 and run.adapter_path
        assert [s for s, _v in store.metric_series(run_id)] == logged == list(range(1, 31))
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()
