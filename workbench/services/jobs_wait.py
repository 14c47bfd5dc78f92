"""Run an engine child to completion from a worker thread, with progress and cancel."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional

from workbench.core.errors import JobError, WorkbenchError
from workbench.core.progress import CancelToken, Cancelled, ProgressCallback, report
from workbench.jobs.launch import ChildProcess
from workbench.jobs.protocol import Event
from workbench.jobs.specs import write_spec


def failure_from_event(event: Event, fallback: str) -> WorkbenchError:
    p = event.payload
    return JobError(p.get("message") or fallback, details=p.get("details", ""), advice=p.get("advice", ""))


def run_child_to_end(
    verb: str,
    spec: Any,
    work_dir: str,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    on_event: Optional[Callable[[Event], None]] = None,
) -> Event:
    """Start `verb` on `spec`, forward progress, and return its `completed` event.

    Raises Cancelled (child ended) or a WorkbenchError carrying the child's own failure.
    """
    os.makedirs(work_dir, exist_ok=True)
    spec_path = write_spec(spec, os.path.join(work_dir, f"{verb}.spec.json"))
    child = ChildProcess(verb, spec_path, os.path.join(work_dir, f"{verb}.log")).start()
    completed: Optional[Event] = None
    failed: Optional[Event] = None
    try:
        while True:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            for event in child.poll_events():
                if on_event:
                    on_event(event)
                if event.kind == "progress" and "fraction" in event.payload:
                    report(progress, float(event.payload["fraction"]), str(event.payload.get("message", "")))
                elif event.kind == "completed":
                    completed = event
                elif event.kind == "failed":
                    failed = event
            rc = child.returncode()
            if rc is not None:
                for event in child.poll_events():  # whatever was left in the pipe
                    if event.kind == "completed":
                        completed = event
                    elif event.kind == "failed":
                        failed = event
                break
            time.sleep(0.05)
    finally:
        child.close(grace=2.0)
    if failed is not None:
        raise failure_from_event(failed, f"The {verb} process failed.")
    if completed is None or rc != 0:
        raise JobError(
            f"The {verb} process ended without finishing (exit code {rc}).",
            details=log_tail(os.path.join(work_dir, f"{verb}.log")),
        )
    return completed


def log_tail(path: str, size: int = 4000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
