"""The metric registry: every metric Workbench can compute, by name.

A metric turns the items of one model's eval run into *sufficient statistics*, one row per item
(an (n_items, k) array), and computes its corpus value from the rows' sum. That makes corpus
metrics (BLEU, chrF, perplexity, macro-F1) exact under bootstrap resampling: a resample is a
weighted sum of rows. By convention the last column counts the item (1 when the metric applies
to it, 0 when it does not, e.g. an item without a label for classification), so a mean metric
is (score, 1) per item and its value is sum(score) / sum(count).

The built-in metrics register when this module is imported (see the end of the file); a plugin
adds one with `register(Metric(...))` and the page, the CLI and the services pick it up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from workbench.core.errors import WorkbenchError

SOURCES = ("text", "model", "judge")  # model: needs the eval child's reference loss


@dataclass(frozen=True)
class ItemInput:
    """What a metric sees of one item: the model's output and what the item expects."""

    prediction: str
    references: list[str]
    label: Optional[str] = None
    ref_nll: Optional[float] = None  # summed NLL of references[0], from the eval child
    ref_tokens: Optional[int] = None
    judge_score: Optional[float] = None  # from the eval child's judge phase


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    needs_references: bool  # False: reference-free (length, json, regex, contains, judge)
    higher_is_better: Optional[bool]  # None: neither (length)
    source: str  # SOURCES
    stats: Callable[[list[ItemInput], dict], np.ndarray]  # (n_items, k), last column = counted
    value: Callable[[np.ndarray, int], float]  # summed stats (k,), n rows -> corpus value (nan: none)
    item_score: Callable[[np.ndarray], Optional[float]]  # one row -> the item's score (None: n/a)
    details: Optional[Callable[[list[ItemInput], dict], dict]] = None
    description: str = ""
    # When whether references are needed depends on the parameters (contains without "text").
    references_needed: Optional[Callable[[dict], bool]] = None

    def requires_references(self, params: dict) -> bool:
        if self.references_needed is not None:
            return self.references_needed(params)
        return self.needs_references


REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> None:
    """Add (or replace, for a plugin that improves one) a metric."""
    if metric.source not in SOURCES:
        raise WorkbenchError(f"Metric {metric.name!r} has an unknown source {metric.source!r}.",
                             advice=f"Use one of: {', '.join(SOURCES)}.")
    REGISTRY[metric.name] = metric


def get(name: str) -> Metric:
    try:
        return REGISTRY[name]
    except KeyError:
        raise WorkbenchError(f"There is no metric called {name!r}.",
                             details=f"Known metrics: {', '.join(sorted(REGISTRY))}",
                             advice=f"Use one of: {', '.join(sorted(REGISTRY))}.") from None


def available(has_references: bool) -> list[Metric]:
    """The metrics a suite can use: all of them, or only the reference-free ones."""
    return [m for m in REGISTRY.values() if has_references or not m.needs_references]


# --- helpers for metric modules --------------------------------------------------------------

def mean_value(summed: np.ndarray, n: int) -> float:
    """A mean metric's corpus value: the sum of the scores over the items counted."""
    return float(summed[0] / summed[-1]) if summed[-1] > 0 else math.nan


def mean_item(row: np.ndarray) -> Optional[float]:
    return float(row[0]) if row[-1] > 0 else None


def mean_rows(scores: list[Optional[float]]) -> np.ndarray:
    """Rows (score, 1) for the items scored and (0, 0) for the items the metric skips."""
    out = np.zeros((len(scores), 2))
    out[:, 0] = [0.0 if s is None else s for s in scores]
    out[:, 1] = [s is not None for s in scores]
    return out


def check_references(metric_title: str, items: list[ItemInput]) -> None:
    """A metric that compares with references cannot run on items that have none."""
    if items and not any(item.references for item in items):
        raise WorkbenchError(
            f"{metric_title} compares the output with reference answers, and none of these "
            f"{len(items)} items has one.",
            advice="Add reference answers to the suite, or use a reference-free metric "
                   "(length, valid JSON, regex, contains with a text, judge).")


def mean_metric(name: str, title: str, fn: Callable[[ItemInput, dict], Optional[float]], *,
                needs_references: bool, higher_is_better: Optional[bool] = True, source: str = "text",
                description: str = "", details: Optional[Callable[[list[ItemInput], dict], dict]] = None,
                prepare: Optional[Callable[[list[ItemInput], dict], dict]] = None,
                references_needed: Optional[Callable[[dict], bool]] = None) -> Metric:
    """A metric whose value is the mean of per-item scores. `fn(item, params)` scores one item
    (None: the metric does not apply to it); `prepare` checks the parameters once and returns
    the params `fn` gets (e.g. a compiled regex)."""

    def stats(items: list[ItemInput], params: dict) -> np.ndarray:
        if needs_references or (references_needed is not None and references_needed(params)):
            check_references(title, items)
        ready = prepare(items, params) if prepare else params
        return mean_rows([fn(item, ready) for item in items])

    return Metric(name=name, title=title, needs_references=needs_references,
                  higher_is_better=higher_is_better, source=source, stats=stats, value=mean_value,
                  item_score=mean_item, details=details, description=description,
                  references_needed=references_needed)


def _load_builtin() -> None:
    # Imported here, not at the top: the metric modules import this one to register.
    from workbench.evaluation import label_metrics, model_metrics, text_metrics  # noqa: F401


_load_builtin()

