"""People's ratings (checked against the scale and the run's items) and the judge's agreement
with them: Cohen's kappa for pass/fail and Spearman for 1-5, equal to scikit-learn's and
SciPy's on the same pairs."""

from __future__ import annotations

import pytest

from tests.helpers.eval_results import add_eval, make_suite
from workbench.core.errors import WorkbenchError

PEOPLE = [1, 1, 0, 0, 1, 0, 1, 1, 0, 1]
JUDGE = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0]


def _judged(store, scale="pass_fail", judge=JUDGE, errors=None):
    suite = make_suite(store, [[f"a{i}"] for i in range(len(judge))], metrics=("exact_match", "judge"),
                       metric_params={"judge": {"scale": scale, "rubric": "Is it right?"}})
    return add_eval(store, suite, [f"out {i}" for i in range(len(judge))], judge=list(judge), errors=errors)


def test_rate_checks_the_value_the_scale_and_the_item(store):
    from workbench.services.eval_ratings import rate, ratings

    run = _judged(store, errors={3: "prompt longer than the context"})
    r = rate(store, run.id, "q0", "pass", "pass_fail", comment="  fine  ")
    assert (r.value, r.comment, r.rater, r.scale) == (1.0, "fine", "tester", "pass_fail")
    assert rate(store, run.id, "q1", 4, "1-5", rater="ann").value == 4.0
    for value, scale, match in [(2, "pass_fail", "pass .1. or fail .0."), (0, "1-5", "from 1 to 5"),
                                (3.5, "1-5", "from 1 to 5"), ("good", "1-5", "from 1 to 5"),
                                (1, "stars", "Unknown rating scale")]:
        with pytest.raises(WorkbenchError, match=match):
            rate(store, run.id, "q0", value, scale)
    with pytest.raises(WorkbenchError, match="has no item 'q99'"):
        rate(store, run.id, "q99", 1, "pass_fail")
    with pytest.raises(WorkbenchError, match="no output to rate: it failed"):
        rate(store, run.id, "q3", 1, "pass_fail")
    rate(store, run.id, "q0", 0, "pass_fail")  # changed their mind: the latest counts
    assert sorted((x.item_id, x.rater, x.value) for x in ratings(store, run.id)) == \
        [("q0", "tester", 0.0), ("q1", "ann", 4.0)]


def test_kappa_equals_sklearn_on_the_pairs_people_rated_and_the_judge_judged(store):
    from sklearn.metrics import cohen_kappa_score

    from workbench.services.eval_ratings import judge_agreement, rate

    judge = list(JUDGE)
    judge[9] = None  # the judge's output could not be parsed for this one
    run = _judged(store, judge=judge)
    for i, value in enumerate(PEOPLE):
        rate(store, run.id, f"q{i}", value, "pass_fail", rater="ann")
    agreement = judge_agreement(store, run.id)
    assert agreement.statistic == "cohen_kappa" and agreement.n == 9
    assert agreement.value == pytest.approx(cohen_kappa_score(PEOPLE[:9], [int(j) for j in JUDGE[:9]]))
    assert "1 rated item(s) the judge gave no verdict on" in agreement.message


def test_raters_pool_by_majority_a_tie_is_left_out_and_each_rater_has_their_own(store):
    from sklearn.metrics import cohen_kappa_score

    from workbench.services.eval_ratings import agreement_by_rater, judge_agreement, rate

    run = _judged(store)
    bob = list(PEOPLE)
    bob[0] = 0  # ann and bob split on q0
    cy = list(PEOPLE)
    cy[1] = 0  # cy is outvoted on q1
    for name, values in (("ann", PEOPLE), ("bob", bob)):
        for i, value in enumerate(values):
            rate(store, run.id, f"q{i}", value, "pass_fail", rater=name)
    rate(store, run.id, "q1", 0, "pass_fail", rater="cy")
    pooled = judge_agreement(store, run.id)
    # q0: 1 vs 0, a tie, left out; q1: 1, 1, 0 -> 1.
    assert pooled.n == 9 and "1 item(s) the raters split evenly on" in pooled.message
    assert pooled.value == pytest.approx(cohen_kappa_score(PEOPLE[1:], [int(j) for j in JUDGE[1:]]))
    each = agreement_by_rater(store, run.id)
    assert sorted(each) == ["ann", "bob", "cy"]
    assert each["bob"].value == pytest.approx(cohen_kappa_score(bob, [int(j) for j in JUDGE]))
    assert each["cy"].n == 1


def test_spearman_on_the_1_to_5_scale_equals_scipy(store):
    from scipy.stats import spearmanr

    from workbench.services.eval_ratings import judge_agreement, rate

    judge = [5.0, 4.0, 2.0, 1.0, 3.0, 4.0, 2.0, 5.0]
    people = [4, 5, 2, 1, 3, 3, 1, 5]
    run = _judged(store, scale="1-5", judge=judge)
    for i, value in enumerate(people):
        rate(store, run.id, f"q{i}", value, "1-5", rater="ann")
        rate(store, run.id, f"q{i}", min(5, value + 1), "1-5", rater="bob")
    rate(store, run.id, "q0", 1, "pass_fail", rater="dan")  # on another scale than the judge's
    agreement = judge_agreement(store, run.id, rater="ann")
    assert agreement.statistic == "spearman"
    assert agreement.value == pytest.approx(spearmanr(people, judge).statistic)
    pooled = judge_agreement(store, run.id)
    pooled_people = [min(5, p + 1) for p in people]  # the mean of p and p + 1, half up
    assert pooled.value == pytest.approx(spearmanr(pooled_people, judge).statistic)
    assert pooled.value != pytest.approx(agreement.value)
    assert "1 rating(s) on another scale" in pooled.message


def test_agreement_needs_a_judge(store):
    from workbench.services.eval_ratings import judge_agreement

    suite = make_suite(store, [["a"]], metrics=("exact_match",))
    run = add_eval(store, suite, ["a"])
    with pytest.raises(WorkbenchError, match="has no judge metric"):
        judge_agreement(store, run.id)
