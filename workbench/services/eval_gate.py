"""The regression gate: a suite attached to a training run, evaluated on each new kept
checkpoint and on the final adapter, and judged against rules such as "exact_match must not
drop below the base model's".

`reconcile` is the one place gate evals are queued. It is idempotent (an eval that exists, in
any state, is never queued again: a failed one is the user's to re-run) and cheap once a gate
is settled, so EvalManager.poll() calls it on every tick. `gate_status` and `gate_series` read
the gate's completed eval runs' summaries (the corpus values) only.
"""

from __future__ import annotations

import logging
import math
import os
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Sequence

from workbench.core.clock import now_iso
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import BASE, FINAL, EvalModel, EvalRun, GateRule, RunGate
from workbench.core.records import Run, TrainConfig
from workbench.store import ProjectStore

if TYPE_CHECKING:
    from workbench.services.eval_runs import EvalManager
    from workbench.services.exports import CheckpointInfo
    from workbench.services.runs import RunManager

log = logging.getLogger(__name__)

OPS = (">=", "<=")
GATE_PURPOSES = ("gate", "cv")
_ENDED = ("completed", "failed", "cancelled", "interrupted")
_GIVEN_UP = ("failed", "cancelled")  # an eval in these states does not count as the measurement


def _check_rules(store: ProjectStore, suite_id: str, rules: Sequence[GateRule]) -> list[GateRule]:
    suite = store.get_suite(suite_id)
    names = [m.name for m in suite.metrics]
    out = []
    for rule in rules:
        if rule.metric not in names:
            raise WorkbenchError(f"Suite {suite.title} does not compute {rule.metric}, so a gate cannot check it.",
                                 advice=f"Use one of its metrics: {', '.join(names) or 'none'}.")
        if rule.op not in OPS:
            raise WorkbenchError(f"A gate rule compares with >= or <=, not {rule.op!r}.",
                                 advice="Use >= for metrics where higher is better, <= for loss or perplexity.")
        baseline = rule.baseline
        if baseline != BASE:
            try:
                baseline = float(baseline)
            except (TypeError, ValueError):
                raise WorkbenchError(f"A gate rule's baseline is 'base' or a number, not {rule.baseline!r}.") from None
            if not math.isfinite(baseline):
                raise WorkbenchError(f"A gate rule's baseline must be a finite number, not {rule.baseline!r}.")
        margin = float(rule.margin or 0.0)
        if margin < 0 or not math.isfinite(margin):
            raise WorkbenchError(f"A gate rule's margin is a number >= 0, not {rule.margin!r}.")
        out.append(GateRule(rule.metric, rule.op, baseline, margin))
    return out


def attach_gate(store: ProjectStore, run_id: str, suite_id: str, rules: Sequence[GateRule],
                every_checkpoint: bool = True, cv_id: Optional[str] = None, fold: Optional[int] = None) -> RunGate:
    """Attach (or replace) the run's gate: `suite_id` is evaluated on each new kept checkpoint
    (when `every_checkpoint`) and on the final adapter, and checked against `rules`."""
    store.get_run(run_id)
    gate = RunGate(run_id=run_id, suite_id=suite_id, rules=_check_rules(store, suite_id, rules),
                   every_checkpoint=bool(every_checkpoint), created_at=now_iso(), created_by=store.user,
                   cv_id=cv_id, fold=fold)
    store.set_run_gate(gate)
    return store.run_gate(run_id) or gate


def start_gated(run_manager: "RunManager", dataset_version_id: str, base_model_id: str, config: TrainConfig,
                suite_id: str, rules: Sequence[GateRule], every_checkpoint: bool = True,
                name: Optional[str] = None, queue: bool = False) -> Run:
    """RunManager.start (or, with `queue`, enqueue) with a gate attached. The rules are checked
    before the run starts; the gate's evals follow the run's checkpoint events, so attaching it
    just after the start misses none."""
    _check_rules(run_manager.store, suite_id, rules)
    run = run_manager.start(dataset_version_id, base_model_id, config, name=name, queue=queue)
    attach_gate(run_manager.store, run.id, suite_id, rules, every_checkpoint=every_checkpoint)
    return run


