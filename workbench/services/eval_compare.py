"""Side by side: several eval runs of one suite compared with confidence intervals, paired
significance and a per-item view.

Corpus values are recomputed from each run's outputs and the suite's references through the
metric registry's sufficient statistics (BLEU or macro-F1 of a corpus is not the mean of item
scores), so the bootstrap over items is exact for every metric. Only items a run produced an
output for (and, for model or judge metrics, measured or judged) count; a failed item never
hides the others' scores. Reads the store and computes: call it from a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Sequence

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalItem, EvalRun, EvalSuite, ItemResult, MetricSpec
from workbench.store import ProjectStore

if TYPE_CHECKING:  # numpy and the metric libraries load when a comparison is first made
    import numpy as np

    from workbench.evaluation.registry import ItemInput, Metric
    from workbench.evaluation.stats import Estimate, PairedTest

SORTS = ("spread", "a_minus_b")


@dataclass
class _MetricRows:
    """One metric's sufficient statistics over one run's scored items (rows in `item_ids` order)."""

    item_ids: list[str]
    stats: "np.ndarray"


@dataclass(frozen=True)
class ItemComparison:
    """One item across the compared runs: each run's result (None: the run has none yet), each
    metric's item score per run, and how far apart the runs are on it."""

    item: EvalItem
    results: dict[str, Optional[ItemResult]]  # eval run id -> its result
    scores: dict[str, dict[str, Optional[float]]]  # eval run id -> metric -> item score
    spread: dict[str, Optional[float]]  # metric -> max - min of the runs' item scores (None: < 2 scored)
    differs: bool  # the outputs are not all the same (an error counts as an output of its own)

    def score(self, eval_run_id: str, metric: str) -> Optional[float]:
        return self.scores.get(eval_run_id, {}).get(metric)


@dataclass
class Comparison:
    runs: list[EvalRun]
    suite: EvalSuite
    metrics: list[str]  # the suite's metrics that could be computed, in the suite's order
    table: dict[str, dict[str, Optional["Estimate"]]]  # eval run id -> metric -> value [low, high]
    items: list[ItemComparison]
    failed: dict[str, int]  # eval run id -> items that have an error instead of an output
    notes: list[str] = field(default_factory=list)
    n_boot: int = 1000
    seed: int = 0
    _rows: dict[str, dict[str, _MetricRows]] = field(default_factory=dict, repr=False)
    _metric_objs: dict[str, "Metric"] = field(default_factory=dict, repr=False)
    _pairs: dict[tuple[str, str], list["PairedTest"]] = field(default_factory=dict, repr=False)

    def run(self, eval_run_id: str) -> EvalRun:
        for r in self.runs:
            if r.id == eval_run_id:
                return r
        raise WorkbenchError(f"Eval run {eval_run_id[:8]} is not part of this comparison.")

    def pairs(self, a_id: str, b_id: str) -> list["PairedTest"]:
        """Paired tests of b against a, one per metric, on the items both runs scored (a metric
        neither run scored twice or more is left out). Computed once per pair."""
        from workbench.evaluation.stats import paired_test

        self.run(a_id)  # a clear error for a run not compared here
        self.run(b_id)
        key = (a_id, b_id)
        if key not in self._pairs:
            tests = []
            for name in self.metrics:
                ra, rb = self._rows[a_id].get(name), self._rows[b_id].get(name)
                if ra is None or rb is None:
                    continue
                where_b = {item_id: i for i, item_id in enumerate(rb.item_ids)}
                both = [(i, where_b[item_id]) for i, item_id in enumerate(ra.item_ids) if item_id in where_b]
                if len(both) < 2:
                    continue
                ia, ib = [p[0] for p in both], [p[1] for p in both]
                tests.append(paired_test(self._metric_objs[name], ra.stats[ia], rb.stats[ib],
                                         n_boot=self.n_boot, seed=self.seed))
            self._pairs[key] = tests
        return self._pairs[key]

    def best(self, metric: str) -> Optional[str]:
        """The eval run with the best value of `metric` (None when no run has one)."""
        scored = [(est.value, rid) for rid, row in self.table.items()
                  if (est := row.get(metric)) is not None and est.value == est.value]
        if not scored:
            return None
        higher = self._metric_objs[metric].higher_is_better
        if higher is None:  # e.g. length: neither way is better
            return None
        return (max if higher else min)(scored)[1]


