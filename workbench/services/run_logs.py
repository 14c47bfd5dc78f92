"""A run's log (the training child's stderr, runs/<id>/train.log), read piece by piece as it grows."""

from __future__ import annotations

import os
from dataclasses import dataclass

from workbench.core.records import Run

LOG_NAME = "train.log"  # written by jobs.launch.ChildProcess in the run's folder (appended per segment)


@dataclass(frozen=True)
class LogChunk:
    """Text from the log: read from the offset asked for up to `offset` (where the next read
    starts), of a log `size` bytes long now."""

    text: str
    offset: int
    size: int


def log_path(store_path: str, run: Run) -> str:
    work = run.work_dir if os.path.isabs(run.work_dir) else os.path.join(store_path, run.work_dir)
    return os.path.join(work, LOG_NAME)


def _complete_utf8(data: bytes) -> int:
    """How many leading bytes of `data` end on a whole UTF-8 character (a read may cut one)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: complete
            return len(data)
        if byte >= 0xC0:  # a lead byte: complete if all its continuation bytes are here
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= need else len(data) - back
    return len(data)  # not UTF-8 as it should be: take it all (decoded with replacements)


def read_log(store_path: str, run: Run, offset: int, max_bytes: int = 65536) -> LogChunk:
    """The log's bytes from `offset` (at most `max_bytes`) as text. No log yet: empty, size 0.
    A log shorter than `offset` (replaced) is read again from its start. Call it from a worker."""
    path = log_path(store_path, run)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if offset > size:
                offset = 0
            f.seek(offset)
            data = f.read(max(0, min(max_bytes, size - offset)))
    except FileNotFoundError:
        return LogChunk("", 0, 0)
    keep = _complete_utf8(data)  # a character cut by the read (or the writer) comes whole next time
    return LogChunk(data[:keep].decode("utf-8", errors="replace"), offset + keep, size)
