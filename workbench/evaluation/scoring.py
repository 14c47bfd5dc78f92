"""Scoring one model's items with a suite's metrics, and reading prediction/reference files
for `workbench eval score`.

The caller passes only the items that have an output (a failed item is left out, so it never
hides the others' scores). Large inputs spread the library metrics (ROUGE-L, BLEU, chrF, whose
rows depend only on their own item) over worker processes; the rows, and so every number, are
the same as in one process.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import MetricSpec
from workbench.evaluation.registry import ItemInput, Metric, get

PARALLEL_MIN_ITEMS = 20_000  # below this, starting worker processes costs more than it saves
PARALLEL_METRICS = frozenset({"rouge_l", "bleu", "chrf"})  # rows depend only on their own item


@dataclass(frozen=True)
class Scored:
    """One metric over one model's items."""

    metric: str
    value: Optional[float]  # None: no item counted (or, not strict, the metric could not run)
    n: int  # items the metric counted
    item_scores: list[Optional[float]]  # per item, in the items' order (None: n/a)
    details: dict
    stats: Optional[np.ndarray] = field(default=None, repr=False, compare=False)  # the rows
    error: Optional[str] = None  # not strict: why the metric could not run on these items


def metric_keys(metrics: list[MetricSpec]) -> list[str]:
    """The key of each metric in score()'s result: its name, with #2, #3 ... for repeats (two
    regex checks with different patterns)."""
    seen: dict[str, int] = {}
    keys = []
    for spec in metrics:
        seen[spec.name] = seen.get(spec.name, 0) + 1
        keys.append(spec.name if seen[spec.name] == 1 else f"{spec.name}#{seen[spec.name]}")
    return keys


def metric_stats(spec: MetricSpec, items: list[ItemInput]) -> tuple[Metric, np.ndarray]:
    """A metric and its rows over the items (for bootstrap and paired tests)."""
    metric = get(spec.name)
    return metric, metric.stats(items, dict(spec.params))


def _value(metric: Metric, rows: np.ndarray) -> Optional[float]:
    value = metric.value(rows.sum(axis=0), len(rows))
    return None if value is None or math.isnan(value) else float(value)


def scored_from_rows(key: str, metric: Metric, rows: np.ndarray, details: dict) -> Scored:
    return Scored(metric=key, value=_value(metric, rows), n=int(rows[:, -1].sum()),
                  item_scores=[metric.item_score(row) for row in rows], details=details, stats=rows)


def _chunk(jobs: list[tuple[str, str, dict]], items: list[ItemInput]) -> dict[str, tuple[np.ndarray, list]]:
    """In a worker process: rows and item scores of several metrics over one chunk of items."""
    out = {}
    for key, name, params in jobs:
        metric = get(name)
        rows = metric.stats(items, params)
        out[key] = (rows, [metric.item_score(row) for row in rows])
    return out


def _default_workers(n_items: int) -> int:
    # A frozen (packaged) app cannot spawn a plain Python worker: it scores in one process.
    if n_items < PARALLEL_MIN_ITEMS or getattr(sys, "frozen", False):
        return 1
    return min(os.cpu_count() or 1, 8)


