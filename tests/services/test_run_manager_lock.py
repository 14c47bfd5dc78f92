"""RunManager is shared by two threads in the app (the run poller polls, the GUI thread starts,
cancels and queues runs): every public method holds its lock."""

from __future__ import annotations

import threading

import pytest

from workbench.core.records import TrainConfig
from workbench.services.runs import RunManager

CALLS = {
    "poll": (), "active_run_ids": (), "queued_run_ids": (), "stopping": (), "stop_overdue": (),
    "stop_all": (), "shutdown": (), "cancel": ("no-such-run",), "resume": ("no-such-run",),
    "retry_smaller": ("no-such-run",), "move_in_queue": ("no-such-run", 1),
    "remove_from_queue": ("no-such-run",), "start": ("no-version", "no-model", TrainConfig()),
    "enqueue": ("no-version", "no-model", TrainConfig()),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_public_method_waits_for_the_lock(store, name):
    manager = RunManager(store)
    returned = threading.Event()

    def call() -> None:
        try:
            getattr(manager, name)(*CALLS[name])
        except Exception:  # noqa: BLE001 - unknown ids are refused: only the waiting matters
            pass
        returned.set()

    with manager.lock:  # another thread is in the middle of a poll
        caller = threading.Thread(target=call)
        caller.start()
        # Holding the lock, the call cannot return however long we wait (no timing can fail this).
        assert not returned.wait(0.2), f"{name} ran without the lock"
    caller.join(30)
    assert returned.is_set()
