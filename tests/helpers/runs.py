"""Waiting on runs the way the app does: poll the real RunManager until a run has ended."""

from __future__ import annotations

import time

UNFINISHED = ("queued", "running")


def wait_until_ended(manager, run_id: str, timeout: float = 300.0):
    """Poll `manager` until the run is neither queued nor running (nor still watched) and return
    its record. The generous default is a bound for a stuck run, not a speed check."""
    deadline = time.monotonic() + timeout
    while True:
        manager.poll()
        run = manager.store.get_run(run_id)
        if run.status not in UNFINISHED and run_id not in manager.active_run_ids():
            return run
        assert time.monotonic() < deadline, f"run {run.name} still {run.status} after {timeout:.0f} s"
        time.sleep(0.05)
