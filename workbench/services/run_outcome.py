"""How a training process ended, as the run's status, error, advice and failure kind.

`failed` is only for errors the child reported (with its kind: core/failures.py); a child that
died without a word (killed, crashed, out of host memory) is `interrupted`, resumable from its
checkpoint, with kind "killed" when a signal nobody here sent ended it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from dataclasses import dataclass
from typing import Optional

from workbench.jobs.launch import ChildProcess
from workbench.services.jobs_wait import log_tail
from workbench.services.run_ingest import terminal_kind
from workbench.services.run_resume import resume_advice
from workbench.store import ProjectStore


@dataclass
class Tracked:
    """A training process RunManager watches (owned, or re-attached through its journal)."""

    run_id: str
    name: str
    spec_path: str
    journal_path: str
    stop_file: str
    log_path: str
    pid: Optional[int]
    child: Optional[ChildProcess] = None  # None: re-attached through the journal only
    offset: int = 0
    stop_requested_at: Optional[float] = None
    terminated_at: Optional[float] = None
    killed_at: Optional[float] = None
    seen_alive: bool = False  # this manager saw the process running (a re-attached one may be long gone)
    # When the last event (heartbeats included) arrived; the start counts as one.
    last_event: float = dataclasses.field(default_factory=time.monotonic)
    start_seq: int = 0  # this segment's events have seq > start_seq ...
    journal_start: int = 0  # ... and begin at this byte of the journal
    from_queue: bool = False  # the queue started it (it resumes it after a reboot)


def _failure_kind(store: ProjectStore, tracked: Tracked, status: str, rc: Optional[int]) -> Optional[str]:
    """Why a run failed or was interrupted (core/failures.py): what the child reported, or
    "killed" for a process a signal ended that nobody here asked to stop."""
    if status == "failed":
        payload = store.last_event_payload(tracked.run_id, "failed", after_seq=tracked.start_seq)
        return (payload or {}).get("error_kind") or "error"
    if status == "interrupted" and rc is not None and rc < 0:
        return "killed"
    return None


def _ending(store: ProjectStore, tracked: Tracked, rc: Optional[int], stop_grace_s: float) -> tuple[str, str, str, str]:
    """(status, error, advice, details) of an ended child: what it reported, else how it died."""
    kind = terminal_kind(store, tracked.run_id, after_seq=tracked.start_seq)
    if kind == "failed":  # its own message and advice were ingested with the event; add the log's end
        tail = log_tail(tracked.log_path)
        reported = store.get_run(tracked.run_id).error or "Training failed."
        return "failed", (f"{reported}\n\nLast lines of the log:" if tail else ""), "", tail
    if kind == "cancelled":
        return "cancelled", "", "", ""
    if kind == "completed":
        run = store.get_run(tracked.run_id)
        adapter = store.abspath(run.adapter_path) if run.adapter_path else None
        if adapter is None or not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
            where = f"its adapter folder {adapter} is missing or incomplete (no adapter_config.json)" \
                if adapter else "it reported no adapter folder"
            return ("failed", f"Training reported that it completed, but {where}.",
                    "See the run's log for what happened while it saved, then start the run again.", "")
        if rc in (0, None):
            return "completed", "", "", ""
        return ("interrupted", f"The training process saved its adapter, then exited with code {rc}.",
                resume_advice(os.path.dirname(tracked.spec_path)), log_tail(tracked.log_path))
    if tracked.stop_requested_at is not None:
        forced = tracked.terminated_at is not None
        return ("cancelled", (
            f"The training process did not stop within {stop_grace_s:g} s and was ended by force: "
            "no adapter was saved." if forced else "The training process ended without saving an adapter."),
            resume_advice(os.path.dirname(tracked.spec_path)), "")
    if tracked.child is None:  # re-attached: not our child, so its exit code is unknown
        return ("interrupted", "The training process ended without reporting why." if tracked.seen_alive
                else "The training process ended while Workbench was closed.",
                resume_advice(os.path.dirname(tracked.spec_path)), "")
    if rc is not None and rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        error = f"The training process was killed ({name}) before it finished."
        advice = resume_advice(os.path.dirname(tracked.spec_path)) + (
            " If nobody stopped it, the system may have ended it for lack of memory: lower the batch "
            "size or max length." if -rc == signal.SIGKILL else "")
    else:
        error = f"The training process exited with code {rc} before it finished, without reporting an error."
        advice = resume_advice(os.path.dirname(tracked.spec_path)) + " The details show the end of its output."
    return "interrupted", error, advice, log_tail(tracked.log_path)


@dataclass(frozen=True)
class Outcome:
    status: str
    error: str
    advice: str
    details: str
    failure_kind: Optional[str]


def outcome(store: ProjectStore, tracked: Tracked, rc: Optional[int], stop_grace_s: float) -> Outcome:
    """The end of `tracked`, whose process has exited with `rc` (None: unknown, re-attached)."""
    status, error, advice, details = _ending(store, tracked, rc, stop_grace_s)
    return Outcome(status, error, advice, details, _failure_kind(store, tracked, status, rc))
