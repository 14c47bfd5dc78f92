"""Judge-vs-people agreement: kappa and Spearman as scikit-learn and scipy compute them, the
confusion oriented people x judge, and plain-words messages for too few or uniform ratings."""

from __future__ import annotations

import pytest
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from workbench.core.errors import WorkbenchError
from workbench.evaluation.agreement import agreement

PEOPLE = [1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0]
JUDGE = [1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1]


def test_pass_fail_is_cohens_kappa_with_the_confusion_people_by_judge():
    result = agreement(PEOPLE, JUDGE, "pass_fail")
    assert result.statistic == "cohen_kappa" and result.n == 12
    assert result.value == pytest.approx(cohen_kappa_score(PEOPLE, JUDGE))
    assert result.labels == ["fail", "pass"]
    # people fail & judge pass: items 5 and 11; people pass & judge fail: item 1.
    assert result.confusion == [[3, 2], [1, 6]]
    assert result.also["agreement_pct"] == pytest.approx(100 * 9 / 12)
    assert result.message.startswith(f"κ {result.value:.2f}: moderate agreement (Landis & Koch)")
    assert "Only 12 items" in result.message


def test_one_to_five_is_spearman_with_the_weighted_kappa_too():
    people = [5, 4, 4, 2, 1, 3, 5, 2, 3, 4, 1, 5, 3, 2, 4, 5, 1, 2, 3, 4, 5]
    judge = [4, 4, 5, 2, 2, 3, 5, 1, 3, 3, 1, 4, 2, 2, 5, 5, 2, 3, 3, 4, 4]
    result = agreement([float(p) for p in people], judge, "1-5")
    rho, p_value = spearmanr(people, judge)
    assert result.statistic == "spearman" and result.value == pytest.approx(rho)
    assert result.also["p_value"] == pytest.approx(p_value)
    assert result.also["weighted_kappa"] == pytest.approx(cohen_kappa_score(people, judge, weights="quadratic"))
    assert result.labels == ["1", "2", "3", "4", "5"] and sum(map(sum, result.confusion)) == 21
    assert result.confusion[4][3] == 3  # people 5, judge 4
    assert "very strong positive correlation" in result.message and "Only" not in result.message


def test_too_few_or_uniform_ratings_say_why_there_is_no_figure():
    one = agreement([1], [1], "pass_fail")
    assert one.value is None and "at least 2 items" in one.message and "there is 1" in one.message
    same = agreement([1, 1, 1], [1, 0, 1], "pass_fail")
    assert same.value is None and "People gave every item the same rating" in same.message
    assert agreement([], [], "1-5").value is None


def test_bad_input_is_a_clear_error():
    with pytest.raises(WorkbenchError, match="same items"):
        agreement([1, 0], [1], "pass_fail")
    with pytest.raises(WorkbenchError, match="not on the 1-5 scale"):
        agreement([6, 1], [1, 1], "1-5")
    with pytest.raises(WorkbenchError, match="Unknown rating scale"):
        agreement([1], [1], "1-10")
