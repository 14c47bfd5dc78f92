"""Metrics over the output text: exact match and token F1 (SQuAD), ROUGE-L (rouge-score), BLEU
and chrF (sacrebleu), contains / regex / valid-JSON checks and response length.

ROUGE, BLEU and chrF come from their reference libraries, never re-implemented: BLEU and chrF
keep sacrebleu's per-sentence sufficient statistics as the rows, so the corpus value from the
summed rows is exactly sacrebleu.corpus_bleu / corpus_chrf, and a bootstrap resample is exact.
BLEU and chrF are on sacrebleu's 0-100 scale, as the field reports them; the others are 0-1.
"""

from __future__ import annotations

import functools
import json
import math
import re
import string
from collections import Counter
from typing import Optional

import numpy as np
from rouge_score import rouge_scorer, tokenizers
from rouge_score import tokenize as rouge_tokenize
from sacrebleu.metrics import BLEU, CHRF

from workbench.core.errors import WorkbenchError
from workbench.evaluation.registry import (ItemInput, Metric, check_references, mean_metric,
                                           register)

# --- SQuAD normalisation, exact match, token F1 ----------------------------------------------

_PUNCT = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation and articles, collapse whitespace."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def _exact(item: ItemInput, params: dict) -> Optional[float]:
    if not item.references:
        return None
    pred = normalize_answer(item.prediction)
    return float(any(pred == normalize_answer(ref) for ref in item.references))


def token_f1_score(prediction: str, reference: str) -> float:
    """SQuAD 2.0's token F1 (an empty answer matches only an empty reference)."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def _token_f1(item: ItemInput, params: dict) -> Optional[float]:
    if not item.references:
        return None
    return max(token_f1_score(item.prediction, ref) for ref in item.references)


# --- ROUGE-L (rouge-score) ------------------------------------------------------------------

class _CachedStemmer:
    """rouge-score's Porter stemmer with a cache: stemming is most of ROUGE's time and a word
    always stems the same way, so the numbers are rouge-score's own."""

    def __init__(self) -> None:
        stemmer = tokenizers.DefaultTokenizer(use_stemmer=True)._stemmer  # the one rouge-score uses
        self.stem = functools.lru_cache(maxsize=500_000)(stemmer.stem)


class CachedTokenizer(tokenizers.Tokenizer):
    """rouge-score's default tokenizer (its own tokenize function), stemming through the cache."""

    def __init__(self) -> None:
        self._stemmer = _CachedStemmer()

    def tokenize(self, text: str) -> list[str]:
        return rouge_tokenize.tokenize(text, self._stemmer)


@functools.lru_cache(maxsize=1)
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True, tokenizer=CachedTokenizer())


def rouge_l_score(prediction: str, references: list[str]) -> float:
    """rouge-score's ROUGE-L F-measure, the best over the references (score_multi)."""
    return float(_rouge().score_multi(references, prediction)["rougeL"].fmeasure)


def _rouge_l(item: ItemInput, params: dict) -> Optional[float]:
    return rouge_l_score(item.prediction, item.references) if item.references else None


# --- BLEU and chrF (sacrebleu) --------------------------------------------------------------

def _sacrebleu_rows(metric, title: str, items: list[ItemInput]) -> np.ndarray:
    """sacrebleu's per-sentence statistics of the items with references (multi-reference, a
    variable number per item), and a final column counting the item."""
    check_references(title, items)
    scored = [i for i, item in enumerate(items) if item.references]
    width = max(len(items[i].references) for i in scored)
    streams = [[items[i].references[j] if j < len(items[i].references) else None for i in scored]
               for j in range(width)]
    stats = metric._extract_corpus_statistics([items[i].prediction for i in scored], streams)
    out = np.zeros((len(items), len(stats[0]) + 1))
    out[scored, :-1] = np.asarray(stats, dtype=float)
    out[scored, -1] = 1.0
    return out


# `force` only silences sacrebleu's "looks tokenized" warning: the statistics are the same.
_BLEU, _BLEU_SENT, _CHRF = BLEU(force=True), BLEU(force=True, effective_order=True), CHRF()


def _counts(row: np.ndarray) -> list[int]:
    return np.rint(row[:-1]).astype(np.int64).tolist()


def _bleu_value(summed: np.ndarray, n: int) -> float:
    return float(_BLEU._compute_score_from_stats(_counts(summed)).score) if summed[-1] > 0 else math.nan


def _bleu_item(row: np.ndarray) -> Optional[float]:
    # Sentence BLEU uses the effective order, as sacrebleu.sentence_bleu does.
    return float(_BLEU_SENT._compute_score_from_stats(_counts(row)).score) if row[-1] > 0 else None


