"""Starting and watching engine child processes (parent side, no threads).

A child is started with an argv list (never a shell string), in its own session so that a
Ctrl+C in the launching terminal or the GUI exiting does not kill a training run. Its stdout is
read without blocking from `poll()`, so no reader thread exists and detaching is just closing
the pipe: the child then keeps reporting to its journal only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Optional

from workbench.core.errors import JobError
from workbench.engine import TORCHRUN, WORKER_SWITCH
from workbench.jobs.protocol import Event, parse_line

TORCHRUN_VERB_FOR = "train"  # the one verb that runs in several processes
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def engine_argv(verb: str, spec_path: str, nproc: int = 1) -> list[str]:
    """The command line of an engine child.

    A frozen build has no `-m`: it re-runs its own executable with the worker switch, which
    its entry points (workbench.cli.main, workbench.ui.app.main) hand to the engine.

    With `nproc` > 1 (training only) torchrun starts the processes and joins them into one
    distributed run; this process never imports torch, so torchrun is named, not called. A
    frozen build runs torchrun through its own worker switch and has it start the same
    executable (`--no-python`) as each worker.
    """
    if nproc > 1:
        if verb != TORCHRUN_VERB_FOR:
            raise JobError(f"Only training runs in several processes; {verb!r} runs in one.",
                           advice="Start it without --nproc.")
        ranks = ["--nproc-per-node", str(nproc), "--standalone"]
        if getattr(sys, "frozen", False):
            return [sys.executable, WORKER_SWITCH, TORCHRUN, *ranks, "--no-python",
                    sys.executable, WORKER_SWITCH, verb, spec_path]
        return [sys.executable, "-m", "torch.distributed.run", *ranks, "-m", "workbench.engine", verb, spec_path]
    if getattr(sys, "frozen", False):
        return [sys.executable, WORKER_SWITCH, verb, spec_path]
    return [sys.executable, "-m", "workbench.engine", verb, spec_path]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    # A source checkout that is not installed still finds its own package.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH", "")) if p)
    env.pop("QT_QPA_PLATFORM", None)
    return env


class ChildProcess:
    """One engine child: argv launch, non-blocking event reading, stdin requests, stopping.

    `start()` is the one way any engine child (train, chat, build-model, ...) is started.
    """

    def __init__(self, verb: str, spec_path: str, log_path: str, nproc: int = 1) -> None:
        self.verb = verb
        self.spec_path = spec_path
        self.log_path = log_path
        self.nproc = nproc  # > 1: torchrun's agent is the child, the ranks its children
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self._buf = b""
        self._fd: Optional[int] = None

    def start(self) -> "ChildProcess":
        os.makedirs(os.path.dirname(os.path.abspath(self.log_path)), exist_ok=True)
        argv = engine_argv(self.verb, self.spec_path, self.nproc)
        try:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                    env=child_env(), start_new_session=True, close_fds=True,
                )
        except OSError as exc:
            raise JobError("Could not start the engine process.", details=f"{argv}: {exc}") from exc
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        return self

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def poll_events(self) -> list[Event]:
        """Every complete protocol line that arrived since the last call (never blocks)."""
        if self._fd is None:
            return []
        chunks = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:  # EOF: the child closed stdout (it exited)
                self._close_stdout()
                break
            chunks.append(data)
        if not chunks and not self._buf:
            return []
        self._buf += b"".join(chunks)
        lines = self._buf.split(b"\n")
        self._buf = lines.pop()  # partial line, completed by a later read
        events = []
        for raw in lines:
            event = parse_line(raw.decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def returncode(self) -> Optional[int]:
        return self.proc.poll() if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, request: dict[str, Any]) -> None:
        self.send_line(json.dumps(request))

    def send_line(self, line: str) -> None:
        if not self.alive() or self.proc is None or self.proc.stdin is None:
            return
        try:
            self.proc.stdin.write(line.encode("utf-8") + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def terminate(self) -> None:
        if self.alive() and self.proc is not None:
            self.proc.terminate()

    def kill(self) -> None:
        if self.alive() and self.proc is not None:
            self.proc.kill()

    def wait(self, timeout: float) -> Optional[int]:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _close_stdout(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self._fd = None

    def detach(self) -> None:
        """Stop listening; a live child goes on writing its journal."""
        self._close_stdout()
        if self.proc is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def close(self, grace: float = 3.0) -> None:
        """End the child: ask (stdin EOF), then terminate, then kill; reap it."""
        if self.proc is None:
            return
        self.detach()
        if self.wait(grace) is None:
            self.terminate()
            if self.wait(grace) is None:
                self.kill()
                self.wait(grace)


def pid_alive(pid: Optional[int], must_contain: Optional[str] = None) -> bool:
    """Whether `pid` is a live process (and, where /proc exists, runs `must_contain`)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = f"/proc/{pid}/cmdline"
    if must_contain and os.path.exists(cmdline):
        try:
            with open(cmdline, "rb") as f:
                args = f.read().decode("utf-8", errors="replace")
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            return False
        if ") Z " in stat:  # a zombie is dead for our purposes
            return False
        return must_contain in args
    return True
