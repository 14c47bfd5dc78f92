"""Stdout discipline for engine children.

The parent parses every line of the child's stdout as a protocol event, so nothing else may
reach file descriptor 1: not Trainer's printed log dicts, not library warnings, not C-level
prints. `claim_stdout` keeps a private duplicate of fd 1 for events and points fd 1 (and
`sys.stdout`) at stderr. It must run before torch/transformers are imported.
"""

from __future__ import annotations

import io
import os
import sys
from typing import IO, Any, Optional

from workbench.engine.ranks import rank
from workbench.jobs.protocol import Event, EventWriter, read_journal

# Set before any heavy import: offline, no tokenizer fork warnings, no telemetry.
ENGINE_ENV = {
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def set_engine_env() -> None:
    for key, value in ENGINE_ENV.items():
        os.environ[key] = value


def claim_stdout() -> IO[str]:
    """Return a line-buffered writer on the real stdout; route fd 1 / sys.stdout to stderr."""
    sys.stdout.flush()
    private_fd = os.dup(1)
    events = io.TextIOWrapper(
        io.FileIO(private_fd, "w", closefd=True),
        encoding="utf-8",
        line_buffering=True,
        write_through=True,
    )
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def next_seq(journal_path: Optional[str]) -> int:
    """The last seq already in the journal, so a resumed job continues numbering.

    The parent ingests idempotently by (job, seq); restarting at 1 in an existing journal
    would make it drop the new events as duplicates.
    """
    if not journal_path:
        return 0
    events, _ = read_journal(journal_path)
    return max((e.seq for e in events), default=0)


class OtherRankWriter(EventWriter):
    """The writer of rank > 0 in a multi-process run: rank 0 reports for the run, so this rank's
    events go to its stderr (the run's log) only, never to stdout or the journal, where they
    would duplicate rank 0's seqs; its heartbeats are dropped (rank 0's say the run is alive)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr, None)

    def emit(self, kind: str, **payload: Any) -> Event:
        if kind == "heartbeat":
            return Event(seq=0, kind=kind, payload=payload)
        return super().emit(kind, **payload)


def open_writer(stream: Optional[IO[str]], journal_path: Optional[str]) -> EventWriter:
    if rank() != 0:
        return OtherRankWriter()
    return EventWriter(stream, journal_path, start_seq=next_seq(journal_path))
