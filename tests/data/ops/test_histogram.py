"""Length histograms (workbench.data.ops.stats.histogram): a long tail is counted apart, so one
huge row does not squash every other row into one bin."""

from __future__ import annotations

import numpy as np

from workbench.data.ops.stats import histogram


def _bulk(n=999, seed=0):
    return np.random.default_rng(seed).integers(40, 300, size=n).astype(np.int32)


def test_one_huge_outlier_goes_to_the_overflow_bin():
    values = np.append(_bulk(), 16_384).astype(np.int32)
    h = histogram(values, bins=20)
    assert h.overflow == 1 and sum(h.counts) == 999
    assert h.max == 16_384 and h.edges[-1] < 300  # the bins cover the bulk, not the outlier
    assert len(h.counts) == 20 and sum(c > 0 for c in h.counts) >= 15  # spread over many bins
    assert max(h.counts) < 0.2 * 999


def test_without_a_tail_nothing_is_cut():
    values = _bulk()
    h = histogram(values, bins=20)
    assert h.overflow == 0 and sum(h.counts) == 999 and h.edges[-1] == h.max


def test_few_rows_and_one_outlier():
    h = histogram(np.array([10, 12, 15, 20, 22, 25, 30, 5000], dtype=np.int32), bins=20)
    assert h.overflow == 1 and h.edges[-1] == 30 and sum(h.counts) == 7


def test_the_included_value_stays_inside_the_bins():
    values = np.append(_bulk(), 16_384).astype(np.int32)
    h = histogram(values, bins=20, include=1024)  # the max length: its line must be on the axis
    assert h.edges[-1] == 1024 and h.overflow == 1
    assert histogram(values, bins=20, include=100_000).overflow == 1  # beyond every row: no effect
