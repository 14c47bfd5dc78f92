"""Engine test helpers: real `python -m workbench.engine` children and their events."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

from workbench.core.records import TrainConfig
from workbench.jobs.launch import child_env, engine_argv  # the app's own command line and env
from workbench.jobs.protocol import Event, parse_line, read_journal
from workbench.jobs.specs import TrainSpec, write_spec

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
__all__ = ["REPO", "ChildResult", "LiveChild", "child_env", "engine_argv", "events_key",
           "journal_events", "parse_stdout", "run_engine", "SHORT_CONFIG", "short_spec"]


def parse_stdout(text: str) -> list[Event]:
    """Every line a child writes to stdout must be a protocol event."""
    events = []
    for line in text.splitlines():
        event = parse_line(line)
        assert event is not None, f"non-protocol line on the child's stdout: {line!r}"
        events.append(event)
    return events


@dataclass
class ChildResult:
    rc: int
    events: list[Event]
    stderr: str

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def last(self, kind: str) -> Event:
        matches = [e for e in self.events if e.kind == kind]
        assert matches, f"no {kind!r} event; got {self.kinds()}\n--- stderr ---\n{self.stderr[-3000:]}"
        return matches[-1]


def run_engine(verb: str, spec: Any, spec_path: str, timeout: float = 240, stdin_text: str = "") -> ChildResult:
    write_spec(spec, spec_path)
    proc = subprocess.run(engine_argv(verb, spec_path), input=stdin_text, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=child_env())
    return ChildResult(proc.returncode, parse_stdout(proc.stdout), proc.stderr)


# A high learning rate so LoRA's random A matrices shape the loss from step 2 on.
SHORT_CONFIG = TrainConfig(r=4, alpha=8, learning_rate=1e-2, max_steps=3, batch_size=4, max_length=64)


def short_spec(root: str, base: str, dataset: str, name: str, seed: int, cache_dir: str = "") -> TrainSpec:
    """A 3-step run (test_train_reproducible, the session's short runs)."""
    run_dir = os.path.join(root, name)
    return TrainSpec(
        run_id=name, base_model_path=base, dataset_path=dataset, output_dir=run_dir,
        journal_path=os.path.join(run_dir, "journal.jsonl"), stop_file=os.path.join(run_dir, "STOP"),
        config=SHORT_CONFIG.replace(seed=seed), cache_dir=cache_dir,
    )


def events_key(events: list[Event]) -> list[tuple[int, str, str]]:
    return [(e.seq, e.kind, json.dumps(e.payload, sort_keys=True)) for e in events]


def journal_events(path: str) -> list[Event]:
    events, _ = read_journal(path)
    return events


class LiveChild:
    """A running engine child: events from stdout arrive through a reader thread."""

    def __init__(self, verb: str, spec: Any, spec_path: str):
        write_spec(spec, spec_path)
        self.proc = subprocess.Popen(
            engine_argv(verb, spec_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1, cwd=REPO, env=child_env())
        self.events: list[Event] = []
        self._queue: "queue.Queue[Optional[Event]]" = queue.Queue()
        self._stderr: list[str] = []
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            event = parse_line(line)
            if event is None:  # surfaced by the test through next_event
                self._queue.put(Event(seq=-1, kind="__garbage__", payload={"line": line}))
                continue
            self._queue.put(event)
        self._queue.put(None)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def next_event(self, timeout: float = 60) -> Optional[Event]:
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout}s\n--- stderr ---\n{self.stderr[-3000:]}")
        if event is not None:
            assert event.kind != "__garbage__", f"non-protocol stdout line: {event.payload['line']!r}"
            self.events.append(event)
        return event

    def wait_for(self, *kinds: str, timeout: float = 60) -> Event:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next_event(timeout=max(0.1, deadline - time.monotonic()))
            assert event is not None, f"child ended before {kinds}; stderr:\n{self.stderr[-3000:]}"
            if event.kind in kinds:
                return event

    def send(self, obj: Any) -> None:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        if not self.proc.stdin.closed:
            self.proc.stdin.close()

    def finish(self, timeout: float = 30) -> int:
        """Wait for exit, drain the remaining events, join the reader threads."""
        rc = self.proc.wait(timeout=timeout)
        while self.next_event(timeout=10) is not None:
            pass
        for t in self._threads:
            t.join(timeout=10)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for t in self._threads:
            t.join(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
