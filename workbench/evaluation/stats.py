"""Confidence intervals and paired significance over items, from a metric's rows.

Both resample items, not scores: a resample's value is the metric's value of a weighted sum of
rows, so corpus metrics (BLEU, chrF, perplexity, macro-F1) get exact intervals, not an average
of per-item scores. Seeded: the same rows and seed give the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.evaluation.registry import Metric

_CELLS = 4_000_000  # resample weights held at once (resamples x items): bounds memory


@dataclass(frozen=True)
class Estimate:
    value: Optional[float]  # None: no item counted
    low: Optional[float]
    high: Optional[float]
    n: int  # items counted
    level: float = 0.95


@dataclass(frozen=True)
class PairedTest:
    metric: str
    a: Optional[float]
    b: Optional[float]
    diff: Optional[float]  # b - a
    low: Optional[float]  # the paired bootstrap interval of b - a
    high: Optional[float]
    p_value: Optional[float]  # paired permutation (approximate randomisation), two-sided
    n: int  # items both scored
    method: str


def _value(metric: Metric, summed: np.ndarray, n: int) -> float:
    value = metric.value(summed, n)
    return math.nan if value is None else float(value)


def _none(x: float) -> Optional[float]:
    return None if x is None or math.isnan(x) else float(x)


def _resampled_sums(rows_list: list[np.ndarray], n_boot: int, rng: np.random.Generator):
    """Yield, chunk by chunk, the summed rows of bootstrap resamples of the items (the same
    resampled items for every array in rows_list: paired)."""
    n = len(rows_list[0])
    chunk = max(1, _CELLS // max(n, 1))
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        picks = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        weights = np.bincount(picks.ravel(), minlength=size * n).reshape(size, n).astype(float)
        yield [weights @ rows for rows in rows_list]
        done += size


def _interval(values: np.ndarray, level: float) -> tuple[Optional[float], Optional[float]]:
    values = values[~np.isnan(values)]
    if not len(values):
        return None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_ci(metric: Metric, stats: np.ndarray, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> Estimate:
    """The metric's value and its percentile bootstrap interval over items."""
    stats = np.asarray(stats, dtype=float)
    counted = stats[stats[:, -1] > 0] if len(stats) else stats
    n = len(counted)
    if n == 0:
        return Estimate(None, None, None, 0, level)
    value = _value(metric, counted.sum(axis=0), n)
    if n == 1:
        return Estimate(_none(value), _none(value), _none(value), 1, level)
    rng = np.random.default_rng(seed)
    boot = np.array([_value(metric, row, n) for (sums,) in _resampled_sums([counted], n_boot, rng) for row in sums])
    low, high = _interval(boot, level)
    return Estimate(_none(value), low, high, n, level)


def paired_test(metric: Metric, stats_a: np.ndarray, stats_b: np.ndarray, n_boot: int = 1000,
                seed: int = 0, level: float = 0.95) -> PairedTest:
    """Is b better than a on the same items? The interval of b - a by paired bootstrap, and the
    two-sided p-value by paired approximate randomisation: swapping each item's two rows at
    random, how often is the difference at least as large as the one observed?"""
    a, b = np.asarray(stats_a, dtype=float), np.asarray(stats_b, dtype=float)
    if a.shape != b.shape:
        raise WorkbenchError(f"A paired test needs the same items for both models ({metric.title}).",
                             details=f"rows {a.shape} and {b.shape}")
    method = f"paired bootstrap ({n_boot}) interval; approximate randomisation ({n_boot}) p"
    both = (a[:, -1] > 0) & (b[:, -1] > 0) if len(a) else np.zeros(0, dtype=bool)
    a, b = a[both], b[both]
    n = len(a)
    if n == 0:
        return PairedTest(metric.name, None, None, None, None, None, None, 0, method)
    value_a, value_b = _value(metric, a.sum(axis=0), n), _value(metric, b.sum(axis=0), n)
    diff = value_b - value_a
    if n == 1 or math.isnan(diff):
        return PairedTest(metric.name, _none(value_a), _none(value_b), _none(diff), None, None, None, n, method)
    rng = np.random.default_rng(seed)
    diffs = np.array([_value(metric, sb, n) - _value(metric, sa, n)
                      for sums_a, sums_b in _resampled_sums([a, b], n_boot, rng)
                      for sa, sb in zip(sums_a, sums_b)])
    low, high = _interval(diffs, level)
    # Approximate randomisation: swapped rows move (b - a) from b's sum to a's.
    total_a, total_b, delta = a.sum(axis=0), b.sum(axis=0), b - a
    chunk = max(1, _CELLS // n)
    hits, done = 0, 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        swaps = (rng.random((size, n)) < 0.5).astype(float) @ delta
        for moved in swaps:
            d = _value(metric, total_b - moved, n) - _value(metric, total_a + moved, n)
            hits += abs(d) >= abs(diff) - 1e-12
        done += size
    p_value = (hits + 1) / (n_boot + 1)
    return PairedTest(metric.name, _none(value_a), _none(value_b), _none(diff), low, high, float(p_value), n, method)