def _inputs(item: EvalItem, result: ItemResult) -> "ItemInput":
    from workbench.evaluation.registry import ItemInput

    return ItemInput(prediction=result.output or "", references=list(item.references), label=item.label,
                     ref_nll=result.ref_nll, ref_tokens=result.ref_tokens, judge_score=result.judge_score)


def scorable(metric: "Metric", params: dict, item: EvalItem, result: Optional[ItemResult]) -> bool:
    """Whether `result` counts for `metric`: it has an output, and what the metric reads
    (references, the reference loss, the judge's verdict) is there."""
    if result is None or result.error is not None or result.output is None:
        return False
    if metric.requires_references(params) and not item.references:
        return False
    if metric.source == "model":
        return result.ref_nll is not None and bool(result.ref_tokens)
    if metric.source == "judge":
        return result.judge_score is not None and result.judge_error is None
    return True


def metric_rows(spec: MetricSpec, metric: "Metric", items: list[EvalItem],
                results: dict[str, ItemResult]) -> Optional[_MetricRows]:
    """The metric's sufficient statistics over the items `results` can be scored on."""
    import numpy as np

    kept = [it for it in items if scorable(metric, dict(spec.params), it, results.get(it.id))]
    if not kept:
        return None
    stats = np.asarray(metric.stats([_inputs(it, results[it.id]) for it in kept], dict(spec.params)), dtype=float)
    if stats.ndim == 1:
        stats = stats.reshape(-1, 1)
    return _MetricRows([it.id for it in kept], stats)


def _same_suite(runs: list[EvalRun], store: ProjectStore) -> EvalSuite:
    hashes = {r.suite_hash for r in runs}
    if len(hashes) > 1:
        names = []
        for r in runs:
            try:
                names.append(f"{r.label or r.id[:8]}: {store.get_suite(r.suite_id).title}")
            except WorkbenchError:
                names.append(f"{r.label or r.id[:8]}: a deleted suite")
        raise WorkbenchError(
            "These eval runs did not run the same suite, so their scores cannot be compared side by side.",
            details="\n".join(names),
            advice="Pick eval runs of one suite version (the items, metrics and generation settings must be "
                   "the same); run the other models on that suite to compare them.")
    return store.get_suite(runs[0].suite_id)