# -- reconcile ---------------------------------------------------------------------------------
def _checkpoint(step: int) -> str:
    return f"checkpoint-{step}"


def _is_adapter(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "adapter_config.json"))


def _gate_evals(store: ProjectStore, gate: RunGate) -> list[EvalRun]:
    return [e for e in store.list_eval_runs(run_id=gate.run_id) if e.suite_id == gate.suite_id]


def _counts(e: EvalRun) -> bool:
    """An eval already made for the gate's purpose, or one made by hand that did not give up."""
    return e.purpose in GATE_PURPOSES or e.status not in _GIVEN_UP


def _base_eval(store: ProjectStore, suite_id: str, base_model_id: str) -> Optional[EvalRun]:
    """The base model's eval on the suite: the newest completed one, else the newest of any state."""
    found = [e for e in store.list_eval_runs(suite_id=suite_id) if e.model.is_base
             and e.model.base_model_id == base_model_id]
    done = [e for e in found if e.status == "completed"]
    return (done or found or [None])[0]


def _final_adapter(store: ProjectStore, run: Run) -> Optional["CheckpointInfo"]:
    """The run's final adapter as an eval run records it (its step), None when it has none."""
    from workbench.services.exports import pick_checkpoint

    try:
        return pick_checkpoint(store, run.id, FINAL)
    except WorkbenchError:
        return None


def _wanted(store: ProjectStore, gate: RunGate, run: Run) -> list[EvalModel]:
    """The models the gate still needs an eval of (labels and steps are the eval manager's)."""
    evals = [e for e in _gate_evals(store, gate) if _counts(e)]
    have = {(e.model.checkpoint, e.model.step) for e in evals}
    want: list[EvalModel] = []
    if any(r.baseline == BASE for r in gate.rules):
        base = _base_eval(store, gate.suite_id, run.base_model_id)
        if base is None or not _counts(base):
            want.append(EvalModel(base_model_id=run.base_model_id))
    if gate.every_checkpoint:
        root = os.path.join(store.abspath(run.work_dir), "checkpoints")
        for _seq, payload in store.event_payloads(run.id, "checkpoint"):
            step = payload.get("step")
            if not isinstance(step, int) or (_checkpoint(step), step) in have:
                continue
            if _is_adapter(os.path.join(root, _checkpoint(step))):  # else rotated away: gone for good
                want.append(EvalModel(base_model_id=run.base_model_id, run_id=run.id, checkpoint=_checkpoint(step),
                                      step=step))
                have.add((_checkpoint(step), step))
    if run.status == "completed" or (run.status == "cancelled" and run.adapter_path):
        final = _final_adapter(store, run)
        if final is not None and (FINAL, final.step) not in have:
            want.append(EvalModel(base_model_id=run.base_model_id, run_id=run.id, checkpoint=FINAL, step=final.step))
    return want


@dataclass
class _Reconciler:
    """What one EvalManager's reconcile remembers between polls: the gates that need nothing
    until their run changes, and the evals that could not be queued (not retried each poll)."""

    settled: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # run id -> the run's state then
    refused: set[tuple[str, str, Optional[int], Optional[str]]] = field(default_factory=set)


_RECONCILERS: "weakref.WeakKeyDictionary[Any, _Reconciler]" = weakref.WeakKeyDictionary()