def _chrf_value(summed: np.ndarray, n: int) -> float:
    return float(_CHRF._compute_score_from_stats(_counts(summed)).score) if summed[-1] > 0 else math.nan


def _chrf_item(row: np.ndarray) -> Optional[float]:
    return float(_CHRF._compute_score_from_stats(_counts(row)).score) if row[-1] > 0 else None


# --- checks: contains, regex, valid JSON; length ---------------------------------------------

def _squash(text: str, case_sensitive: bool) -> str:
    text = " ".join(text.split())
    return text if case_sensitive else text.lower()


def _contains(item: ItemInput, params: dict) -> Optional[float]:
    cs = bool(params.get("case_sensitive", False))
    out = _squash(item.prediction, cs)
    needle = params.get("text")
    if needle:
        return float(_squash(str(needle), cs) in out)
    if not item.references:
        return None
    return float(any(_squash(ref, cs) in out for ref in item.references if ref.strip()))


def _regex_prepare(items: list[ItemInput], params: dict) -> dict:
    pattern = params.get("pattern")
    if not pattern:
        raise WorkbenchError("The regex metric needs a pattern.",
                             advice='Give it as the metric\'s "pattern" parameter, e.g. "^\\{".')
    try:
        compiled = re.compile(pattern, re.IGNORECASE if params.get("ignore_case") else 0)
    except re.error as exc:
        raise WorkbenchError(f"The regex metric's pattern {pattern!r} is not a valid regular "
                             f"expression: {exc}.", details=str(exc)) from None
    return {**params, "_re": compiled}


def _regex(item: ItemInput, params: dict) -> Optional[float]:
    return float(params["_re"].search(item.prediction) is not None)


_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n?(.*?)\n?```$", re.DOTALL)


def _valid_json(item: ItemInput, params: dict) -> Optional[float]:
    text = item.prediction.strip()
    fenced = _FENCE.match(text)  # models often wrap a tool call in a ```json fence
    if fenced and not params.get("strict"):
        text = fenced.group(1).strip()
    try:
        json.loads(text)
    except ValueError:
        return 0.0
    return 1.0


def _length(item: ItemInput, params: dict) -> Optional[float]:
    return float(len(item.prediction.split()))


def _length_details(items: list[ItemInput], params: dict) -> dict:
    if not items:
        return {"mean_words": None, "mean_chars": None}
    return {"mean_words": sum(len(i.prediction.split()) for i in items) / len(items),
            "mean_chars": sum(len(i.prediction) for i in items) / len(items)}


def _register() -> None:
    register(mean_metric("exact_match", "Exact match", _exact, needs_references=True,
                         description="The output equals a reference after SQuAD normalisation "
                                     "(lowercase, no punctuation, no articles, single spaces)."))
    register(mean_metric("token_f1", "Token F1", _token_f1, needs_references=True,
                         description="SQuAD token-overlap F1 with the best reference."))
    register(mean_metric("rouge_l", "ROUGE-L", _rouge_l, needs_references=True,
                         description="rouge-score ROUGE-L F-measure (Porter stemming), best reference."))
    register(Metric("bleu", "BLEU", needs_references=True, higher_is_better=True, source="text",
                    stats=lambda items, params: _sacrebleu_rows(_BLEU, "BLEU", items),
                    value=_bleu_value, item_score=_bleu_item,
                    description="sacrebleu corpus BLEU (0-100, 13a tokenizer, all references); "
                                "per item: sentence BLEU."))
    register(Metric("chrf", "chrF", needs_references=True, higher_is_better=True, source="text",
                    stats=lambda items, params: _sacrebleu_rows(_CHRF, "chrF", items),
                    value=_chrf_value, item_score=_chrf_item,
                    description="sacrebleu corpus chrF (0-100, all references); per item: sentence chrF."))
    register(mean_metric("contains", "Contains", _contains, needs_references=False,
                         references_needed=lambda params: not params.get("text"),
                         description='The output contains the "text" parameter, or else a reference '
                                     "(case-insensitive unless case_sensitive)."))
    register(mean_metric("regex", "Regex match", _regex, needs_references=False, prepare=_regex_prepare,
                         description='The output matches the "pattern" parameter (re.search).'))
    register(mean_metric("valid_json", "Valid JSON", _valid_json, needs_references=False,
                         description="The output parses as JSON (a ``` fence around it is allowed "
                                     "unless strict)."))
    register(mean_metric("length", "Length (words)", _length, needs_references=False,
                         higher_is_better=None, details=_length_details,
                         description="Words in the output (characters in the details)."))


_register()
