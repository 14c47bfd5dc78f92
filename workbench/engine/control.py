"""Signals between parent and child besides events: stdin lines, the stop file, heartbeats."""

from __future__ import annotations

import os
import threading
from typing import Callable, Iterator

from workbench.jobs.protocol import EventWriter


def stdin_lines(fd: int = 0) -> Iterator[str]:
    """Lines from stdin, read with os.read on the raw descriptor.

    A daemon thread blocked in sys.stdin.readline() holds the BufferedReader lock and can
    abort interpreter shutdown; a raw read holds no Python lock.
    """
    buf = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            if buf.strip():
                yield buf.decode("utf-8", errors="replace")
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            yield line.decode("utf-8", errors="replace")


def start_daemon(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


class StopSignal:
    """A cooperative stop request: the stop file exists, or "stop" arrived on stdin."""

    def __init__(self, stop_file: str | None):
        self.stop_file = stop_file
        self._event = threading.Event()

    def watch_stdin(self) -> threading.Thread:
        def read() -> None:
            for line in stdin_lines():
                if line.strip().lower() in ("stop", '{"op": "stop"}', '{"op":"stop"}'):
                    self._event.set()

        return start_daemon(read, "stdin-stop")

    def request(self) -> None:
        self._event.set()

    def requested(self) -> bool:
        if not self._event.is_set() and self.stop_file and os.path.exists(self.stop_file):
            self._event.set()
        return self._event.is_set()


class StepCounter:
    """The training step, written by the Trainer callback and read by the heartbeat thread
    (an int assignment is atomic, so no lock)."""

    def __init__(self) -> None:
        self._step = 0

    def set(self, step: int) -> None:
        self._step = int(step)

    def get(self) -> int:
        return self._step


class Heartbeat:
    """Emits `heartbeat {step}` every `interval` seconds so the parent can spot a hung child."""

    def __init__(self, writer: EventWriter, step: Callable[[], int], interval: float = 2.0):
        self._writer = writer
        self._step = step
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            self._writer.emit("heartbeat", step=self._step())

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)
