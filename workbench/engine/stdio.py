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
from typing import IO, Optional

from workbench.jobs.protocol import EventWriter, read_journal

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


def open_writer(stream: Optional[IO[str]], journal_path: Optional[str]) -> EventWriter:
    return EventWriter(stream, journal_path, start_seq=next_seq(journal_path))
