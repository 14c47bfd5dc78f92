"""Classification (label read by choices or regex; report from scikit-learn), reference loss
and perplexity from the child's measurements, and the judge's mean."""

from __future__ import annotations

import math

import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import MetricSpec
from workbench.evaluation.label_metrics import NONE_LABEL, extract_label
from workbench.evaluation.registry import ItemInput, get
from workbench.evaluation.scoring import score

OUTPUTS = ["Positive!", "I'd say negative.", "neutral", "It is positive, not negative", "no idea",
           "NEGATIVE", "Label: neutral", "positive"]
GOLD = ["positive", "negative", "positive", "positive", "neutral", "negative", "neutral", "negative"]
CHOICES = ["positive", "negative", "neutral"]


def _items():
    return [ItemInput(o, [], label=g) for o, g in zip(OUTPUTS, GOLD)]


def test_labels_are_read_by_choices_first_named_whole_word():
    assert extract_label("It is positive, not negative", CHOICES) == "positive"
    assert extract_label("NEGATIVE", CHOICES) == "negative"
    assert extract_label("nonpositive", CHOICES) is None  # a whole word only
    assert extract_label("very positive", ["positive", "very positive"]) == "very positive"  # longest on a tie
    import re
    assert extract_label("Answer: (B) because", ["A", "B"], re.compile(r"\((?P<label>[A-D])\)")) == "B"
    assert extract_label("Answer: C", ["A", "B"], re.compile(r"Answer: (\w)")) is None  # not a known label


def test_classification_and_macro_f1_equal_scikit_learn():
    params = {"choices": CHOICES}
    result = score([MetricSpec("classification", params), MetricSpec("macro_f1", params)], _items())
    y_pred = [extract_label(o, CHOICES) or NONE_LABEL for o in OUTPUTS]
    assert result["classification"].value == pytest.approx(accuracy_score(GOLD, y_pred))
    present = sorted(set(GOLD) | (set(y_pred) - {NONE_LABEL}))
    assert result["macro_f1"].value == pytest.approx(f1_score(GOLD, y_pred, labels=present, average="macro",
                                                              zero_division=0))
    assert result["classification"].item_scores == [float(g == p) for g, p in zip(GOLD, y_pred)]
    report = result["classification"].details
    assert report["labels"] == CHOICES and report["columns"] == CHOICES + [NONE_LABEL]
    assert report["confusion"] == confusion_matrix(GOLD, y_pred, labels=CHOICES + [NONE_LABEL])[:3].tolist()
    precision, recall, f1, support = precision_recall_fscore_support(GOLD, y_pred, labels=CHOICES, zero_division=0)
    assert report["per_class"]["negative"] == pytest.approx(
        {"precision": precision[1], "recall": recall[1], "f1": f1[1], "support": support[1]})
    assert report["unparsed"] == 1 and report["macro_f1"] == pytest.approx(result["macro_f1"].value)


def test_without_choices_the_gold_labels_are_the_choices_and_unlabelled_items_are_left_out():
    items = _items() + [ItemInput("positive", [], label=None)]
    result = score([MetricSpec("classification")], items)
    assert result["classification"].n == len(GOLD) and result["classification"].item_scores[-1] is None
    regex = score([MetricSpec("classification", {"regex": r"label:\s*(\w+)"})], _items())
    assert regex["classification"].item_scores == [0.0] * 6 + [1.0, 0.0]


def test_classification_without_any_label_is_a_clear_error():
    with pytest.raises(WorkbenchError, match="none of these 2 items has a label"):
        score([MetricSpec("classification")], [ItemInput("a", ["a"]), ItemInput("b", ["b"])])
    with pytest.raises(WorkbenchError, match="not a valid regular expression"):
        score([MetricSpec("classification", {"regex": "("})], _items())


def test_loss_and_perplexity_are_token_weighted_over_the_items_the_child_measured():
    items = [ItemInput("x", ["r"], ref_nll=6.0, ref_tokens=3), ItemInput("y", ["r"], ref_nll=2.0, ref_tokens=1),
             ItemInput("z", ["r"])]
    result = score([MetricSpec("loss"), MetricSpec("perplexity")], items)
    assert result["loss"].value == pytest.approx(8.0 / 4)
    assert result["perplexity"].value == pytest.approx(math.exp(2.0))
    assert result["loss"].item_scores == [2.0, 2.0, None] and result["perplexity"].n == 2
    assert get("loss").higher_is_better is False and get("loss").source == "model"
    with pytest.raises(WorkbenchError, match="reference loss that the eval child measures"):
        score([MetricSpec("loss")], [ItemInput("x", ["r"])])


def test_judge_is_the_mean_verdict_and_not_strict_scoring_reports_why_instead_of_raising():
    items = [ItemInput("a", [], judge_score=1.0), ItemInput("b", [], judge_score=0.0),
             ItemInput("c", [], judge_score=1.0), ItemInput("d", [])]
    result = score([MetricSpec("judge", {"scale": "pass_fail"})], items)
    assert result["judge"].value == pytest.approx(2 / 3) and result["judge"].item_scores[-1] is None
    loose = score([MetricSpec("judge"), MetricSpec("length")], [ItemInput("d", [])], strict=False)
    assert loose["judge"].value is None and "judge's verdict" in loose["judge"].error
    assert loose["length"].value == 1.0