def score(metrics: list[MetricSpec], items: list[ItemInput], strict: bool = True,
          workers: Optional[int] = None) -> dict[str, Scored]:
    """Every metric over the items, keyed by metric_keys(metrics).

    strict: a metric that cannot run on these items (BLEU on items without references, a
    classification without labels) raises its WorkbenchError; not strict, its Scored has value
    None and the error (for the app, which scores items one by one as they arrive).
    workers: processes for the library metrics on large inputs (default: the CPUs, from
    PARALLEL_MIN_ITEMS items); 1 computes everything here.
    """
    keys = metric_keys(metrics)
    resolved = [(key, spec, get(spec.name)) for key, spec in zip(keys, metrics)]
    if not items:
        return {key: Scored(key, None, 0, [], {}) for key, _, _ in resolved}
    workers = _default_workers(len(items)) if workers is None else workers
    heavy = [(key, spec.name, dict(spec.params)) for key, spec, _ in resolved if spec.name in PARALLEL_METRICS]
    if workers <= 1 or not heavy or not all(item.references for item in items):
        return {key: _score_one(key, spec, metric, items, strict) for key, spec, metric in resolved}
    size = -(-len(items) // (workers * 4))
    # spawn, not fork: the app scores in worker threads, and a forked thread holds no locks.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_chunk, heavy, items[i:i + size]) for i in range(0, len(items), size)]
        # The light metrics run here meanwhile.
        out = {key: _score_one(key, spec, metric, items, strict)
               for key, spec, metric in resolved if spec.name not in PARALLEL_METRICS}
        parts = [f.result() for f in futures]
    for key, spec, metric in resolved:
        if key in out:
            continue
        rows = np.concatenate([part[key][0] for part in parts])
        out[key] = Scored(metric=key, value=_value(metric, rows), n=int(rows[:, -1].sum()),
                          item_scores=[s for part in parts for s in part[key][1]],
                          details=metric.details(items, dict(spec.params)) if metric.details else {}, stats=rows)
    return {key: out[key] for key in keys}


def _score_one(key: str, spec: MetricSpec, metric: Metric, items: list[ItemInput], strict: bool) -> Scored:
    params = dict(spec.params)
    try:
        rows = metric.stats(items, params)
        details = metric.details(items, params) if metric.details else {}
    except WorkbenchError as exc:
        if strict:
            raise
        return Scored(key, None, 0, [None] * len(items), {}, error=exc.user_message)
    return scored_from_rows(key, metric, rows, details)


def usable_metrics(metrics: list[MetricSpec], has_references: bool) -> tuple[list[MetricSpec], Optional[str]]:
    """The metrics a suite can compute, and a message naming the ones left out and why."""
    if has_references:
        for spec in metrics:
            get(spec.name)  # an unknown name is a clear error here, not later
        return list(metrics), None
    kept, dropped = [], []
    for spec in metrics:
        metric = get(spec.name)
        (dropped if metric.requires_references(dict(spec.params)) else kept).append(spec)
    if not dropped:
        return kept, None
    titles = ", ".join(dict.fromkeys(get(s.name).title for s in dropped))
    return kept, (f"There are no reference answers, so only the reference-free metrics are computed; "
                  f"left out: {titles} (they compare the output with a reference).")


# --- files for `workbench eval score` -------------------------------------------------------

PREDICTION_FIELDS = ("prediction", "output", "response", "text", "completion")
REFERENCE_FIELDS = ("references", "reference", "answer", "target", "expected")


def _read_jsonl(path: Path, what: str) -> list[tuple[int, Any]]:
    if not path.is_file():
        raise WorkbenchError(f"The {what} file {path} does not exist.")
    rows = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append((number, json.loads(line)))
                except ValueError as exc:
                    raise WorkbenchError(f"Line {number} of {path} is not JSON.", details=f"{exc}\n{line[:300]}",
                                         advice="Each line must be one JSON object (JSON Lines).") from None
    except UnicodeDecodeError as exc:
        raise WorkbenchError(f"{path} is not UTF-8 text.", details=str(exc)) from None
    if not rows:
        raise WorkbenchError(f"The {what} file {path} has no lines.")
    return rows


def _field(row: Any, names: tuple[str, ...], path: Path, number: int, what: str) -> Any:
    if isinstance(row, str):
        return row
    if isinstance(row, dict):
        for name in names:
            if name in row:
                return row[name]
    raise WorkbenchError(f"Line {number} of {path} has no {what}.",
                         details=json.dumps(row, ensure_ascii=False)[:300],
                         advice=f"Give it as a JSON string or an object with one of: {', '.join(names)}.")


def _references(value: Any, path: Path, number: int) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values):
        raise WorkbenchError(f"Line {number} of {path}: references must be text or a list of texts.",
                             details=json.dumps(value, ensure_ascii=False)[:300])
    return list(values)


def _label(row: Any) -> Optional[str]:
    label = row.get("label") if isinstance(row, dict) else None
    return None if label is None else str(label)


def _row_references(row: Any, path: Path, number: int) -> list[str]:
    if isinstance(row, str):
        return [row]
    if isinstance(row, dict):
        for name in REFERENCE_FIELDS:
            if name in row:
                return _references(row[name], path, number)
    return []


def read_jsonl_pairs(predictions_path: Union[str, Path],
                     references_path: Union[str, Path, None] = None) -> list[ItemInput]:
    """Items from a predictions JSONL (a string or {"prediction"|"output"|...: text} per line)
    and a references JSONL (a string, {"references": [...]} or {"reference": text}, and/or a
    "label"). Lines pair by "id" when every line of both files has one, else by order. Without
    a references file the predictions' lines may carry references and labels themselves."""
    pred_path = Path(predictions_path)
    preds = _read_jsonl(pred_path, "predictions")
    outputs = []
    for number, row in preds:
        text = _field(row, PREDICTION_FIELDS, pred_path, number, "prediction")
        if not isinstance(text, str):
            raise WorkbenchError(f"Line {number} of {pred_path}: the prediction must be text.",
                                 details=json.dumps(row, ensure_ascii=False)[:300])
        outputs.append(text)
    if references_path is None:
        return [ItemInput(text, _row_references(row, pred_path, number) if isinstance(row, dict) else [],
                          _label(row)) for (number, row), text in zip(preds, outputs)]
    ref_path = Path(references_path)
    refs = _read_jsonl(ref_path, "references")
    for number, row in refs:
        if not _row_references(row, ref_path, number) and _label(row) is None:
            raise WorkbenchError(f"Line {number} of {ref_path} has no reference.",
                                 details=json.dumps(row, ensure_ascii=False)[:300],
                                 advice=f"Give it as a JSON string or an object with one of: "
                                        f"{', '.join(REFERENCE_FIELDS)} (or a label).")
    pred_ids = [row.get("id") if isinstance(row, dict) else None for _, row in preds]
    ref_ids = [row.get("id") if isinstance(row, dict) else None for _, row in refs]
    if None not in pred_ids and None not in ref_ids:
        by_id = {rid: i for i, rid in enumerate(ref_ids)}
        missing = [pid for pid in pred_ids if pid not in by_id]
        if missing:
            raise WorkbenchError(f"{len(missing)} prediction id(s) in {pred_path} are not in {ref_path}.",
                                 details=", ".join(map(str, missing[:20])))
        order = [by_id[pid] for pid in pred_ids]
    else:
        if len(preds) != len(refs):
            raise WorkbenchError(f"{pred_path} has {len(preds)} predictions but {ref_path} has {len(refs)} "
                                 f"references.", advice='Give both files the same lines in the same order, '
                                                        'or an "id" on every line of both.')
        order = list(range(len(refs)))
    return [ItemInput(text, _row_references(refs[j][1], ref_path, refs[j][0]), _label(refs[j][1]))
            for text, j in zip(outputs, order)]
