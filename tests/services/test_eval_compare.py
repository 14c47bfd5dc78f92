"""Side by side: corpus values with bootstrap intervals recomputed from the outputs, paired
tests that find a real difference and none where there is none, per-item rows sorted by where
the runs differ, and a refusal to compare runs of different suites."""

from __future__ import annotations

import pytest

from tests.helpers.eval_results import add_eval, make_suite
from workbench.core.errors import WorkbenchError

N = 30


@pytest.fixture
def suite(store):
    return make_suite(store, [[f"the answer is {i}"] for i in range(N)], metrics=("exact_match", "bleu"))


def _outputs(right: set[int]) -> list[str]:
    return [f"the answer is {i}" if i in right else f"no idea about {i}" for i in range(N)]


def test_values_come_from_the_outputs_with_intervals_that_contain_them(store, suite):
    import sacrebleu

    from workbench.services.eval_compare import compare

    right = set(range(0, N, 2))  # half right
    # Stored item scores that disagree with the outputs: the comparison does not read them.
    run = add_eval(store, suite, _outputs(right), scores=[{"exact_match": 1.0, "bleu": 100.0}] * N)
    c = compare(store, [run.id], n_boot=300, seed=0)
    assert c.metrics == ["exact_match", "bleu"]
    em = c.table[run.id]["exact_match"]
    assert em.value == pytest.approx(0.5) and em.low < 0.5 < em.high
    bleu = c.table[run.id]["bleu"]
    expected = sacrebleu.corpus_bleu(_outputs(right), [[f"the answer is {i}" for i in range(N)]]).score
    assert bleu.value == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert bleu.low <= bleu.value <= bleu.high
    assert c.best("exact_match") == run.id


def test_a_real_difference_is_significant_and_none_is_not(store, suite):
    from workbench.services.eval_compare import compare

    strong = add_eval(store, suite, _outputs(set(range(27))), label="strong")
    weak = add_eval(store, suite, _outputs(set(range(6))), label="weak")
    # Same score as strong, right on other items: no difference on the whole.
    shuffled = add_eval(store, suite, _outputs(set(range(3, 30))), label="same-but-other-items")
    c = compare(store, [weak.id, strong.id, shuffled.id], n_boot=500, seed=1)
    up = next(t for t in c.pairs(weak.id, strong.id) if t.metric == "exact_match")
    assert up.diff == pytest.approx(0.9 - 0.2) and up.low > 0 and up.p_value < 0.01 and up.n == N
    same = next(t for t in c.pairs(strong.id, shuffled.id) if t.metric == "exact_match")
    assert same.diff == pytest.approx(0.0) and same.p_value > 0.2 and same.low <= 0 <= same.high
    assert c.pairs(weak.id, strong.id) is c.pairs(weak.id, strong.id)  # computed once
    assert c.best("exact_match") in (strong.id, shuffled.id)


def test_failed_items_leave_the_others_scored_and_pairs_use_the_items_both_have(store, suite):
    from workbench.services.eval_compare import compare

    a = add_eval(store, suite, _outputs(set(range(N))), errors={0: "prompt too long", 1: "prompt too long"})
    b = add_eval(store, suite, _outputs(set(range(N))), errors={2: "out of memory"})
    c = compare(store, [a.id, b.id], n_boot=200)
    assert c.failed == {a.id: 2, b.id: 1}
    assert c.table[a.id]["exact_match"].value == 1.0
    test = next(t for t in c.pairs(a.id, b.id) if t.metric == "exact_match")
    assert test.n == N - 3
    first = c.items[0]
    assert first.results[a.id].error == "prompt too long" and first.score(a.id, "exact_match") is None
    assert first.score(b.id, "exact_match") == 1.0 and first.spread["exact_match"] is None


def test_item_rows_spread_and_sorting(store, suite):
    from workbench.services.eval_compare import compare, sort_items

    a = add_eval(store, suite, _outputs({0, 1, 2}), label="a")
    b = add_eval(store, suite, _outputs({1, 2, 3, 4}), label="b")
    c = compare(store, [a.id, b.id], n_boot=100)
    rows = {row.item.id: row for row in c.items}
    assert rows["q0"].spread["exact_match"] == 1.0 and rows["q0"].differs
    assert rows["q1"].spread["exact_match"] == 0.0 and not rows["q1"].differs
    assert rows["q0"].item.references == ["the answer is 0"]
    by_spread = sort_items(c.items, "exact_match")
    assert {r.item.id for r in by_spread[:3]} == {"q0", "q3", "q4"}
    assert [r.item.id for r in by_spread[3:5]] == ["q1", "q2"]  # ties keep the suite order
    a_better = sort_items(c.items, "exact_match", by="a_minus_b", a=a.id, b=b.id)
    assert a_better[0].item.id == "q0" and {r.item.id for r in a_better[-2:]} == {"q3", "q4"}
    with pytest.raises(WorkbenchError, match="Cannot sort"):
        sort_items(c.items, "exact_match", by="length")


def test_runs_of_different_suites_are_refused_and_a_running_one_is_noted(store, suite):
    from workbench.services.eval_compare import compare

    other = make_suite(store, [["x"]], name="other")
    a = add_eval(store, suite, _outputs(set()), label="a")
    b = add_eval(store, other, ["x"], label="b")
    with pytest.raises(WorkbenchError, match="did not run the same suite") as caught:
        compare(store, [a.id, b.id])
    assert "other v1" in caught.value.details
    partial = add_eval(store, suite, _outputs(set(range(N)))[:10], status="running", label="partial")
    c = compare(store, [a.id, partial.id], n_boot=100)
    assert any("partial is running: 10 of 30 items" in note for note in c.notes)
    assert c.table[partial.id]["exact_match"].value == 1.0
    with pytest.raises(WorkbenchError, match="at least one"):
        compare(store, [])


def test_a_suite_without_references_compares_only_reference_free_metrics(store):
    from workbench.services.eval_compare import compare

    free = make_suite(store, [[], []], metrics=("exact_match", "length"))
    a = add_eval(store, free, ["one two", "three"])
    c = compare(store, [a.id], n_boot=100)
    assert c.metrics == ["length"] and c.table[a.id]["length"].value == pytest.approx(1.5)
    assert any("no reference answers" in note for note in c.notes)
