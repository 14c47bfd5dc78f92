"""Eval runs (issue 10): one suite on one model (a base model, or a run's adapter at a kept
checkpoint) generated in an engine child (`python -m workbench.engine eval SPEC.json`).

EvalManager runs one eval child at a time, the others wait in a FIFO queue. Statuses are
truthful: `completed` needs the child's completed event and exit 0; `failed` is an error the
child reported (its message and advice); a child that died without a word, or that ended while
no Workbench watched, is `interrupted`; a stop request is `cancelled`. Both resume: a new child
is given the outputs already made and the items already judged, so nothing finished is redone.

Each eval run's folder `evals/<id>/` holds its spec, its items (JSONL), the journal, the log,
the stop file, and a copy of the adapter it evaluates (a rotated checkpoint cannot vanish
under it).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
import shutil
import threading
import time
from typing import Optional

from workbench.core.clock import new_id, now_iso
from workbench.core.errors import JobError, ModelError, WorkbenchError
from workbench.core.eval_records import BASE, FINAL, PASS_FAIL, EvalModel, EvalRun, EvalSuite, ItemResult
from workbench.core.progress import CancelToken, Cancelled, ProgressCallback, report
from workbench.core.records import CHATTABLE_STATUSES, RESUMABLE_STATUSES
from workbench.jobs.launch import ChildProcess, pid_alive
from workbench.jobs.protocol import Event, read_journal
from workbench.jobs.specs import EvalSpec, JudgeSpec, write_spec
from workbench.services.eval_ingest import Tracked, ingest, item_metrics, metrics_of, summarize, usable
from workbench.services.exports import CheckpointInfo, checkpoints_of, pick_checkpoint
from workbench.services.eval_outcome import EvalStopping, ending
from workbench.services.run_stopping import locked
from workbench.store import ProjectStore

STOP_GRACE_S = 60.0  # the child stops after the batch it is generating
TERM_GRACE_S = 10.0
ENDED = ("completed", "cancelled", "failed", "interrupted")
# Files of a trainer checkpoint an eval does not need (optimizer state is the bulk of it).
_NOT_ADAPTER = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*", "training_args.bin",
                "trainer_state.json", "global_step*")


def _work(store: ProjectStore, run: EvalRun) -> str:
    return store.abspath(run.work_dir)


def _is_adapter(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "adapter_config.json"))


class EvalManager(EvalStopping):
    """Owns the eval children of one open project. Call poll() on a timer (the GUI's poller
    thread) or wait() (the CLI). Every public method holds `lock`."""

    def __init__(self, store: ProjectStore, stop_grace_s: float = STOP_GRACE_S,
                 term_grace_s: float = TERM_GRACE_S) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.stop_grace_s = stop_grace_s
        self.term_grace_s = term_grace_s
        self._active: Optional[Tracked] = None
        self._queue_held = False  # shutdown: nothing new starts while the project closes
        self.changes = 0  # bumped when an eval run starts or ends (watchers refresh on it)
        for run in store.list_eval_runs(statuses=["running"]):
            self._reattach(run)

    # -- starting ----------------------------------------------------------------------------------
    @locked
    def start(self, suite_id: str, models: list[EvalModel], judge_model_id: Optional[str] = None,
              purpose: str = "manual", group_id: Optional[str] = None) -> list[EvalRun]:
        """Queue an eval run of the suite per model (side by side: one group); the first starts
        now when no eval child runs. Every model is checked before any is queued. Copies each
        adapter into its eval run's folder: call it from a worker."""
        suite = self.store.get_suite(suite_id)
        if suite.item_count == 0:
            raise WorkbenchError(f"The suite {suite.title} has no items.", advice="Edit the suite to add prompts.")
        if not models:
            raise WorkbenchError("Choose at least one model to evaluate.")
        judge_id = judge_model_id or self._suite_judge(suite)
        if judge_id:
            self._check_model(self.store.get_base_model(judge_id).path, "judge model")
        resolved = [self._resolve(m) for m in models]
        if group_id is None and len(models) > 1:
            group_id = new_id()
        items = self.store.suite_items(suite.id)
        runs = []
        for model, checkpoint in resolved:
            eval_run_id = new_id()
            work_rel = os.path.join("evals", eval_run_id)
            work = self.store.abspath(work_rel)
            os.makedirs(work, exist_ok=True)
            if checkpoint is not None:
                try:
                    shutil.copytree(checkpoint.path, os.path.join(work, "adapter"),
                                    ignore=shutil.ignore_patterns(*_NOT_ADAPTER))
                except OSError as exc:
                    shutil.rmtree(work, ignore_errors=True)
                    raise WorkbenchError(f"Could not copy the adapter of {model.label} for the eval run.",
                                         details=str(exc), advice="Check the free disk space, then start again.") from exc
            tmp = os.path.join(work, "items.jsonl.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                for item in items:
                    f.write(json.dumps(item.to_json(), ensure_ascii=False) + "\n")
            os.replace(tmp, os.path.join(work, "items.jsonl"))
            runs.append(self.store.add_eval_run(suite, model, work_rel, purpose=purpose, group_id=group_id,
                                                judge_model_id=judge_id, eval_run_id=eval_run_id))
        self._start_next()
        return [self.store.get_eval_run(r.id) for r in runs]

    def _suite_judge(self, suite: EvalSuite) -> Optional[str]:
        spec = next((m for m in suite.metrics if m.name == "judge"), None)
        if spec is None:
            return None
        model_id = spec.params.get("model_id")
        if not model_id:
            raise WorkbenchError(f"The suite {suite.title} has a judge metric but names no judge model.",
                                 advice="Choose the judge model when you start the run, or edit the suite's judge.")
        return str(model_id)

    @staticmethod
    def _check_model(path: str, what: str = "base model") -> None:
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise ModelError(f"The {what} folder {path} is missing on this machine.",
                             advice="Rebuild it on the Models page, or add the folder again.")

    def _resolve(self, model: EvalModel) -> tuple[EvalModel, Optional[CheckpointInfo]]:
        """The model with its label and step filled in, and the adapter to copy (None: the base)."""
        base = self.store.get_base_model(model.base_model_id)
        self._check_model(base.path)
        if model.run_id is None:
            return EvalModel(base.id, label=model.label or f"{base.name} (base)"), None
        run = self.store.get_run(model.run_id)
        if run.base_model_id != base.id:
            trained_on = self.store.get_base_model(run.base_model_id).name
            raise WorkbenchError(
                f"Run {run.name}'s adapter was trained on {trained_on}, not on {base.name}.",
                advice=f"Evaluate it with its own base model ({trained_on}): an adapter only fits the model it was "
                       "trained on.")
        which = FINAL if model.checkpoint in ("", BASE) else model.checkpoint
        try:
            info = pick_checkpoint(self.store, run.id, which)
        except WorkbenchError as exc:
            raise WorkbenchError(f"Run {run.name} has no {which} adapter to evaluate.", advice=exc.advice) from None
        label = model.label or f"{run.name} · {info.label}" + (f" (step {info.step})" if info.step is not None else "")
        return EvalModel(base.id, run.id, info.label, info.step, label), info

    @locked
    def resume(self, eval_run_id: str) -> EvalRun:
        """Queue a cancelled, interrupted or failed eval run again; its child generates only the
        items without an output (and judges only those not judged)."""
        run = self.store.get_eval_run(eval_run_id)
        if run.status not in RESUMABLE_STATUSES:
            raise WorkbenchError(f"The eval run of {run.label} is {run.status}, so there is nothing to resume.",
                                 advice="Start a new eval run to evaluate it again.")
        self.store.requeue_eval_run(run.id)
        self._start_next()
        return self.store.get_eval_run(run.id)

    def _start_next(self) -> None:
        """Start the queue's first eval run when none runs; one that cannot start ends failed
        with the reason and the next is tried (nothing blocks the queue)."""
        while self._active is None and not self._queue_held:
            order = self.store.queued_eval_run_ids()
            if not order:
                return
            try:
                self._launch(self.store.get_eval_run(order[0]))
            except WorkbenchError as exc:
                self.store.update_eval_run(order[0], status="failed", error=exc.user_message,
                                           error_advice=exc.advice, finished_at=now_iso())
                self.changes += 1

    def _launch(self, run: EvalRun) -> None:
        work = _work(self.store, run)
        suite = self.store.get_suite(run.suite_id)
        base = self.store.get_base_model(run.model.base_model_id)
        self._check_model(base.path)
        adapter = None
        if not run.model.is_base:
            adapter = os.path.join(work, "adapter")
            if not _is_adapter(adapter):
                raise JobError(f"The copy of {run.label}'s adapter in {work} is missing.",
                               advice="Start a new eval run of this model.")
        items = self.store.suite_items(suite.id)
        results = self.store.item_results(run.id)
        kept, _ = usable(metrics_of(suite, run), any(i.references for i in items))
        from workbench.evaluation import registry

        tracked = self._tracked(run, items, results, item_metrics(kept))
        spec = EvalSpec(
            eval_run_id=run.id, base_model_path=base.path, items_path=os.path.join(work, "items.jsonl"),
            journal_path=tracked.journal_path, stop_file=tracked.stop_file, adapter_path=adapter,
            generation=asdict(suite.generation),
            reference_loss=any(registry.get(m.name).source == "model" for m in kept),
            judge=self._judge_spec(suite, run),
            done_outputs={r.item_id: r.output for r in results if r.error is None and r.output is not None},
            judged_ids=[r.item_id for r in results if r.judge_score is not None or r.judge_error],
            base_model_fingerprint=base.fingerprint)
        if os.path.exists(tracked.stop_file):  # the last child's stop request is done with
            os.remove(tracked.stop_file)
        write_spec(spec, tracked.spec_path)
        # This child's events follow everything already in the journal (an earlier child's).
        tracked.offset = os.path.getsize(tracked.journal_path) if os.path.exists(tracked.journal_path) else 0
        tracked.child = ChildProcess("eval", tracked.spec_path, tracked.log_path).start()
        tracked.pid = tracked.child.pid
        self.store.update_eval_run(run.id, status="running", pid=tracked.pid, journal_offset=tracked.offset,
                                   started_at=now_iso(), finished_at=None, error=None, error_advice=None, summary={},
                                   done_items=len(tracked.done), failed_items=len(tracked.failed))
        self._active = tracked
        self.changes += 1

    def _judge_spec(self, suite: EvalSuite, run: EvalRun) -> Optional[JudgeSpec]:
        if not run.judge_model_id:
            return None
        judge = self.store.get_base_model(run.judge_model_id)
        self._check_model(judge.path, "judge model")
        params = next((m.params for m in metrics_of(suite, run) if m.name == "judge"), {})
        rubric = params.get("rubric")
        if not rubric:
            from workbench.evaluation.judge import DEFAULT_RUBRIC as rubric
        limit = params.get("max_new_tokens")
        return JudgeSpec(model_path=judge.path, rubric=str(rubric), scale=str(params.get("scale") or PASS_FAIL),
                         verdict="text" if params.get("verdict") == "text" else "auto",
                         **({"max_new_tokens": int(limit)} if isinstance(limit, int) and limit > 0 else {}))

    def _tracked(self, run: EvalRun, items, results: list[ItemResult], metrics) -> Tracked:
        work = _work(self.store, run)
        return Tracked(
            eval_run_id=run.id, label=run.label, spec_path=os.path.join(work, "eval.spec.json"),
            journal_path=os.path.join(work, "journal.jsonl"), stop_file=os.path.join(work, "STOP"),
            log_path=os.path.join(work, "eval.log"), pid=run.pid, items={i.id: i for i in items},
            positions={i.id: n for n, i in enumerate(items)}, metrics=list(metrics),
            done={r.item_id for r in results if r.error is None and r.output is not None},
            failed={r.item_id for r in results if r.error is not None})

    def _reattach(self, run: EvalRun) -> None:
        """A running eval run found on open: watched through its journal while its process lives;
        ended (interrupted, resumable) once it is gone."""
        suite = self.store.get_suite(run.suite_id)
        items = self.store.suite_items(suite.id)
        kept, _ = usable(metrics_of(suite, run), any(i.references for i in items))
        tracked = self._tracked(run, items, self.store.item_results(run.id), item_metrics(kept))
        tracked.offset = self.store.eval_journal_offset(run.id)
        if self._active is not None:  # one child at a time: a second "running" one is stale
            self._active, other = tracked, self._active
            self._poll_active()
            self._active = other
            return
        self._active = tracked
        self._poll_active()

    # -- watching ----------------------------------------------------------------------------------
    @locked
    def poll(self) -> list[tuple[str, Event]]:
        """Ingest what the running child reported, follow its stop and its end, start the next
        queued eval run; every event as (eval_run_id, event), transient progress included.
        Also queues the evals the regression gates still need (eval_gate.reconcile: one read
        when every gate is settled)."""
        from workbench.services import eval_gate

        out = self._poll_active()
        if not self._queue_held:
            eval_gate.reconcile(self.store, self)
        self._start_next()
        return out

    def _poll_active(self) -> list[tuple[str, Event]]:
        tracked = self._active
        if tracked is None:
            return []
        events = self._read(tracked)
        if events:
            ingest(self.store, tracked, events)
        self._escalate_stop(tracked)
        rest = self._check_finished(tracked)
        return [(tracked.eval_run_id, e) for e in events + rest]

    def _read(self, tracked: Tracked) -> list[Event]:
        if tracked.child is not None:
            events = tracked.child.poll_events()
        else:
            events, tracked.offset = read_journal(tracked.journal_path, tracked.offset)
        if events:
            tracked.last_event = time.monotonic()
        return events

    def _alive(self, tracked: Tracked) -> bool:
        if tracked.child is not None:
            return tracked.child.alive()
        return pid_alive(tracked.pid, must_contain=tracked.spec_path)

    def _check_finished(self, tracked: Tracked) -> list[Event]:
        if self._alive(tracked):
            tracked.seen_alive = True
            return []
        rc = tracked.child.returncode() if tracked.child else None
        rest = self._read(tracked)
        if tracked.child is not None and tracked.terminal is None:
            # The pipe may have closed before its last lines were read: the journal has them all.
            rest += read_journal(tracked.journal_path, tracked.offset)[0]
        if rest:
            ingest(self.store, tracked, rest)
        self._finish(tracked, rc)
        return rest

    def _finish(self, tracked: Tracked, rc: Optional[int]) -> None:
        status, error, advice = ending(tracked, rc, self.stop_grace_s)
        run = self.store.get_eval_run(tracked.eval_run_id)
        summary = {}
        if status == "completed":
            suite = self.store.get_suite(run.suite_id)
            summary = summarize(self.store, run, suite, list(tracked.items.values()))
        self.store.update_eval_run(run.id, status=status, error=error or None, error_advice=advice or None,
                                   summary=summary, finished_at=now_iso(), done_items=len(tracked.done),
                                   failed_items=len(tracked.failed))
        if tracked.child is not None:
            tracked.child.close(grace=1.0)
        self._active = None
        self.changes += 1

    # -- state ---------------------------------------------------------------------------------------
    @locked
    def active_ids(self) -> list[str]:
        """The eval runs not ended: the running one first, then the queue in order."""
        running = [self._active.eval_run_id] if self._active else []
        return running + [i for i in self.store.queued_eval_run_ids() if i not in running]

    @locked
    def progress(self, eval_run_id: str) -> Optional[dict]:
        """The running child's last progress payload ({phase, done, total}); None if none."""
        t = self._active
        return dict(t.progress) if t is not None and t.eval_run_id == eval_run_id and t.progress else None

    @locked
    def shutdown(self, kill: bool = False) -> None:
        """Project close: nothing new starts. The running child goes on (journal only; the next
        open re-attaches it) unless `kill`: then it is stopped and this polls until it ends."""
        self._queue_held = True
        if kill and self._active is not None:
            self.cancel(self._active.eval_run_id)
            while self._active is not None and not self._stop_overdue():
                self._poll_active()
                if self._active is not None:
                    time.sleep(0.05)
        if self._active is not None and self._active.child is not None:
            self._active.child.detach()
        self._active = None

    def wait(self, eval_run_ids: list[str], progress: Optional[ProgressCallback] = None,
             cancel: Optional[CancelToken] = None, interval: float = 0.1) -> list[EvalRun]:
        """Poll until every one of the eval runs has ended (the CLI); with `cancel` set they are
        cancelled and Cancelled is raised once they have stopped. An interrupt (Ctrl+C) cancels
        them too before it goes on."""
        ids = list(eval_run_ids)
        cancelled = False
        try:
            while True:
                if cancel is not None and cancel.cancelled and not cancelled:
                    cancelled = True
                    for i in ids:
                        self.cancel(i)
                self.poll()
                runs = [self.store.get_eval_run(i) for i in ids]
                _report(progress, runs, self)
                if all(r.status in ENDED for r in runs):
                    break
                time.sleep(interval)
        except BaseException:
            for i in ids:
                self.cancel(i)
            self.shutdown(kill=True)
            raise
        if cancelled:
            raise Cancelled()
        return runs


def _report(progress: Optional[ProgressCallback], runs: list[EvalRun], manager: EvalManager) -> None:
    if progress is None:
        return
    total = sum(r.total_items for r in runs) or 1
    done = sum(r.done_items + r.failed_items for r in runs)
    running = next((r for r in runs if r.status == "running"), None)
    message = f"{done}/{total} items"
    if running is not None:
        phase = manager.progress(running.id) or {}
        step = f" · {phase['phase']} {phase.get('done', 0)}/{phase.get('total', 0)}" if phase.get("phase") else ""
        message = f"{running.label}{step} · {message}"
    report(progress, done / total, message)


# -- choices and reads ---------------------------------------------------------------------------
def model_choices(store: ProjectStore) -> list[EvalModel]:
    """Every model an eval can run on: each base model, and each run's kept adapters (final,
    best, each checkpoint-N) for runs that have one. Lists folders: call it from a worker."""
    out = [EvalModel(m.id, label=f"{m.name} (base)") for m in store.list_base_models()]
    for run in store.list_runs():
        if run.status not in CHATTABLE_STATUSES and run.status not in ("failed", "interrupted"):
            continue
        for info in checkpoints_of(store, run.id):
            step = f" (step {info.step})" if info.step is not None else ""
            out.append(EvalModel(run.base_model_id, run.id, info.label, info.step, f"{run.name} · {info.label}{step}"))
    return out


def item_results(store: ProjectStore, eval_run_id: str) -> list[ItemResult]:
    return store.item_results(eval_run_id)


def list_eval_runs(store: ProjectStore, suite_id: Optional[str] = None) -> list[EvalRun]:
    return store.list_eval_runs(suite_id=suite_id)

