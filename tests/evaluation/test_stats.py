"""Bootstrap intervals and paired tests over a metric's rows: exact corpus values, intervals
that hold the value and narrow with more items, p-values small for a real difference and large
for none, seeded."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sacrebleu

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import MetricSpec
from workbench.evaluation.registry import ItemInput, get
from workbench.evaluation.scoring import metric_stats
from workbench.evaluation.stats import bootstrap_ci, paired_test


def _binary(n: int, rate: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([(rng.random(n) < rate).astype(float), np.ones(n)])


def test_bootstrap_interval_holds_the_value_narrows_with_more_items_and_is_seeded():
    metric = get("exact_match")
    small, large = bootstrap_ci(metric, _binary(50, 0.6, 1)), bootstrap_ci(metric, _binary(2000, 0.6, 1))
    for est in (small, large):
        assert est.low <= est.value <= est.high
    assert (large.high - large.low) < (small.high - small.low) / 3
    assert large.n == 2000 and abs(large.value - 0.6) < 0.05
    assert bootstrap_ci(metric, _binary(50, 0.6, 1), seed=3) == bootstrap_ci(metric, _binary(50, 0.6, 1), seed=3)


def test_bleu_bootstrap_resamples_sentence_statistics_and_its_value_is_sacrebleus_corpus_bleu():
    rng = random.Random(0)
    words = "the a cat dog sat ran on under mat rug red blue big".split()
    refs = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(60)]
    hyps = [" ".join(w if rng.random() < 0.7 else rng.choice(words) for w in r.split()) for r in refs]
    metric, rows = metric_stats(MetricSpec("bleu"), [ItemInput(h, [r]) for h, r in zip(hyps, refs)])
    est = bootstrap_ci(metric, rows, n_boot=300)
    assert est.value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-12)
    assert est.low < est.value < est.high
    # A resample is a weighted sum of rows: the value of the rows of items 0..9 twice is the
    # corpus BLEU of those items listed twice.
    twice = metric.value(2 * rows[:10].sum(axis=0), 20)
    assert twice == pytest.approx(sacrebleu.corpus_bleu(hyps[:10] * 2, [refs[:10] * 2]).score, abs=1e-12)


def test_items_a_metric_skips_are_not_resampled_and_no_items_give_no_estimate():
    metric = get("exact_match")
    rows = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    est = bootstrap_ci(metric, rows)
    assert est.n == 3 and est.value == pytest.approx(2 / 3)
    none = bootstrap_ci(metric, np.zeros((0, 2)))
    assert none.value is None and none.n == 0


def test_paired_test_finds_a_real_difference_and_not_a_made_up_one():
    metric = get("exact_match")
    a = _binary(300, 0.5, 7)
    better = a.copy()
    flip = np.flatnonzero(a[:, 0] == 0)[:60]  # b also gets 60 of a's misses right
    better[flip, 0] = 1.0
    real = paired_test(metric, a, better)
    assert real.diff == pytest.approx(60 / 300) and real.p_value < 0.01
    assert real.low > 0 and real.low <= real.diff <= real.high and real.n == 300
    # As many items won as lost: the models differ item by item, not on the whole.
    churn = a.copy()
    churn[np.flatnonzero(a[:, 0] == 0)[:30], 0] = 1.0
    churn[np.flatnonzero(a[:, 0] == 1)[:30], 0] = 0.0
    same = paired_test(metric, a, churn)
    assert same.diff == 0 and same.p_value > 0.5 and same.low < 0 < same.high
    assert paired_test(metric, a, better, seed=5) == paired_test(metric, a, better, seed=5)


def test_paired_test_on_a_corpus_metric_uses_only_items_both_scored_and_checks_shapes():
    metric = get("chrf")
    items_a = [ItemInput(f"the red cat {i}", [f"the red cat sat {i}"]) for i in range(40)]
    items_b = [ItemInput(f"the red cat sat {i}", [f"the red cat sat {i}"]) for i in range(40)]
    _, rows_a = metric_stats(MetricSpec("chrf"), items_a)
    _, rows_b = metric_stats(MetricSpec("chrf"), items_b)
    test = paired_test(metric, rows_a, rows_b, n_boot=200)
    assert test.b == pytest.approx(100.0) and test.diff > 0 and test.p_value < 0.01
    rows_b[0, :] = 0  # item 0 not scored for b: left out of both
    assert paired_test(metric, rows_a, rows_b, n_boot=50).n == 39
    with pytest.raises(WorkbenchError, match="same items"):
        paired_test(metric, rows_a, rows_b[:5])
