"""Text metrics against their reference libraries on fixed predictions (sacrebleu, rouge-score),
SQuAD normalisation, the checks, and the registry's errors."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import MetricSpec
from workbench.evaluation import registry
from workbench.evaluation.registry import ItemInput, Metric, get, mean_metric, register
from workbench.evaluation.scoring import score
from workbench.evaluation.text_metrics import CachedTokenizer, normalize_answer, token_f1_score

HYPS = ["The cat sat on the mat.", "Your order BB-123456 ships tomorrow!", "I don't know.",
        "Returns are free within 30 days of delivery.", "", "Hello there, general Kenobi.",
        "We ship to the EU, UK and US; running, ran, runs."]
REFS = [["The cat is sitting on the mat."], ["Order BB-123456 will ship tomorrow.", "It ships tomorrow."],
        ["Sorry, I do not know."], ["You can return items for free within 30 days."], ["Nothing."],
        ["Hello there!", "General Kenobi, hello.", "Hi."], ["We ship to the EU and the UK; run."]]


def _items(hyps=HYPS, refs=REFS):
    return [ItemInput(h, list(r)) for h, r in zip(hyps, refs)]


def _streams(refs):
    width = max(len(r) for r in refs)
    return [[r[j] if j < len(r) else None for r in refs] for j in range(width)]


def test_bleu_and_chrf_equal_sacrebleu_corpus_and_sentence_scores_with_varying_reference_counts():
    result = score([MetricSpec("bleu"), MetricSpec("chrf")], _items())
    assert result["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(HYPS, _streams(REFS)).score, abs=1e-12)
    assert result["chrf"].value == pytest.approx(sacrebleu.corpus_chrf(HYPS, _streams(REFS)).score, abs=1e-12)
    for hyp, refs, b, c in zip(HYPS, REFS, result["bleu"].item_scores, result["chrf"].item_scores):
        assert b == pytest.approx(sacrebleu.sentence_bleu(hyp, refs).score, abs=1e-12)
        assert c == pytest.approx(sacrebleu.sentence_chrf(hyp, refs).score, abs=1e-12)
    # The corpus value comes from the summed per-sentence statistics (what bootstrap resamples).
    bleu = get("bleu")
    rows = bleu.stats(_items(), {})
    assert bleu.value(rows.sum(axis=0), len(rows)) == result["bleu"].value
    assert rows[:, -1].tolist() == [1.0] * len(HYPS)


def test_items_without_references_are_left_out_of_bleu_not_counted_as_zero():
    items = _items() + [ItemInput("An extra answer.", [])]
    result = score([MetricSpec("bleu"), MetricSpec("rouge_l"), MetricSpec("exact_match")], items)
    assert result["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(HYPS, _streams(REFS)).score, abs=1e-12)
    assert result["bleu"].n == len(HYPS) and result["bleu"].item_scores[-1] is None
    assert result["rouge_l"].item_scores[-1] is None and result["exact_match"].n == len(HYPS)


def test_rouge_l_equals_rouge_score_best_reference_f_measure():
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    result = score([MetricSpec("rouge_l")], _items())
    expected = [scorer.score_multi(refs, hyp)["rougeL"].fmeasure for hyp, refs in zip(HYPS, REFS)]
    assert result["rouge_l"].item_scores == pytest.approx(expected, abs=1e-15)
    assert result["rouge_l"].value == pytest.approx(np.mean(expected), abs=1e-15)
    assert 0 < result["rouge_l"].value < 1


def test_the_cached_tokenizer_tokenizes_exactly_as_rouge_scores_default():
    from rouge_score.tokenizers import DefaultTokenizer

    default, cached = DefaultTokenizer(use_stemmer=True), CachedTokenizer()
    texts = HYPS + ["Running runners ran; the generously-sized caresses!", "ÄÖÜ ßtraße naïve café 42x", "a an the"]
    for text in texts * 2:  # the second pass is served from the cache
        assert cached.tokenize(text) == default.tokenize(text)


@pytest.mark.parametrize("text,normal", [
    ("The  Cat!", "cat"), ("An apple, a pear.", "apple pear"), ("theory of the mind", "theory of mind"),
    ("  Paris\n", "paris"), ("U.S.A.", "usa"), ("", "")])
def test_squad_normalisation(text, normal):
    assert normalize_answer(text) == normal


def test_exact_match_and_token_f1_follow_squad():
    items = [ItemInput("The Eiffel Tower!", ["eiffel tower"]), ItemInput("Paris", ["London", "paris."]),
             ItemInput("the big red car", ["a red car"]), ItemInput("", ["something"]), ItemInput("", ["the"])]
    result = score([MetricSpec("exact_match"), MetricSpec("token_f1")], items)
    assert result["exact_match"].item_scores == [1.0, 1.0, 0.0, 0.0, 1.0]
    # "big red car" vs "red car": precision 2/3, recall 1.
    assert result["token_f1"].item_scores == pytest.approx([1.0, 1.0, 0.8, 0.0, 1.0])
    assert token_f1_score("x y z", "z w") == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))


def test_checks_contains_regex_valid_json_and_length():
    items = [ItemInput('{"name": "lookup", "arguments": {"id": 3}}', ["lookup"]),
             ItemInput('```json\n{"a": 1}\n```', ["A"]), ItemInput("Not JSON { at all", ["at  ALL"]),
             ItemInput("", [])]
    result = score([MetricSpec("contains"), MetricSpec("contains", {"text": "JSON"}),
                    MetricSpec("regex", {"pattern": r'"name":\s*"\w+"'}), MetricSpec("valid_json"),
                    MetricSpec("valid_json", {"strict": True}), MetricSpec("length")], items)
    assert result["contains"].item_scores == [1.0, 1.0, 1.0, None]
    assert result["contains#2"].item_scores == [0.0, 1.0, 1.0, 0.0]
    assert result["regex"].item_scores == [1.0, 0.0, 0.0, 0.0]
    assert result["valid_json"].item_scores == [1.0, 1.0, 0.0, 0.0]
    assert result["valid_json#2"].item_scores == [1.0, 0.0, 0.0, 0.0]
    assert result["length"].item_scores == [5.0, 4.0, 5.0, 0.0]
    assert result["length"].details["mean_chars"] == pytest.approx(sum(len(i.prediction) for i in items) / 4)


def test_a_bad_regex_or_no_pattern_is_a_clear_error():
    with pytest.raises(WorkbenchError, match="not a valid regular expression"):
        score([MetricSpec("regex", {"pattern": "(unclosed"})], [ItemInput("x", [])])
    with pytest.raises(WorkbenchError, match="needs a pattern"):
        score([MetricSpec("regex")], [ItemInput("x", [])])


@pytest.mark.parametrize("name", ["exact_match", "token_f1", "rouge_l", "bleu", "chrf", "contains", "loss"])
def test_a_reference_metric_on_items_without_references_raises_a_clear_error(name):
    with pytest.raises(WorkbenchError, match="none of these 2 items has one"):
        score([MetricSpec(name)], [ItemInput("a", []), ItemInput("b", [])])


def test_registry_names_the_known_metrics_and_takes_a_plugin():
    with pytest.raises(WorkbenchError, match="no metric called 'blue'") as info:
        get("blue")
    assert "bleu" in info.value.details and "rouge_l" in info.value.advice
    assert {m.name for m in registry.available(has_references=False)} >= {"length", "valid_json", "regex", "judge"}
    assert "bleu" not in {m.name for m in registry.available(has_references=False)}
    shout = mean_metric("shouting", "Shouting", lambda item, params: float(item.prediction.isupper()),
                        needs_references=False)
    register(shout)
    try:
        assert isinstance(get("shouting"), Metric)
        result = score([MetricSpec("shouting")], [ItemInput("HEY", []), ItemInput("hey", [])])
        assert result["shouting"].value == 0.5
    finally:
        registry.REGISTRY.pop("shouting")