def compare(store: ProjectStore, eval_run_ids: Sequence[str], n_boot: int = 1000, seed: int = 0) -> Comparison:
    """Compare eval runs of one suite (a run still going counts with the items it has)."""
    from workbench.evaluation.registry import get
    from workbench.evaluation.scoring import metric_keys, usable_metrics
    from workbench.evaluation.stats import bootstrap_ci

    ids = list(dict.fromkeys(eval_run_ids))  # the order given, each once
    if not ids:
        raise WorkbenchError("Pick at least one eval run to compare.")
    runs = [store.get_eval_run(i) for i in ids]
    suite = _same_suite(runs, store)
    items = store.suite_items(suite.id)
    results = {r.id: {res.item_id: res for res in store.item_results(r.id)} for r in runs}
    notes: list[str] = []
    has_refs = any(it.references for it in items)
    specs, note = usable_metrics(list(suite.metrics), has_refs)
    if note:
        notes.append(note)
    # Keyed as the eval runs' summaries are: the name, with #2 ... for a repeated metric.
    keyed = dict(zip(metric_keys(specs), specs))
    metric_objs = {key: get(spec.name) for key, spec in keyed.items()}
    rows: dict[str, dict[str, _MetricRows]] = {r.id: {} for r in runs}
    table: dict[str, dict[str, Optional[Estimate]]] = {r.id: {} for r in runs}
    for run in runs:
        for key, spec in keyed.items():
            try:
                found = metric_rows(spec, metric_objs[key], items, results[run.id])
            except WorkbenchError as exc:  # e.g. classification on a suite without labels
                notes.append(f"{key} for {run.label or run.id[:8]}: {exc.user_message}")
                found = None
            if found is not None:
                rows[run.id][key] = found
            table[run.id][key] = (bootstrap_ci(metric_objs[key], found.stats, n_boot=n_boot, seed=seed)
                                  if found is not None else None)
    for run in runs:
        missing = len(items) - len(results[run.id])
        if run.status in ("queued", "running") or missing:
            notes.append(f"{run.label or run.id[:8]} is {run.status}: {len(results[run.id])} of {len(items)} items "
                         "have results; its values are over those.")
    failed = {r.id: sum(1 for res in results[r.id].values() if res.error is not None) for r in runs}
    comparison = Comparison(runs=runs, suite=suite, metrics=list(keyed), table=table,
                            items=_item_rows(items, runs, results, rows, metric_objs), failed=failed, notes=notes,
                            n_boot=n_boot, seed=seed, _rows=rows, _metric_objs=metric_objs)
    return comparison


def _item_rows(items: list[EvalItem], runs: list[EvalRun], results: dict[str, dict[str, ItemResult]],
               rows: dict[str, dict[str, _MetricRows]], metric_objs: dict[str, "Metric"]) -> list[ItemComparison]:
    # Item scores come from the same statistics as the table (one source for a score).
    scores: dict[str, dict[str, dict[str, Optional[float]]]] = {r.id: {} for r in runs}  # run -> item -> metric
    for run in runs:
        for name, found in rows[run.id].items():
            metric = metric_objs[name]
            for item_id, row in zip(found.item_ids, found.stats):
                value = metric.item_score(row)
                scores[run.id].setdefault(item_id, {})[name] = None if value is None else float(value)
    out = []
    for item in items:
        per_run = {r.id: results[r.id].get(item.id) for r in runs}
        item_scores = {r.id: {name: scores[r.id].get(item.id, {}).get(name) for name in metric_objs} for r in runs}
        spread: dict[str, Optional[float]] = {}
        for name in metric_objs:
            values = [s[name] for s in item_scores.values() if s[name] is not None]
            spread[name] = (max(values) - min(values)) if len(values) >= 2 else None
        seen = {(res.output, res.error) if res is not None else None for res in per_run.values()}
        out.append(ItemComparison(item, per_run, item_scores, spread, differs=len(seen) > 1))
    return out


def sort_items(items: list[ItemComparison], metric: str, by: str = "spread", a: Optional[str] = None,
               b: Optional[str] = None) -> list[ItemComparison]:
    """Where the runs differ most first: by the spread of `metric`, or by a's score minus b's
    (items a did better on first). Items without the numbers go last, in suite order."""
    if by not in SORTS:
        raise WorkbenchError(f"Cannot sort items by {by!r}.", advice=f"Sort by one of: {', '.join(SORTS)}.")

    def key(row: ItemComparison) -> Optional[float]:
        if by == "spread":
            return row.spread.get(metric)
        if a is None or b is None:
            raise WorkbenchError("Sorting by a minus b needs the two eval runs a and b.")
        sa, sb = row.score(a, metric), row.score(b, metric)
        return None if sa is None or sb is None else sa - sb

    keyed = [(key(row), i, row) for i, row in enumerate(items)]
    known = sorted((k for k in keyed if k[0] is not None), key=lambda k: (-k[0], k[1]))
    return [row for _k, _i, row in known] + [row for k, _i, row in keyed if k is None]