def reconcile(store: ProjectStore, manager: "EvalManager") -> list[EvalRun]:
    """Queue the evals every gate still needs: each kept checkpoint its run reported that has
    no eval yet, the final adapter once the run completed (or was cancelled with an adapter),
    and the base model once when a rule compares with it. -> the eval runs queued now."""
    state = _RECONCILERS.setdefault(manager, _Reconciler())
    queued: list[EvalRun] = []
    for gate in store.list_run_gates():
        try:
            run = store.get_run(gate.run_id)
        except WorkbenchError:  # the run was deleted; its gate row goes with it later
            continue
        mark = (run.status, run.finished_at, run.step, run.adapter_path, gate.suite_id, gate.created_at)
        if state.settled.get(run.id) == mark:
            continue
        try:
            want = _wanted(store, gate, run)
        except WorkbenchError as exc:  # e.g. the base model was removed
            log.warning("gate of run %s: %s", run.name, exc.user_message)
            want = []
        for model in want:
            key = (gate.suite_id, model.checkpoint, model.step, model.run_id)
            if key in state.refused:
                continue
            try:
                queued += manager.start(gate.suite_id, [model], purpose="cv" if gate.cv_id else "gate",
                                        group_id=(gate.cv_id or gate.run_id) if model.run_id else None)
            except WorkbenchError as exc:
                state.refused.add(key)
                log.warning("gate of run %s: cannot evaluate %s: %s", run.name, model.label, exc.user_message)
        if run.status in _ENDED and not want:
            state.settled[run.id] = mark
    return queued


# -- status --------------------------------------------------------------------------------------
class RuleResult(NamedTuple):
    rule: GateRule
    value: Optional[float]  # the final adapter's (None: not measured yet)
    baseline: Optional[float]  # the number it is held to, before the margin
    passed: Optional[bool]  # None: not decided yet


class StepResult(NamedTuple):
    step: int
    passed: Optional[bool]  # every rule held at this checkpoint (None: a value is missing)


@dataclass(frozen=True)
class GateStatus:
    state: str  # none | pending | passed | failed
    rules: list[RuleResult]
    per_step: list[StepResult]
    message: str
    gate: Optional[RunGate] = None
    final_eval_id: Optional[str] = None


def _number(summary: dict[str, Any], metric: str) -> Optional[float]:
    value = summary.get(metric)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) else None


def _holds(rule: GateRule, value: Optional[float], baseline: Optional[float]) -> Optional[bool]:
    if value is None or baseline is None:
        return None
    if rule.op == "<=":
        return value <= baseline + rule.margin + 1e-12
    return value >= baseline - rule.margin - 1e-12


def _baselines(store: ProjectStore, gate: RunGate, run: Run) -> tuple[dict[str, Optional[float]], Optional[EvalRun]]:
    base = None
    if any(r.baseline == BASE for r in gate.rules):
        base = _base_eval(store, gate.suite_id, run.base_model_id)
    values: dict[str, Optional[float]] = {}
    for rule in gate.rules:
        if rule.baseline == BASE:
            values[rule.metric + "@base"] = (_number(base.summary, rule.metric)
                                            if base is not None and base.status == "completed" else None)
    return values, base


def _baseline_of(rule: GateRule, base_values: dict[str, Optional[float]]) -> Optional[float]:
    return base_values.get(rule.metric + "@base") if rule.baseline == BASE else float(rule.baseline)


def _final_eval(evals: list[EvalRun], run: Run) -> Optional[EvalRun]:
    """The eval of the run's newest final adapter (a run resumed after a cancel has a newer one
    than the one evaluated then): of the final evals at the highest step, a completed one first."""
    finals = [e for e in evals if e.model.checkpoint == FINAL]
    if not finals:
        return None
    top = max(e.model.step if e.model.step is not None else -1 for e in finals)
    at_step = [e for e in finals if (e.model.step if e.model.step is not None else -1) == top]
    done = [e for e in at_step if e.status == "completed"]
    return (done or at_step)[0]


def final_eval(store: ProjectStore, run_id: str) -> Optional[EvalRun]:
    """The gate's eval of the run's final adapter (None: no gate, or not queued yet)."""
    gate = store.run_gate(run_id)
    return _final_eval(_gate_evals(store, gate), store.get_run(run_id)) if gate is not None else None


