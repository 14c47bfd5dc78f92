"""What an eval child reports, into the project store: each `item` event is an ItemResult scored
with the suite's text metrics as it arrives (cheap: one item), each `judged` event the judge's
verdict; at the end the corpus summary over the items that have an output (failed items are
left out and counted). Ingesting an event twice changes nothing (results are keyed by item).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from workbench.core.eval_records import PASS_FAIL, EvalItem, EvalRun, EvalSuite, ItemResult, MetricSpec
from workbench.jobs.launch import ChildProcess
from workbench.jobs.protocol import Event
from workbench.store import ProjectStore


@dataclass
class Tracked:
    """The eval run whose child EvalManager watches (owned, or re-attached through its journal)."""

    eval_run_id: str
    label: str
    spec_path: str
    journal_path: str
    stop_file: str
    log_path: str
    pid: Optional[int]
    items: dict[str, EvalItem]  # by id
    positions: dict[str, int]  # item id -> its index in the suite
    metrics: list[MetricSpec]  # scored on each item as it arrives (text and model metrics)
    child: Optional[ChildProcess] = None  # None: re-attached through the journal only
    offset: int = 0  # where this child's events begin in the journal (and, re-attached, how far read)
    done: set[str] = field(default_factory=set)  # items with an output
    failed: set[str] = field(default_factory=set)  # items with an error
    terminal: Optional[Event] = None  # completed / cancelled / failed, once it came
    progress: Optional[dict[str, Any]] = None  # the last progress event's payload
    stop_requested_at: Optional[float] = None
    terminated_at: Optional[float] = None
    killed_at: Optional[float] = None
    seen_alive: bool = False
    last_event: float = dataclasses.field(default_factory=time.monotonic)


def metrics_of(suite: EvalSuite, run: EvalRun) -> list[MetricSpec]:
    """The metrics an eval run computes: the suite's, plus the judge when the run was started
    with a judge model and the suite names none."""
    metrics = list(suite.metrics)
    if run.judge_model_id and not any(m.name == "judge" for m in metrics):
        metrics.append(MetricSpec("judge", {"model_id": run.judge_model_id, "scale": PASS_FAIL}))
    return metrics


def usable(metrics: list[MetricSpec], with_references: bool) -> tuple[list[MetricSpec], Optional[str]]:
    from workbench.evaluation import scoring

    return scoring.usable_metrics(metrics, with_references)


def item_metrics(metrics: list[MetricSpec]) -> list[MetricSpec]:
    """The metrics one item's `item` event can be scored with (the judge's verdict comes later)."""
    from workbench.evaluation import registry

    return [m for m in metrics if registry.get(m.name).source != "judge"]


def _input(item: EvalItem, result: ItemResult) -> Any:
    from workbench.evaluation.registry import ItemInput

    return ItemInput(prediction=result.output or "", references=list(item.references), label=item.label,
                     ref_nll=result.ref_nll, ref_tokens=result.ref_tokens, judge_score=result.judge_score)


def _clean(value: Optional[float]) -> Optional[float]:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def score_each(metrics: list[MetricSpec], items: list[EvalItem], results: list[ItemResult]) -> tuple[
        list[dict[str, Optional[float]]], dict[str, Any]]:
    """Each result's per-item scores, and the scored metrics (scoring.metric_keys -> Scored); a
    metric that cannot score these items (e.g. no label to read) has an error, and the others
    their values."""
    from workbench.evaluation import scoring

    inputs = [_input(item, result) for item, result in zip(items, results)]
    per_item: list[dict[str, Optional[float]]] = [{} for _ in results]
    if not inputs or not metrics:
        return per_item, {}
    try:
        scored = scoring.score(metrics, inputs, strict=False)
    except Exception:  # a metric library's own error: score the others one by one
        scored = {}
        for key, spec in zip(scoring.metric_keys(metrics), metrics):
            try:
                scored[key] = scoring.score([spec], inputs, strict=False)[spec.name]
            except Exception as exc:
                scored[key] = scoring.Scored(key, None, 0, [None] * len(inputs), {},
                                             error=f"{spec.name} could not be computed: {exc}")
    for key, one in scored.items():
        for row, value in zip(per_item, one.item_scores):
            row[key] = _clean(value)
    return per_item, scored


def ingest(store: ProjectStore, tracked: Tracked, events: list[Event]) -> None:
    """Store what `events` report: item results (scored), judgements, the item total."""
    results: list[ItemResult] = []
    judged: list[dict[str, Any]] = []
    for event in events:
        p = event.payload
        if event.kind == "item" and p.get("item_id") in tracked.items:
            results.append(_result(tracked, p))
        elif event.kind == "judged" and p.get("item_id") in tracked.items:
            judged.append(p)
        elif event.kind == "progress":
            tracked.progress = p
        elif event.kind == "started" and isinstance(p.get("total_items"), int):
            store.update_eval_run(tracked.eval_run_id, total_items=p["total_items"])
        elif event.kind in ("completed", "cancelled", "failed"):
            tracked.terminal = event
    if results:
        ok = [r for r in results if r.error is None]
        scores, _ = score_each(tracked.metrics, [tracked.items[r.item_id] for r in ok], ok)
        by_id = {r.item_id: s for r, s in zip(ok, scores)}
        results = [dataclasses.replace(r, scores=by_id.get(r.item_id, {})) for r in results]
        store.put_item_results(tracked.eval_run_id, results)
        for r in results:  # a resumed run's item that failed before may have an output now
            if r.error is None:
                tracked.done.add(r.item_id)
                tracked.failed.discard(r.item_id)
            else:
                tracked.failed.add(r.item_id)
                tracked.done.discard(r.item_id)
        store.update_eval_run(tracked.eval_run_id, done_items=len(tracked.done), failed_items=len(tracked.failed))
    for p in judged:
        score = p.get("score")
        store.set_judgement(tracked.eval_run_id, p["item_id"], float(score) if isinstance(score, (int, float)) else None,
                            p.get("reason"), p.get("error"))


def _result(tracked: Tracked, p: dict[str, Any]) -> ItemResult:
    item_id = p["item_id"]
    idx = tracked.positions[item_id]
    error = p.get("error")
    if error:
        return ItemResult(eval_run_id=tracked.eval_run_id, item_id=item_id, idx=idx, output=None, error=str(error))
    nll, ntok = p.get("ref_nll"), p.get("ref_tokens")
    return ItemResult(eval_run_id=tracked.eval_run_id, item_id=item_id, idx=idx, output=str(p.get("output") or ""),
                      tokens=int(p.get("tokens") or 0), seconds=float(p.get("seconds") or 0.0),
                      finish_reason=str(p.get("finish_reason") or ""),
                      ref_nll=float(nll) if isinstance(nll, (int, float)) else None,
                      ref_tokens=int(ntok) if isinstance(ntok, (int, float)) else None)


def summarize(store: ProjectStore, run: EvalRun, suite: EvalSuite, items: list[EvalItem]) -> dict[str, Any]:
    """The corpus value of every metric over the run's items that have an output (stored as
    the run's summary), with each item's scores brought up to date (the judge's included).

    The summary maps metric name -> value (None: no item could be scored), plus "_n" (items
    each metric counted), "_failed" (items with no output, left out), "_details" (e.g. the
    classification report), "_errors" (why a metric has no value) and "_note" (metrics left out
    because the suite has no references)."""
    by_id = {i.id: i for i in items}
    stored = [r for r in store.item_results(run.id) if r.item_id in by_id]
    results = [r for r in stored if r.error is None and r.output is not None]
    kept, note = usable(metrics_of(suite, run), any(i.references for i in items))
    per_item, scored = score_each(kept, [by_id[r.item_id] for r in results], results)
    store.update_item_scores(run.id, {r.item_id: s for r, s in zip(results, per_item)})
    summary: dict[str, Any] = {"_n": {}, "_details": {}, "_errors": {}, "_failed": len(stored) - len(results)}
    from workbench.evaluation.scoring import metric_keys

    for key in metric_keys(kept):
        one = scored.get(key)
        summary[key] = _clean(one.value) if one is not None else None
        summary["_n"][key] = one.n if one is not None else 0
        if one is not None and one.error:
            summary["_errors"][key] = one.error
        if one is not None and one.details:
            summary["_details"][key] = one.details
    if note:
        summary["_note"] = note
    return summary
