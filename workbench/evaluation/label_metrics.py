"""Classification metrics: the label is read from the output (by a choice list or a regex) and
compared with the item's gold label. Accuracy, per-class precision / recall / F1, macro-F1 and
the confusion matrix; the report comes from scikit-learn.

A row is the item's cell of the confusion matrix, one-hot: gold label (rows) by predicted label
(columns, plus a last column for an output no label could be read from), then the count column.
The label set depends only on the suite (its choices and gold labels), so two models' rows on
the same items line up for a paired test, and macro-F1 is exact under bootstrap.
"""

from __future__ import annotations

import math
import re
from typing import Optional

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.evaluation.registry import ItemInput, Metric, register

NONE_LABEL = "(none)"  # the output names no known label


def _key(label: str) -> str:
    return " ".join(str(label).split()).lower()


def label_set(items: list[ItemInput], params: dict) -> list[str]:
    """The suite's labels: the choices (in their order), then gold labels not among them."""
    labels: dict[str, str] = {}
    for choice in params.get("choices") or []:
        labels.setdefault(_key(choice), str(choice).strip())
    for item in items:
        if item.label is not None and str(item.label).strip():
            labels.setdefault(_key(item.label), str(item.label).strip())
    return list(labels.values())


def _compile(params: dict) -> Optional[re.Pattern]:
    pattern = params.get("regex")
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise WorkbenchError(f"The classification regex {pattern!r} is not a valid regular expression: "
                             f"{exc}.", details=str(exc)) from None


def extract_label(output: str, labels: list[str], regex: Optional[re.Pattern] = None) -> Optional[str]:
    """The label an output names: the regex's `label` group (else its first group, else the
    whole match), or the label that appears first as a whole word (the longest on a tie)."""
    by_key = {_key(label): label for label in labels}
    if regex is not None:
        match = regex.search(output)
        if match is None:
            return None
        if "label" in match.re.groupindex:
            found = match.group("label")
        else:
            found = match.group(1) if match.re.groups else match.group(0)
        return by_key.get(_key(found or ""))
    best: Optional[tuple[int, int, str]] = None
    for label in labels:
        hit = re.search(r"(?<!\w)" + re.escape(label) + r"(?!\w)", output, re.IGNORECASE)
        if hit and (best is None or (hit.start(), -len(label)) < (best[0], best[1])):
            best = (hit.start(), -len(label), label)
    return best[2] if best else None


def _gold_and_predicted(items: list[ItemInput], params: dict) -> tuple[list[str], list[Optional[str]], list[Optional[str]]]:
    labels = label_set(items, params)
    if items and not any(item.label is not None and str(item.label).strip() for item in items):
        raise WorkbenchError(
            f"Classification compares the label read from the output with each item's label, and "
            f"none of these {len(items)} items has a label.",
            advice="Build the suite with a label field (or label the items), or use another metric.")
    regex = _compile(params)
    by_key = {_key(label): label for label in labels}
    gold = [by_key[_key(i.label)] if i.label is not None and str(i.label).strip() else None for i in items]
    pred = [extract_label(i.prediction, labels, regex) if g is not None else None for i, g in zip(items, gold)]
    return labels, gold, pred


def _stats(items: list[ItemInput], params: dict) -> np.ndarray:
    labels, gold, pred = _gold_and_predicted(items, params)
    size = len(labels)
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(items), size * (size + 1) + 1))
    for row, (g, p) in enumerate(zip(gold, pred)):
        if g is not None:
            out[row, index[g] * (size + 1) + (index[p] if p is not None else size)] = 1.0
            out[row, -1] = 1.0
    return out


def _matrix(summed: np.ndarray) -> np.ndarray:
    size = int(round((math.sqrt(1 + 4 * (len(summed) - 1)) - 1) / 2))
    return summed[:-1].reshape(size, size + 1)


def _accuracy(summed: np.ndarray, n: int) -> float:
    if summed[-1] <= 0:
        return math.nan
    matrix = _matrix(summed)
    return float(np.trace(matrix[:, :-1]) / summed[-1])


def _macro_f1(summed: np.ndarray, n: int) -> float:
    """Macro-F1 over the labels that occur as gold or prediction, as scikit-learn's default."""
    if summed[-1] <= 0:
        return math.nan
    matrix = _matrix(summed)
    tp = np.diag(matrix[:, :-1])
    gold, predicted = matrix.sum(axis=1), matrix[:, :-1].sum(axis=0)
    present = (gold > 0) | (predicted > 0)
    f1 = 2 * tp[present] / (gold[present] + predicted[present])
    return float(f1.mean())


def _correct(row: np.ndarray) -> Optional[float]:
    if row[-1] <= 0:
        return None
    return float(np.trace(_matrix(row)[:, :-1]))


def classification_report(items: list[ItemInput], params: dict) -> dict:
    """Accuracy, per-class precision / recall / F1 / support, macro-F1 and the confusion matrix
    (rows gold, columns predicted, the last column an output that names no label)."""
    # Here, not at the top: scikit-learn takes seconds to import, and scoring's worker
    # processes (which import the registry) never need it.
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels, gold, pred = _gold_and_predicted(items, params)
    pairs = [(g, p if p is not None else NONE_LABEL) for g, p in zip(gold, pred) if g is not None]
    if not pairs:
        return {"labels": labels, "n": 0}
    y_true, y_pred = [g for g, _ in pairs], [p for _, p in pairs]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    present = [label for label in labels if label in set(y_true) | set(y_pred)]
    matrix = confusion_matrix(y_true, y_pred, labels=labels + [NONE_LABEL])[:len(labels)]
    return {
        "labels": labels,
        "columns": labels + [NONE_LABEL],
        "n": len(pairs),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_class": {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion": matrix.tolist(),
        "unparsed": sum(1 for p in y_pred if p == NONE_LABEL),
    }


_HOW = ('The label is read from the output: the "regex" parameter\'s label group, or the first '
        'of the "choices" (default: the gold labels) named in it.')

register(Metric("classification", "Accuracy", needs_references=False, higher_is_better=True, source="text",
                stats=_stats, value=_accuracy, item_score=_correct, details=classification_report,
                description="Classification accuracy against the item's label, with per-class "
                            "precision / recall / F1 and a confusion matrix. " + _HOW))
register(Metric("macro_f1", "Macro-F1", needs_references=False, higher_is_better=True, source="text",
                stats=_stats, value=_macro_f1, item_score=_correct, details=classification_report,
                description="The mean of the per-class F1 scores (per item: correct or not). " + _HOW))
