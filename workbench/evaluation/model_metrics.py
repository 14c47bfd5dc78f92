"""Metrics from what the eval child measured: the loss and perplexity of the references under
the model (teacher forcing; token-weighted over the corpus) and the local judge's verdicts."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.evaluation.registry import ItemInput, Metric, check_references, mean_item, mean_rows, mean_value, register


def _loss_rows(items: list[ItemInput], params: dict) -> np.ndarray:
    """Rows (summed NLL, tokens, counted) of the items the child measured."""
    check_references("The reference loss", items)
    out = np.zeros((len(items), 3))
    for i, item in enumerate(items):
        if item.ref_nll is not None and item.ref_tokens:
            out[i] = (item.ref_nll, item.ref_tokens, 1.0)
    if items and not out[:, -1].any():
        raise WorkbenchError(
            "Loss and perplexity need the reference loss that the eval child measures, and none of "
            f"these {len(items)} items has one.",
            advice="Run the suite on a model (workbench eval run) to get them; scoring outputs "
                   "from files can compute only the text metrics.")
    return out


def _loss(summed: np.ndarray, n: int) -> float:
    return float(summed[0] / summed[1]) if summed[-1] > 0 and summed[1] > 0 else math.nan


def _perplexity(summed: np.ndarray, n: int) -> float:
    loss = _loss(summed, n)
    return math.exp(loss) if not math.isnan(loss) else math.nan


def _loss_item(row: np.ndarray) -> Optional[float]:
    return float(row[0] / row[1]) if row[-1] > 0 else None


def _perplexity_item(row: np.ndarray) -> Optional[float]:
    return math.exp(row[0] / row[1]) if row[-1] > 0 else None


def _judge_rows(items: list[ItemInput], params: dict) -> np.ndarray:
    if items and all(item.judge_score is None for item in items):
        raise WorkbenchError(f"None of these {len(items)} items has a judge's verdict.",
                             advice="Run the suite with a judge model (the judge metric's model).")
    return mean_rows([item.judge_score for item in items])


register(Metric("loss", "Reference loss", needs_references=True, higher_is_better=False, source="model",
                stats=_loss_rows, value=_loss, item_score=_loss_item,
                description="Mean negative log-likelihood per token of the first reference as the "
                            "model's reply (token-weighted over the suite)."))
register(Metric("perplexity", "Perplexity", needs_references=True, higher_is_better=False, source="model",
                stats=_loss_rows, value=_perplexity, item_score=_perplexity_item,
                description="exp(reference loss): how surprised the model is by the references."))
register(Metric("judge", "Judge", needs_references=False, higher_is_better=True, source="judge",
                stats=_judge_rows, value=mean_value, item_score=mean_item,
                description="A local model grades each output with a rubric: the share passed "
                            "(pass/fail) or the mean score (1-5)."))
