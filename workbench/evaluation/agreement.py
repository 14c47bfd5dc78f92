"""How far a judge agrees with people on the same items: Cohen's kappa for pass/fail, Spearman's
rank correlation for a 1-5 scale (with the quadratic-weighted kappa as well), and the confusion
between them (rows people, columns judge). scikit-learn and scipy compute the statistics."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Optional

from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import PASS_FAIL, RATING_SCALES

FEW_ITEMS = 20  # below this many items, an agreement figure is shaky: say so


@dataclass(frozen=True)
class Agreement:
    scale: str
    n: int
    statistic: str  # "cohen_kappa" | "spearman"
    value: Optional[float]  # None: not enough (or not varied enough) ratings to compute it
    labels: list[str]
    confusion: list[list[int]]  # rows people, columns judge
    also: dict[str, float] = field(default_factory=dict)  # weighted kappa, raw agreement %, p-value
    message: str = ""


def _kappa_words(k: float) -> str:
    # Landis & Koch (1977).
    if k < 0:
        return "poor agreement (worse than chance)"
    for bound, words in ((0.20, "slight"), (0.40, "fair"), (0.60, "moderate"), (0.80, "substantial")):
        if k <= bound:
            return f"{words} agreement"
    return "almost perfect agreement"


def _rho_words(rho: float) -> str:
    size = abs(rho)
    for bound, words in ((0.2, "very weak"), (0.4, "weak"), (0.6, "moderate"), (0.8, "strong")):
        if size < bound:
            break
    else:
        words = "very strong"
    return f"{words} {'positive' if rho >= 0 else 'negative'} correlation"


def _codes(values: list[float], scale: str, who: str) -> list[int]:
    allowed = (0, 1) if scale == PASS_FAIL else (1, 2, 3, 4, 5)
    codes = []
    for v in values:
        code = int(round(float(v)))
        if code not in allowed or abs(float(v) - code) > 1e-9:
            raise WorkbenchError(f"A {who} rating {v!r} is not on the {scale} scale.",
                                 advice="pass/fail ratings are 1 (pass) or 0 (fail); 1-5 ratings are 1 to 5.")
        codes.append(code)
    return codes


def _few(n: int) -> str:
    return f" Only {n} items: rate more for a firmer figure." if n < FEW_ITEMS else ""


def agreement(people: list[float], judge: list[float], scale: str) -> Agreement:
    """Agreement of the judge's scores with people's ratings of the same items (aligned lists)."""
    if scale not in RATING_SCALES:
        raise WorkbenchError(f"Unknown rating scale {scale!r}.", advice=f"Use one of: {', '.join(RATING_SCALES)}.")
    if len(people) != len(judge):
        raise WorkbenchError("People's ratings and the judge's scores must be of the same items.",
                             details=f"{len(people)} ratings, {len(judge)} judge scores")
    p, j = _codes(people, scale, "people's"), _codes(judge, scale, "judge's")
    n = len(p)
    passfail = scale == PASS_FAIL
    codes = [0, 1] if passfail else [1, 2, 3, 4, 5]
    labels = ["fail", "pass"] if passfail else [str(c) for c in codes]
    statistic = "cohen_kappa" if passfail else "spearman"
    confusion = confusion_matrix(p, j, labels=codes).tolist() if n else [[0] * len(codes) for _ in codes]
    if n < 2:
        return Agreement(scale, n, statistic, None, labels, confusion, {},
                         f"Agreement needs at least 2 items that people rated and the judge scored; there "
                         f"{'is' if n == 1 else 'are'} {n}.")
    also = {"agreement_pct": 100.0 * sum(a == b for a, b in zip(p, j)) / n}
    if not passfail:
        also["within_one_pct"] = 100.0 * sum(abs(a - b) <= 1 for a, b in zip(p, j)) / n
    if len(set(p)) < 2 or len(set(j)) < 2:
        who = "people" if len(set(p)) < 2 else "the judge"
        name = "kappa" if passfail else "Spearman's rho"
        return Agreement(scale, n, statistic, None, labels, confusion, also,
                         f"{who.capitalize()} gave every item the same rating, so {name} is undefined; "
                         f"they agree on {also['agreement_pct']:.0f}% of the {n} items.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if passfail:
            value = float(cohen_kappa_score(p, j, labels=codes))
            message = f"κ {value:.2f}: {_kappa_words(value)} (Landis & Koch) over {n} items"
        else:
            result = spearmanr(p, j)
            value = float(result.statistic)
            also["p_value"] = float(result.pvalue)
            also["weighted_kappa"] = float(cohen_kappa_score(p, j, labels=codes, weights="quadratic"))
            message = (f"Spearman ρ {value:.2f}: {_rho_words(value)} over {n} items "
                       f"(p {also['p_value']:.3g}; quadratic-weighted κ {also['weighted_kappa']:.2f})")
    if math.isnan(value):
        return Agreement(scale, n, statistic, None, labels, confusion, also,
                         f"The agreement statistic is undefined for these {n} ratings.")
    return Agreement(scale, n, statistic, value, labels, confusion, also,
                     f"{message}; same rating on {also['agreement_pct']:.0f}%.{_few(n)}")

