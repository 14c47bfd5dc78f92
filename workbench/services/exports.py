"""Exporting a run as a merged model: which checkpoints a run has, and the export job.

Any of a run's adapters can be exported ("promoted"): the final adapter, the best checkpoint
by eval loss (best/), or a periodic checkpoints/checkpoint-N. The merge runs in an engine child
(`export`, workbench/engine/export.py) started through the one child-start path
(jobs.launch.ChildProcess); `export_merged` returns an ExportJob the UI polls from a timer
(progress, cancel) and the CLI waits on.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from typing import Optional, Union

from workbench.core.clock import new_id
from workbench.core.errors import JobError, WorkbenchError
from workbench.core.progress import CancelToken, Cancelled, ProgressCallback, report
from workbench.core.run_files import RUN_RECORD, read_json_object
from workbench.jobs.launch import ChildProcess
from workbench.jobs.protocol import Event
from workbench.jobs.specs import ExportSpec, write_spec
from workbench.services.jobs_wait import failure_from_event, log_tail
from workbench.services.lookup import find_run
from workbench.store import ProjectStore

FINAL, BEST = "final", "best"
STOP_GRACE_S = 10.0  # the child stops at its next phase; a save in progress finishes first
TERM_GRACE_S = 5.0


@dataclass(frozen=True)
class CheckpointInfo:
    """One adapter of a run that can be exported."""

    label: str  # "final" | "best" | "checkpoint-N"
    path: str  # absolute
    step: Optional[int]
    eval_loss: Optional[float]  # the validation loss measured at that step, where one was

    @property
    def title(self) -> str:
        facts = [f"step {self.step}"] if self.step is not None else []
        if self.eval_loss is not None:
            facts.append(f"eval loss {self.eval_loss:.4f}")
        return f"{self.label} ({', '.join(facts)})" if facts else self.label


@dataclass(frozen=True)
class ExportResult:
    path: str
    run_id: str
    checkpoint: str
    step: Optional[int]
    dtype: str  # what the weights were merged and saved in
    device: str
    size_bytes: int



def _is_adapter(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "adapter_config.json"))


def checkpoints_of(store: ProjectStore, run_id: str) -> list[CheckpointInfo]:
    """The run's exportable adapters: final, best, then checkpoint-N newest first (folder
    listings and small JSON reads: call it from a worker)."""
    run = store.get_run(run_id)
    work = store.abspath(run.work_dir)
    evals = dict(store.metric_series(run.id, "eval_loss"))
    out: list[CheckpointInfo] = []
    final = store.abspath(run.adapter_path) if run.adapter_path else os.path.join(work, "adapter")
    if _is_adapter(final):
        steps = read_json_object(os.path.join(final, RUN_RECORD)).get("steps")
        step = steps if isinstance(steps, int) else run.step or None
        out.append(CheckpointInfo(FINAL, final, step, evals.get(step) if step else None))
    best = os.path.join(work, "best")
    if _is_adapter(best):
        record = read_json_object(os.path.join(best, RUN_RECORD))
        step = _checkpoint_step(str(record.get("checkpoint", "")))
        loss = record.get("best_eval_loss")
        out.append(CheckpointInfo(BEST, best, step, loss if isinstance(loss, (int, float)) else evals.get(step)))
    root = os.path.join(work, "checkpoints")
    try:
        names = os.listdir(root)
    except OSError:
        names = []
    numbered = sorted(((_checkpoint_step(n), n) for n in names if _checkpoint_step(n) is not None), reverse=True)
    for step, name in numbered:
        folder = os.path.join(root, name)
        if _is_adapter(folder):
            out.append(CheckpointInfo(name, folder, step, evals.get(step)))
    return out


def _checkpoint_step(name: str) -> Optional[int]:
    head, _, tail = name.partition("-")
    return int(tail) if head == "checkpoint" and tail.isdigit() else None


def pick_checkpoint(store: ProjectStore, run_id: str, which: Union[None, str, int] = None) -> CheckpointInfo:
    """`which`: None or "final" (the final adapter), "best", N or "checkpoint-N"."""
    run = store.get_run(run_id)
    available = checkpoints_of(store, run_id)
    want = FINAL if which in (None, "") else str(which).strip()
    if want.isdigit():
        want = f"checkpoint-{int(want)}"
    for info in available:
        if info.label == want:
            return info
    known = ", ".join(i.title for i in available) or "none"
    if not available:
        advice = ("It saved no adapter: a run that failed before its first checkpoint has nothing to export. "
                  "Resume it or start a new run.")
    else:
        advice = f"Choose one of: {known} (--checkpoint best|final|N)."
    raise WorkbenchError(f"Run {run.name} has no {want} adapter to export.", advice=advice)


class ExportJob:
    """A running export child. poll() never blocks (call it from a timer or a loop); cancel()
    asks the child to stop and escalates to SIGTERM, then SIGKILL, over later polls."""

    def __init__(self, child: ChildProcess, spec: ExportSpec, work_dir: str) -> None:
        self._child = child
        self.spec = spec
        self.work_dir = work_dir
        self.fraction = 0.0
        self.message = "starting"
        self.state = "running"  # running | completed | failed | cancelled
        self.result: Optional[ExportResult] = None
        self.error: Optional[WorkbenchError] = None
        self._stop_at: Optional[float] = None
        self._term_at: Optional[float] = None
        self._killed = False

    @property
    def done(self) -> bool:
        return self.state != "running"

    def poll(self) -> list[Event]:
        if self.done:
            return []
        events = self._child.poll_events()
        for event in events:
            self._apply(event)
        if not self.done:
            self._escalate()
            rc = self._child.returncode()
            if rc is not None:
                for event in self._child.poll_events():
                    self._apply(event)
                    events.append(event)
                if not self.done:
                    self._ended_silently(rc)
        if self.done:
            self._child.close(grace=1.0)
        return events

    def _apply(self, event: Event) -> None:
        p = event.payload
        if event.kind == "progress":
            self.fraction = float(p.get("fraction", self.fraction))
            self.message = str(p.get("message", self.message))
        elif event.kind == "completed":
            self.fraction, self.message, self.state = 1.0, "exported", "completed"
            self.result = ExportResult(path=p["path"], run_id=self.spec.run_id, checkpoint=self.spec.checkpoint,
                                       step=self.spec.step, dtype=p.get("dtype", ""), device=p.get("device", ""),
                                       size_bytes=int(p.get("size_bytes") or 0))
        elif event.kind == "failed":
            self.state = "failed"
            self.error = failure_from_event(event, "The export failed.")
        elif event.kind == "cancelled":
            self.state, self.message = "cancelled", "cancelled"

    def _ended_silently(self, rc: int) -> None:
        if self._stop_at is not None:
            self.state, self.message = "cancelled", "cancelled"
            self._remove_partial()
            return
        self.state = "failed"
        self.error = JobError(f"The export process ended without finishing (exit code {rc}).",
                              details=log_tail(os.path.join(self.work_dir, "export.log")),
                              advice="See the details for what happened; then export again.")
        self._remove_partial()

    def _remove_partial(self) -> None:
        """A killed child cannot clean up its temporary folder (engine.model_files.atomic_folder)."""
        out = os.path.abspath(self.spec.output_dir)
        if self._child.pid:
            tmp = os.path.join(os.path.dirname(out), f".{os.path.basename(out)}.tmp-{self._child.pid}")
            shutil.rmtree(tmp, ignore_errors=True)

    def _escalate(self) -> None:
        if self._stop_at is None or not self._child.alive():
            return
        now = time.monotonic()
        if self._term_at is None and now - self._stop_at > STOP_GRACE_S:
            self._term_at = now
            self._child.terminate()  # the child's SIGTERM handler removes its temporary folder
        elif self._term_at is not None and not self._killed and now - self._term_at > TERM_GRACE_S:
            self._killed = True
            self._child.kill()

    def cancel(self) -> None:
        if self.done or self._stop_at is not None:
            return
        self._stop_at = time.monotonic()
        self.message = "cancelling"
        self._child.send_line("stop")

    def wait(self, progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
             interval: float = 0.05) -> ExportResult:
        """Poll until the export ends: its result, or Cancelled, or the child's own error."""
        try:
            while not self.done:
                if cancel is not None and cancel.cancelled:
                    self.cancel()
                for event in self.poll():  # every step, also when several arrive at once
                    if event.kind == "progress":
                        p = event.payload
                        report(progress, float(p.get("fraction", 0.0)), str(p.get("message", "")))
                if not self.done:
                    time.sleep(interval)
        finally:
            if not self.done:  # interrupted (Ctrl+C): do not leave the child running
                self._child.close(grace=2.0)
        if self.state == "cancelled":
            raise Cancelled()
        if self.state == "failed":
            raise self.error or JobError("The export failed.")
        assert self.result is not None
        return self.result


def export_merged(store: ProjectStore, run_id: str, out_dir: str,
                  checkpoint: Union[None, str, int] = None) -> ExportJob:
    """Start merging a run's adapter (`checkpoint`: None/"final", "best", N) into its base model
    as a plain model folder at `out_dir`. Reads the run's folders: call it from a worker."""
    run = find_run(store, run_id)
    info = pick_checkpoint(store, run.id, checkpoint)
    model = store.get_base_model(run.base_model_id)
    work = os.path.join(store.abspath(run.work_dir), "exports", new_id())
    spec = ExportSpec(base_model_path=model.path, adapter_path=info.path, output_dir=os.path.abspath(out_dir),
                      journal_path=os.path.join(work, "journal.jsonl"), run_id=run.id, run_name=run.name,
                      checkpoint=info.label, step=info.step, base_model_fingerprint=model.fingerprint)
    spec_path = write_spec(spec, os.path.join(work, "export.spec.json"))
    child = ChildProcess("export", spec_path, os.path.join(work, "export.log")).start()
    return ExportJob(child, spec, work)
