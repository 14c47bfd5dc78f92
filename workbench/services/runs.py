"""Starting, watching, stopping and re-attaching training runs."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from dataclasses import dataclass
from typing import Optional

from workbench.core.clock import new_id, now_iso
from workbench.core.errors import ModelError, WorkbenchError
from workbench.core.records import ACTIVE_STATUSES, Run, TrainConfig
from workbench.jobs.launch import ChildProcess, pid_alive
from workbench.jobs.protocol import Event, read_journal
from workbench.jobs.specs import TrainSpec, write_spec
from workbench.services.jobs_wait import log_tail
from workbench.services.run_ingest import ingest, terminal_kind
from workbench.store import ProjectStore

STOP_GRACE_S = 30.0  # cooperative stop (saves the adapter) before SIGTERM
TERM_GRACE_S = 10.0  # SIGTERM before SIGKILL
STALE_S = 300.0  # a live pid whose journal has not grown this long is considered hung


@dataclass
class _Tracked:
    run_id: str
    spec_path: str
    journal_path: str
    stop_file: str
    log_path: str
    pid: Optional[int]
    child: Optional[ChildProcess] = None  # None: re-attached through the journal only
    offset: int = 0
    stop_requested_at: Optional[float] = None
    terminated_at: Optional[float] = None
    last_growth: float = dataclasses.field(default_factory=time.monotonic)


class RunManager:
    """Owns the training children of one open project. Call poll() on a timer."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store
        self._runs: dict[str, _Tracked] = {}
        for run in store.list_runs():
            if run.status in ACTIVE_STATUSES:
                self._runs[run.id] = self._tracked(run, child=None)
                self._runs[run.id].offset = store.run_row(run.id).get("journal_offset") or 0
        if self._runs:
            self.poll()

    def _tracked(self, run: Run, child: Optional[ChildProcess]) -> _Tracked:
        work = self.store.abspath(run.work_dir)
        return _Tracked(
            run_id=run.id, spec_path=os.path.join(work, "train.spec.json"),
            journal_path=os.path.join(work, "journal.jsonl"), stop_file=os.path.join(work, "STOP"),
            log_path=os.path.join(work, "train.log"), pid=run.pid, child=child,
        )

    # -- starting --------------------------------------------------------------------------------
    def start(self, dataset_version_id: str, base_model_id: str, config: TrainConfig,
              name: Optional[str] = None, resume_from: Optional[str] = None) -> Run:
        problems = config.validate()
        if problems:
            raise WorkbenchError("The training settings need fixing.", details="\n".join(problems),
                                 advice=problems[0])
        version = self.store.get_version(dataset_version_id)
        model = self.store.get_base_model(base_model_id)
        if not os.path.isfile(os.path.join(model.path, "config.json")):
            raise ModelError(f"The base model folder {model.path} is missing on this machine.",
                             advice="Rebuild it on the Models page, or add the folder again.")
        run_id = new_id()
        work_rel = os.path.join("runs", run_id)
        work = self.store.abspath(work_rel)
        os.makedirs(work, exist_ok=True)
        n = len(self.store.list_runs()) + 1
        name = name or f"{model.name}-{self.store.dataset_name(version.dataset_id)}-{n}"
        spec = TrainSpec(
            run_id=run_id, base_model_path=model.path, dataset_path=self.store.abspath(version.blob_path),
            output_dir=work, journal_path=os.path.join(work, "journal.jsonl"),
            stop_file=os.path.join(work, "STOP"), config=config, resume_from=resume_from,
        )
        write_spec(spec, os.path.join(work, "train.spec.json"))
        run = self.store.add_run(
            id=run_id, name=name, dataset_version_id=version.id, base_model_id=model.id,
            config=dataclasses.asdict(config), status="running", work_dir=work_rel, seed=config.seed,
            started_at=now_iso(),
        )
        tracked = self._tracked(run, child=None)
        try:
            tracked.child = ChildProcess("train", tracked.spec_path, tracked.log_path).start()
        except WorkbenchError as exc:
            self.store.update("runs", run_id, status="failed", error=exc.user_message, finished_at=now_iso())
            raise
        tracked.pid = tracked.child.pid
        self.store.update("runs", run_id, pid=tracked.pid)
        self._runs[run_id] = tracked
        return self.store.get_run(run_id)

    def resume(self, run_id: str) -> Run:
        """Continue an interrupted or cancelled run from its last checkpoint, as a new run."""
        run = self.store.get_run(run_id)
        ckpt_root = os.path.join(self.store.abspath(run.work_dir), "checkpoints")
        ckpts = sorted(
            (d for d in os.listdir(ckpt_root) if d.startswith("checkpoint-")) if os.path.isdir(ckpt_root) else [],
            key=lambda d: int(d.split("-")[-1]) if d.split("-")[-1].isdigit() else -1,
        )
        if not ckpts:
            raise WorkbenchError(f"Run {run.name} has no checkpoint to resume from.",
                                 advice="Start a new run instead (set checkpoint steps to resume later).")
        return self.start(run.dataset_version_id, run.base_model_id, run.train_config,
                          name=f"{run.name} (resumed)", resume_from=os.path.join(ckpt_root, ckpts[-1]))

    # -- watching --------------------------------------------------------------------------------
    def active_run_ids(self) -> list[str]:
        return list(self._runs)

    def poll(self) -> list[tuple[str, Event]]:
        out: list[tuple[str, Event]] = []
        for tracked in list(self._runs.values()):
            events = self._read(tracked)
            if events:
                ingest(self.store, tracked.run_id, events,
                       journal_offset=None if tracked.child else tracked.offset)
                out.extend((tracked.run_id, e) for e in events)
            self._escalate_stop(tracked)
            self._check_finished(tracked)
        return out

    def _read(self, tracked: _Tracked) -> list[Event]:
        if tracked.child is not None:
            events = tracked.child.poll_events()
        else:
            events, offset = read_journal(tracked.journal_path, tracked.offset)
            if offset != tracked.offset:
                tracked.last_growth = time.monotonic()
            tracked.offset = offset
        if events:
            tracked.last_growth = time.monotonic()
        return events

    def _alive(self, tracked: _Tracked) -> bool:
        if tracked.child is not None:
            return tracked.child.alive()
        return pid_alive(tracked.pid, must_contain=tracked.spec_path)

    def _check_finished(self, tracked: _Tracked) -> None:
        if self._alive(tracked):
            if tracked.child is None and time.monotonic() - tracked.last_growth > STALE_S:
                self._finish(tracked, "interrupted", error="The training process stopped reporting.",
                             advice="It may be hung. Stop it, then resume from its last checkpoint.")
            return
        rc = tracked.child.returncode() if tracked.child else None
        rest = self._read(tracked)
        if tracked.child is not None:  # the pipe is closed now; the journal has it all too
            rest += read_journal(tracked.journal_path, 0)[0]
        if rest:
            ingest(self.store, tracked.run_id, rest)
        kind = terminal_kind(self.store, tracked.run_id)
        run = self.store.get_run(tracked.run_id)
        adapter_ok = bool(run.adapter_path) and os.path.isfile(
            os.path.join(self.store.abspath(run.adapter_path), "adapter_config.json"))
        if kind == "completed" and adapter_ok and rc in (0, None):
            self._finish(tracked, "completed")
        elif kind == "cancelled" or (kind is None and tracked.stop_requested_at is not None):
            self._finish(tracked, "cancelled")
        elif kind == "failed":
            self._finish(tracked, "failed")
        elif kind == "completed":
            self._finish(tracked, "failed", error="Training ended without a usable adapter.",
                         advice="See the run's log for details.")
        elif tracked.child is None:
            self._finish(tracked, "interrupted", error="The training process ended while Workbench was closed.",
                         advice="Resume it from its last checkpoint, or start it again.")
        else:
            killed = rc is not None and rc < 0
            self._finish(
                tracked, "failed",
                error=f"The training process exited unexpectedly (exit code {rc}).",
                advice="It was killed by the system, most likely for running out of memory: lower the batch "
                       "size or max length." if killed else "See the details for the process output.",
                details=log_tail(tracked.log_path),
            )

    def _finish(self, tracked: _Tracked, status: str, error: Optional[str] = None,
                advice: Optional[str] = None, details: Optional[str] = None) -> None:
        changes: dict = {"status": status, "finished_at": now_iso(), "pid": None}
        if error:
            changes["error"] = error if not details else f"{error}\n\n{details[-2000:]}"
            changes["error_advice"] = advice or ""
        self.store.update("runs", tracked.run_id, **changes)
        if tracked.child is not None:
            tracked.child.close(grace=1.0)
        self._runs.pop(tracked.run_id, None)

    # -- stopping --------------------------------------------------------------------------------
    def cancel(self, run_id: str) -> None:
        tracked = self._runs.get(run_id)
        if tracked is None:
            run = self.store.get_run(run_id)
            if run.status in ACTIVE_STATUSES:
                self.store.update("runs", run_id, status="cancelled", finished_at=now_iso())
            return
        if tracked.stop_requested_at is None:
            tracked.stop_requested_at = time.monotonic()
            with open(tracked.stop_file, "w", encoding="utf-8") as f:
                f.write(now_iso())
            if tracked.child is not None:
                tracked.child.send_line("stop")

    def _escalate_stop(self, tracked: _Tracked) -> None:
        if tracked.stop_requested_at is None or not self._alive(tracked):
            return
        waited = time.monotonic() - tracked.stop_requested_at
        if tracked.terminated_at is None and waited > STOP_GRACE_S:
            tracked.terminated_at = time.monotonic()
            self._signal(tracked, signal.SIGTERM)
        elif tracked.terminated_at is not None and time.monotonic() - tracked.terminated_at > TERM_GRACE_S:
            self._signal(tracked, signal.SIGKILL)

    def _signal(self, tracked: _Tracked, sig: int) -> None:
        if tracked.child is not None:
            tracked.child.terminate() if sig == signal.SIGTERM else tracked.child.kill()
        elif tracked.pid and pid_alive(tracked.pid, must_contain=tracked.spec_path):
            os.kill(tracked.pid, sig)

    def shutdown(self, kill: bool = False) -> None:
        """Project close. Children keep training (journal only) unless `kill` is set."""
        for tracked in list(self._runs.values()):
            if kill:
                self.cancel(tracked.run_id)
                if tracked.child is not None:
                    tracked.child.wait(STOP_GRACE_S)
                    tracked.child.close(grace=TERM_GRACE_S)
                elif tracked.pid and pid_alive(tracked.pid, must_contain=tracked.spec_path):
                    os.kill(tracked.pid, signal.SIGTERM)
                self.poll()
            elif tracked.child is not None:
                tracked.child.detach()
        self._runs.clear()
