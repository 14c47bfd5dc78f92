"""Starting, watching, stopping, queueing, resuming and re-attaching training runs."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from typing import Optional

from workbench.core.clock import new_id
from workbench.core.errors import ModelError, WorkbenchError
from workbench.core.records import Run, TrainConfig
from workbench.jobs.launch import ChildProcess, pid_alive
from workbench.jobs.protocol import Event, append_event, last_seq, read_journal
from workbench.jobs.specs import TrainSpec, write_spec
from workbench.services import run_queue
from workbench.services.dataset_ops import title_of
from workbench.services.jobs_wait import log_tail
from workbench.services.run_ingest import ingest
from workbench.services.run_outcome import Tracked as _Tracked, outcome
from workbench.services.run_stopping import RunStopping, StoppingRun, locked as _locked  # noqa: F401 - callers import StoppingRun from here
from workbench.services.run_resume import (  # noqa: F401 - callers import these from here
    ResumeCheck,
    checkpoint_step,
    last_checkpoint,
    resume_advice,
    resume_check,
)
from workbench.services.train_spec import check_method, init_adapter_path, previous_nproc, spec_fields
from workbench.store import ProjectStore

STOP_GRACE_S = 30.0  # cooperative stop (saves the adapter) before SIGTERM
TERM_GRACE_S = 10.0  # SIGTERM before SIGKILL
# A live child that sent no event this long is hung. It sends a heartbeat every ~2 s from a
# thread started before the data and model load, so only process start-up and light imports
# precede the first one; the margin covers a cold start on a slow, busy machine.
STALE_S = 300.0


class RunManager(RunStopping):
    """Owns the training children of one open project. Call poll() on a timer.

    Statuses are truthful: a child that reported an error is `failed`; one that died without a
    word, or went silent for `stale_s` (no event, not even a heartbeat), is `interrupted`.
    Stopping never blocks (cancel / stop_all write the stop request; poll() escalates to
    SIGTERM after `stop_grace_s` and SIGKILL `term_grace_s` later), except shutdown(kill=True),
    the headless path, which polls until every run has ended.

    With `run_queue`, poll() also starts the first queued run whenever fewer than
    `max_parallel` runs train (the app; a headless listing must not start training). A run
    the queue was running that died while no Workbench watched (a reboot) goes back to the
    head of the queue and resumes from its checkpoint, as the same run.
    """

    def __init__(self, store: ProjectStore, stop_grace_s: float = STOP_GRACE_S,
                 term_grace_s: float = TERM_GRACE_S, stale_s: float = STALE_S,
                 run_queue: bool = False, max_parallel: int = 1) -> None:
        self.store = store
        self.lock = threading.RLock()  # every public method holds it (see _locked)
        self.stop_grace_s = stop_grace_s
        self.term_grace_s = term_grace_s
        self.stale_s = stale_s
        self.run_queue = run_queue
        self.max_parallel = max_parallel
        self._queue_held = False  # stop_all / shutdown: nothing new starts while a project closes
        self._runs: dict[str, _Tracked] = {}
        # Bumped whenever a run starts or ends: a run that starts and ends between two polls of
        # a watcher leaves the active set as it was, but the watcher must still refresh.
        self.changes = 0
        for run in store.list_runs():
            if run.status == "running":  # re-attach; queued runs have no process yet
                tracked = self._tracked(run, child=None)
                segment = store.last_segment(run.id)
                if segment is not None:
                    tracked.start_seq, tracked.journal_start = segment.start_seq, segment.journal_start
                tracked.from_queue = run.queue_position is not None
                tracked.offset = max(store.journal_offset(run.id), tracked.journal_start)
                self._runs[run.id] = tracked
        if self._runs:
            self._poll_runs()

    def _tracked(self, run: Run, child: Optional[ChildProcess]) -> _Tracked:
        work = self.store.abspath(run.work_dir)
        return _Tracked(
            run_id=run.id, name=run.name, spec_path=os.path.join(work, "train.spec.json"),
            journal_path=os.path.join(work, "journal.jsonl"), stop_file=os.path.join(work, "STOP"),
            log_path=os.path.join(work, "train.log"), pid=run.pid, child=child,
        )

    # -- starting --------------------------------------------------------------------------------
    @_locked
    def start(self, dataset_version_id: str, base_model_id: str, config: TrainConfig,
              name: Optional[str] = None, queue: bool = False, nproc: int = 1,
              init_run_id: Optional[str] = None) -> Run:
        """A new run: it starts now, or with `queue` it waits at the end of the queue. `nproc` > 1
        trains in that many processes through torchrun (one per GPU). `init_run_id`: the run
        whose adapter this one trains further (e.g. DPO after SFT); None: a new adapter."""
        if nproc > 1 and queue:
            raise WorkbenchError("A queued run trains in one process.", advice="Start it now to train in several.")
        problems = config.validate()
        if problems:
            raise WorkbenchError("The training settings need fixing.", details="\n".join(problems),
                                 advice=problems[0])
        version = self.store.get_version(dataset_version_id)
        model = self.store.get_base_model(base_model_id)
        self._check_model(model.path)
        check_method(self.store, version, model, config, init_run_id)
        run_id = new_id()
        work_rel = os.path.join("runs", run_id)
        os.makedirs(self.store.abspath(work_rel), exist_ok=True)
        n = len(self.store.list_runs()) + 1
        name = name or f"{model.name}-{self.store.dataset_name(version.dataset_id)}-{n}"
        run = self.store.add_run(
            id=run_id, name=name, dataset_version_id=version.id, base_model_id=model.id,
            config=dataclasses.asdict(config), status="queued", work_dir=work_rel, seed=config.seed,
            queue_position=self.store.next_queue_position() if queue else None, init_run_id=init_run_id,
        )
        return run if queue else self._launch(run, resume_from=None, nproc=nproc)

    @_locked
    def enqueue(self, dataset_version_id: str, base_model_id: str, config: TrainConfig,
                name: Optional[str] = None, init_run_id: Optional[str] = None) -> Run:
        return self.start(dataset_version_id, base_model_id, config, name=name, queue=True, init_run_id=init_run_id)

    @_locked
    def resume(self, run_id: str, queue: bool = False) -> Run:
        """Continue an interrupted or cancelled run from its last checkpoint, as the same run:
        now, or with `queue` once the runs queued before it have ended."""
        run = self.store.get_run(run_id)
        check = resume_check(self.store, run)
        if check.checkpoint is None:
            raise WorkbenchError(f"Run {run.name} cannot be resumed: {check.reason[0].lower()}{check.reason[1:]}",
                                 advice=check.advice)
        if queue:
            self.store.queue_run(run_id)
            return self.store.get_run(run_id)
        return self._launch(run, resume_from=check.checkpoint)

    @_locked
    def retry_smaller(self, run_id: str, auto: bool = False) -> Run:
        """A run that ran out of memory starts again as the same run with half the batch size and
        twice the gradient accumulation (the same effective batch when the batch is even), from
        its last checkpoint if it has one; the new segment's note records the change."""
        run = self.store.get_run(run_id)
        if run.status != "failed" or run.failure_kind != "oom":
            raise WorkbenchError(f"Run {run.name} did not run out of memory, so it is not retried with a smaller batch.",
                                 advice="Resume it, or start a new run with other settings.")
        cfg = run.train_config
        if cfg.batch_size // 2 < cfg.min_batch_size:
            raise WorkbenchError(f"Run {run.name} already trains with batch size 1." if cfg.min_batch_size == 1 else
                                 f"Run {run.name} trains with batch size {cfg.batch_size}: half of it is below the "
                                 f"{cfg.min_batch_size} rows {cfg.method.upper()} needs in a batch.",
                                 advice="Turn on gradient checkpointing, lower the max length, or use a smaller "
                                        "base model, then start a new run.")
        new = cfg.replace(batch_size=cfg.batch_size // 2, grad_accum=cfg.grad_accum * 2)
        note = (f"{'Auto-retry' if auto else 'Retry'} after out of memory: batch {cfg.batch_size} -> {new.batch_size}, "
                f"gradient accumulation {cfg.grad_accum} -> {new.grad_accum} "
                f"(effective batch {cfg.effective_batch} -> {new.effective_batch})")
        self.store.set_run_config(run_id, dataclasses.asdict(new))
        checkpoint = last_checkpoint(self.store.abspath(run.work_dir))
        return self._launch(self.store.get_run(run_id), resume_from=checkpoint, note=note)

    @staticmethod
    def _check_model(path: str) -> None:
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise ModelError(f"The base model folder {path} is missing on this machine.",
                             advice="Rebuild it on the Models page, or add the folder again.")

    def _launch(self, run: Run, resume_from: Optional[str], from_queue: bool = False,
                note: Optional[str] = None, nproc: Optional[int] = None) -> Run:
        """The one path by which a training process starts: a new run, a resume, the queue."""
        work = self.store.abspath(run.work_dir)
        tracked = self._tracked(run, child=None)
        try:
            version = self.store.get_version(run.dataset_version_id)
            model = self.store.get_base_model(run.base_model_id)
            self._check_model(model.path)
            init_path = init_adapter_path(self.store, run.init_run_id, model)
        except WorkbenchError as exc:
            self.store.finish_run(run.id, "failed", error=exc.user_message, advice=exc.advice)
            raise
        start_step, start_seq, journal_start = 0, 0, 0
        if resume_from is not None or self.store.last_segment(run.id) is not None:
            # The resumed process numbers its events after every event the run already has (in
            # the journal or, from the pipe, only in the project), after this marker.
            start_step = checkpoint_step(resume_from) if resume_from else 0
            start_seq = max(self.store.max_event_seq(run.id), last_seq(tracked.journal_path))
            segment = len(self.store.run_segments(run.id))
            marker = Event(start_seq + 1, "resumed", {"segment": segment, "start_step": start_step,
                                                      "checkpoint": resume_from, "note": note}, time.time())
            journal_start = append_event(tracked.journal_path, marker)
        if nproc is None:  # a resume trains in as many processes as the run did
            nproc = previous_nproc(tracked.spec_path)
        spec = TrainSpec(
            run_id=run.id, base_model_path=model.path, dataset_path=self.store.abspath(version.blob_path),
            output_dir=work, journal_path=tracked.journal_path, stop_file=tracked.stop_file,
            config=run.train_config, resume_from=resume_from, dataset_name=title_of(self.store, version),
            nproc=nproc, init_adapter_path=init_path, **spec_fields(self.store, version, model),
        )
        if os.path.exists(tracked.stop_file):  # the last segment's stop request is done with
            os.remove(tracked.stop_file)
        write_spec(spec, tracked.spec_path)
        self.store.start_segment(run.id, start_step, start_seq, journal_start, from_queue=from_queue, note=note)
        if journal_start:
            ingest(self.store, run.id, read_journal(tracked.journal_path, journal_start)[0])
        tracked.start_seq, tracked.journal_start, tracked.offset = start_seq, journal_start, journal_start
        tracked.from_queue = from_queue
        try:
            tracked.child = ChildProcess("train", tracked.spec_path, tracked.log_path, nproc=nproc).start()
        except WorkbenchError as exc:
            self.store.finish_run(run.id, "failed", error=exc.user_message, advice=exc.advice)
            raise
        tracked.pid = tracked.child.pid
        self.store.mark_run_started(run.id, tracked.pid)
        self.changes += 1
        self._runs[run.id] = tracked
        return self.store.get_run(run.id)

    # -- the queue -------------------------------------------------------------------------------
    @_locked
    def queued_run_ids(self) -> list[str]:
        return self.store.queued_run_ids()

    @_locked
    def move_in_queue(self, run_id: str, position: int) -> list[str]:
        """Move a waiting run to `position` (1 = next); the new order."""
        return run_queue.move_to(self.store, run_id, position)

    @_locked
    def remove_from_queue(self, run_id: str) -> Run:
        return run_queue.remove(self.store, run_id)

    def _start_queued(self) -> None:
        """Start the queue's first runs while fewer than max_parallel train. A run that cannot
        start ends failed with the reason, and the next one is tried (nothing blocks the queue)."""
        while len(self._runs) < self.max_parallel:
            order = self.store.queued_run_ids()
            if not order:
                return
            run = self.store.get_run(order[0])
            resume_from = None
            if self.store.last_segment(run.id) is not None:  # it ran before: it resumes
                resume_from = last_checkpoint(self.store.abspath(run.work_dir))
                if resume_from is None:
                    self.store.finish_run(run.id, "interrupted", error="Its checkpoint is gone, so it cannot resume.",
                                          advice="Start a new run with the same settings.")
                    continue
            try:
                self._launch(run, resume_from, from_queue=True)
            except WorkbenchError:
                continue  # recorded on the run by _launch

    # -- watching --------------------------------------------------------------------------------
    @_locked
    def active_run_ids(self) -> list[str]:
        return list(self._runs)

    @_locked
    def poll(self) -> list[tuple[str, Event]]:
        """Ingest what the runs reported, follow stops and ends, then start queued runs."""
        out = self._poll_runs()
        if self.run_queue and not self._queue_held:
            self._start_queued()
        return out

    def _poll_runs(self) -> list[tuple[str, Event]]:
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
                tracked.last_event = time.monotonic()
            tracked.offset = offset
        if events:
            tracked.last_event = time.monotonic()
        return events

    def _alive(self, tracked: _Tracked) -> bool:
        if tracked.child is not None:
            return tracked.child.alive()
        return pid_alive(tracked.pid, must_contain=tracked.spec_path)

    def _check_finished(self, tracked: _Tracked) -> None:
        if self._alive(tracked):
            tracked.seen_alive = True
            silent = time.monotonic() - tracked.last_event
            if silent > self.stale_s:
                self._end_stale(tracked, silent)
            return
        rc = tracked.child.returncode() if tracked.child else None
        rest = self._read(tracked)
        if tracked.child is not None:  # the pipe is closed now; the journal has it all too
            rest += read_journal(tracked.journal_path, tracked.journal_start)[0]
        if rest:
            ingest(self.store, tracked.run_id, rest)
        end = outcome(self.store, tracked, rc, self.stop_grace_s)
        self._finish(tracked, end.status, end.error, end.advice, end.details, failure_kind=end.failure_kind)

    def _end_stale(self, tracked: _Tracked, silent: float) -> None:
        """A live child that sent no event (not even a heartbeat, every ~2 s) for `stale_s` is hung:
        end it so it frees its memory, and record it as interrupted (resumable)."""
        self._signal(tracked, signal.SIGKILL)  # _finish reaps an owned child
        self._finish(tracked, "interrupted",
                     error=f"The training process stopped reporting: no event for {silent:.0f} s "
                           f"(it sends a heartbeat every few seconds), so it was ended.",
                     advice=self._resume_advice(tracked) + " If this repeats, see the run's log for where it hung.",
                     details=log_tail(tracked.log_path))

    def _resume_advice(self, tracked: _Tracked) -> str:
        return resume_advice(os.path.dirname(tracked.spec_path))

    def _finish(self, tracked: _Tracked, status: str, error: str = "",
                advice: str = "", details: str = "", failure_kind: Optional[str] = None) -> None:
        if error and details:
            error = f"{error}\n\n{details[-2000:]}"
        # No error of its own: what the child reported (if anything) stays, advice included.
        if error and not advice and status == "failed":
            advice = self.store.get_run(tracked.run_id).error_advice or ""
        self.store.finish_run(tracked.run_id, status, error=error or None, advice=advice,
                              failure_kind=failure_kind)
        self.changes += 1
        if tracked.child is not None:
            tracked.child.close(grace=1.0)
        self._runs.pop(tracked.run_id, None)
        # The queue's run died while no Workbench watched (a reboot, a crash while closed): the
        # queue resumes where it was, this run first, from its checkpoint.
        if (status == "interrupted" and tracked.from_queue and tracked.child is None and not tracked.seen_alive
                and last_checkpoint(os.path.dirname(tracked.spec_path)) is not None):
            self.store.queue_run(tracked.run_id, position=1)
        # Out of memory with auto-retry on: the run itself tries again with half the batch, until
        # it fits or the batch is the method's smallest (then it stays failed with the advice).
        if status == "failed" and failure_kind == "oom" and tracked.stop_requested_at is None:
            run = self.store.get_run(tracked.run_id)
            cfg = run.train_config
            if cfg.auto_retry_oom and cfg.batch_size // 2 >= cfg.min_batch_size:
                try:
                    self.retry_smaller(run.id, auto=True)
                except WorkbenchError:
                    pass  # recorded on the run by _launch

    @_locked
    def shutdown(self, kill: bool = False) -> None:
        """Project close. Children keep training (journal only) unless `kill` is set.

        With `kill`, every run gets the same cooperative stop as cancel() (owned or re-attached),
        and this blocks, polling, until all have ended: for headless callers only (the GUI calls
        stop_all() and keeps polling from its timer instead).
        """
        self._queue_held = True
        if kill:
            self.stop_all()
            while self._runs and not self.stop_overdue():
                self.poll()
                if self._runs:
                    time.sleep(0.1)
        for tracked in list(self._runs.values()):
            if tracked.child is not None:
                tracked.child.detach()
        self._runs.clear()
