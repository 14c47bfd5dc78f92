"""Score predictions made anywhere against references: `workbench eval score` (issue 10).

The metrics are the evaluation registry's (sacrebleu, rouge-score, SQuAD exact match / token F1,
...); each corpus value comes with a 95% bootstrap interval over the items. Text metrics only:
loss / perplexity need the model's likelihood of the references and the judge needs a model,
so those are for `workbench eval run`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import MetricSpec


@dataclass(frozen=True)
class MetricScore:
    """One metric over the files' items: the corpus value and its bootstrap interval."""

    metric: str
    title: str
    value: Optional[float]  # None: no item could be scored (e.g. no label extracted)
    low: Optional[float]
    high: Optional[float]
    n: int  # items
    higher_is_better: bool
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileScores:
    predictions_path: str
    references_path: Optional[str]  # None: the predictions' lines carry their references
    items: int
    scores: list[MetricScore]
    notes: list[str]  # e.g. the metrics left out because the items have no references
    level: float = 0.95


def parse_metrics(names: list[str], params: Optional[dict[str, dict[str, Any]]] = None) -> list[MetricSpec]:
    """`bleu,chrf,...` (+ per-metric parameters) as MetricSpecs; an unknown name is a clear error."""
    from workbench.evaluation import registry

    params = params or {}
    specs: list[MetricSpec] = []
    for name in dict.fromkeys(n.strip() for n in names if n.strip()):
        metric = registry.get(name)  # raises, listing the known names
        if metric.source != "text":
            why = ("the model's likelihood of the references" if metric.source == "model"
                   else "a judge model")
            raise WorkbenchError(f"The metric {name!r} cannot be computed from files: it needs {why}.",
                                 advice="Use `workbench eval run` on a suite for it, or leave it out.")
        specs.append(MetricSpec(name, dict(params.get(name, {}))))
    unknown = sorted(set(params) - {s.name for s in specs})
    if unknown:
        raise WorkbenchError(f"Parameters were given for {', '.join(unknown)}, which is not in --metrics.",
                             advice="Add the metric to --metrics or drop its --param.")
    if not specs:
        raise WorkbenchError("No metric was asked for.", advice="Pass --metrics, e.g. --metrics bleu,chrf,rouge_l.")
    return specs


def score_files(predictions_path: str, references_path: Optional[str], metrics: list[MetricSpec],
                n_boot: int = 1000, seed: int = 0) -> FileScores:
    """Read the JSONL files (lines matched by id, else by position), score every metric and
    bootstrap its interval over the items (from the same per-item statistics as the value)."""
    from workbench.evaluation import registry, scoring, stats

    for path, what in ((predictions_path, "predictions"), (references_path, "references")):
        if path is not None and not os.path.isfile(path):
            raise WorkbenchError(f"The {what} file {path} does not exist.", advice="Check the path.")
    items = scoring.read_jsonl_pairs(predictions_path, references_path)
    kept, note = scoring.usable_metrics(metrics, any(item.references for item in items))
    scored = scoring.score(kept, items)
    results = []
    for spec, key in zip(kept, scoring.metric_keys(kept)):
        metric, s = registry.get(spec.name), scored[key]
        low = high = None
        if s.value is not None and s.stats is not None and len(s.stats):
            est = stats.bootstrap_ci(metric, s.stats, n_boot=n_boot, seed=seed)
            low, high = est.low, est.high
        results.append(MetricScore(key, metric.title, s.value, low, high, s.n, metric.higher_is_better, s.details))
    return FileScores(os.path.abspath(predictions_path), references_path and os.path.abspath(references_path),
                      len(items), results, [note] if note else [])