def gate_status(store: ProjectStore, run_id: str) -> GateStatus:
    gate = store.run_gate(run_id)
    if gate is None:
        return GateStatus("none", [], [], "No eval suite is attached to this run.")
    run = store.get_run(run_id)
    suite = store.get_suite(gate.suite_id)
    evals = _gate_evals(store, gate)
    base_values, base = _baselines(store, gate, run)
    per_step = []
    for e in sorted((e for e in evals if e.status == "completed" and e.model.checkpoint.startswith("checkpoint-")),
                    key=lambda e: e.model.step or 0):
        checks = [_holds(r, _number(e.summary, r.metric), _baseline_of(r, base_values)) for r in gate.rules]
        per_step.append(StepResult(int(e.model.step or 0), None if None in checks else all(checks)))
    final = _final_eval(evals, run)
    final_summary = final.summary if final is not None and final.status == "completed" else {}
    rules = []
    for rule in gate.rules:
        value, baseline = _number(final_summary, rule.metric), _baseline_of(rule, base_values)
        rules.append(RuleResult(rule, value, baseline, _holds(rule, value, baseline)))

    def status(state: str, message: str) -> GateStatus:
        return GateStatus(state, rules, per_step, message, gate, final.id if final is not None else None)

    if base is not None and base.status in _GIVEN_UP:
        return status("failed", f"The base model's eval on {suite.title} {base.status}"
                                f"{': ' + base.error if base.error else ''}; the gate has no baseline.")
    if run.status not in _ENDED:
        return status("pending", f"Gate on {suite.title}: waiting for the run to end.")
    if final is None or final.status != "completed":
        if final is not None and final.status in _GIVEN_UP:
            return status("failed", f"The eval of the final adapter on {suite.title} {final.status}"
                                    f"{': ' + final.error if final.error else ''}; run it again on the "
                                    "Evaluate page to decide the gate.")
        if final is not None and final.status == "interrupted":
            return status("pending", f"The eval of the final adapter on {suite.title} was interrupted: "
                                     "resume it on the Evaluate page.")
        if final is None and (run.status == "failed" or not run.adapter_path):
            resume = " (resume it to go on)" if run.status in ("cancelled", "interrupted") else ""
            return status("failed", f"The run {run.status} without a final adapter, so it cannot pass the gate"
                                    f"{resume}.")
        return status("pending", f"Gate on {suite.title}: waiting for the final adapter's eval.")
    if not gate.rules:
        scores = ", ".join(f"{k} {v:.4g}" for k, v in final_summary.items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool))
        return status("passed", f"No thresholds set; the final adapter scored {scores or 'nothing'} on {suite.title}.")
    missing = [r for r in rules if r.passed is None]
    if missing:
        if any(r.baseline is None for r in missing) and base is not None and base.status != "completed":
            return status("pending", "Gate: waiting for the base model's eval.")
        names = ", ".join(r.rule.metric for r in missing)
        return status("failed", f"Gate: {names} could not be measured on {suite.title}, so the gate cannot pass.")
    broken = [r for r in rules if not r.passed]
    if broken:
        return status("failed", "Gate failed: " + "; ".join(
            f"{r.rule.metric} {r.value:.4g} is not {r.rule.describe()} ({r.baseline:.4g})" for r in broken) + ".")
    return status("passed", "Gate passed: " + "; ".join(
        f"{r.rule.metric} {r.value:.4g} {r.rule.op} {r.baseline:.4g}" for r in rules) + ".")


def gate_series(store: ProjectStore, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """metric -> [(step, value)] from the gate's completed evals in step order: each kept
    checkpoint at its step, the final adapter at the run's last step (in place of a checkpoint
    of that step)."""
    gate = store.run_gate(run_id)
    if gate is None:
        return {}
    run = store.get_run(run_id)
    by_step: dict[int, EvalRun] = {}
    evals = [e for e in _gate_evals(store, gate) if e.status == "completed"]
    for e in sorted(evals, key=lambda e: e.created_at):
        if e.model.checkpoint.startswith("checkpoint-") and e.model.step is not None:
            by_step.setdefault(e.model.step, e)
    final = _final_eval(evals, run)
    if final is not None:
        by_step[final.model.step if final.model.step is not None else run.step] = final
    series: dict[str, list[tuple[int, float]]] = {}
    for step in sorted(by_step):
        for metric in by_step[step].summary:
            number = _number(by_step[step].summary, metric)
            if number is not None and not metric.startswith("_"):
                series.setdefault(metric, []).append((step, number))
    return series
