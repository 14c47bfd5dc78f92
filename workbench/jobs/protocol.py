"""The child -> parent event protocol: one JSON object per line, {seq, kind, t, payload}.

A child writes each event to its stdout *and* appends it to its journal file. The parent
ingests events idempotently keyed by (job, seq), so reading the same line twice (from the pipe
and later from the journal after a restart) is harmless.

Event kinds
-----------
Training (`train`):
  started    {total_steps, device, environment{...}, trainable_params, total_params, seed}
  progress   {step, total_steps, epoch}
  log        {step, epoch, values{loss, learning_rate, grad_norm, num_input_tokens_seen,
              tokens_per_s, memory_bytes, ...}}  names: workbench.core.metric_names
  heartbeat  {step}
  checkpoint {step, path}
  completed  {adapter_path, first_loss, last_loss, steps}
  cancelled  {adapter_path|None, step}
  failed     {error_kind: oom|bad_data|bad_config|missing_model|disk_full|error, message, details, advice}
  resumed    {segment, start_step, checkpoint}  written by the parent before a resumed process
             starts: the new process's events follow it, numbered after it
Model building (`build-model`):
  progress   {fraction, message}
  completed  {path, fingerprint, name}
  failed     {...as above}
Chat (`chat`), requests arrive as JSON lines on stdin:
  {"op": "generate", "id": str, "messages": [...], "max_new_tokens": int, "temperature": float}
  {"op": "stop"}   interrupt the current generation
  {"op": "quit"}   exit
  ready      {model, adapter, device}
  token      {id, text}
  done       {id, text, finish_reason: stop|length|interrupted, tokens, seconds}
  failed     {...as above, id?}
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any, Optional

TERMINAL_KINDS = ("completed", "cancelled", "failed")
# Events that only say "still alive, at step N": the parent acts on them (step, progress, last
# event time) but does not keep them, so a long run's stored events stay bounded (the journal
# keeps everything).
TRANSIENT_KINDS = ("heartbeat", "progress")


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    t: float = 0.0

    def to_line(self) -> str:
        return json.dumps(
            {"seq": self.seq, "kind": self.kind, "t": self.t, "payload": self.payload},
            ensure_ascii=False,
        )


def parse_line(line: str) -> Optional[Event]:
    """Parse one protocol line; None for blank, partial or foreign lines (never raises)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("seq"), int) or "kind" not in obj:
        return None
    payload = obj.get("payload") or {}
    if not isinstance(payload, dict):
        return None
    return Event(seq=obj["seq"], kind=str(obj["kind"]), payload=payload, t=float(obj.get("t") or 0.0))


class EventWriter:
    """Writes events to a stream (the child's private stdout) and to a journal file.

    The journal is flushed on every event that matters and at least once a second otherwise,
    so a parent that restarts can catch up from it.
    """

    def __init__(self, stream: Optional[IO[str]], journal_path: Optional[str], start_seq: int = 0):
        self._stream = stream
        self._journal: Optional[IO[str]] = None
        if journal_path:
            os.makedirs(os.path.dirname(os.path.abspath(journal_path)), exist_ok=True)
            self._journal = open(journal_path, "a", encoding="utf-8")
        self._seq = start_seq
        self._lock = threading.Lock()
        self._last_flush = 0.0

    def emit(self, kind: str, **payload: Any) -> Event:
        with self._lock:
            self._seq += 1
            event = Event(seq=self._seq, kind=kind, payload=payload, t=time.time())
            line = event.to_line() + "\n"
            if self._stream is not None:
                try:
                    self._stream.write(line)
                    self._stream.flush()
                except (BrokenPipeError, ValueError, OSError):
                    # The parent went away: keep going, the journal still records everything.
                    self._stream = None
            if self._journal is not None:
                self._journal.write(line)
                now = time.monotonic()
                if kind not in ("token",) or now - self._last_flush >= 1.0:
                    self._journal.flush()
                    self._last_flush = now
            return event

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.flush()
                self._journal.close()
                self._journal = None


def read_journal(path: str, offset: int = 0) -> tuple[list[Event], int]:
    """Events from `path` starting at byte `offset`; returns (events, new_offset).

    A trailing partial line (the child is mid-write) is left for the next call.
    """
    if not os.path.exists(path):
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset
    events = []
    for raw in data[: end + 1].splitlines():
        ev = parse_line(raw.decode("utf-8", errors="replace"))
        if ev is not None:
            events.append(ev)
    return events, offset + end + 1


def last_seq(path: str) -> int:
    """The highest seq among the complete lines of the journal at `path` (0 if none)."""
    events, _ = read_journal(path)
    return max((e.seq for e in events), default=0)


def append_event(path: str, event: Event) -> int:
    """Append `event` to a journal no process is writing (a resumed run's, before it starts);
    returns the byte offset the appended text starts at.

    A process killed mid-write leaves a partial last line: it is ended first, so the new line
    is never glued to it (read_journal skips the broken line, not the new one).
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "ab") as f:
        start = f.tell()
        if start > 0:
            with open(path, "rb") as r:
                r.seek(start - 1)
                if r.read(1) != b"\n":
                    f.write(b"\n")
                    start += 1
        f.write((event.to_line() + "\n").encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    return start
