"""People's ratings of eval outputs, and how far the local judge agrees with them.

A rating is pass/fail (1 pass, 0 fail) or 1-5, with a comment and the rater's name; a newer
rating by the same person of the same item supersedes the older (the store keeps both).
Agreement pairs each item people rated and the judge judged: Cohen's kappa for pass/fail,
Spearman for the 1-5 scale (workbench.evaluation.agreement), over all raters (their mean to the
nearest point; for pass/fail the majority, a tie left out) or one rater.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any, Optional

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import PASS_FAIL, RATING_SCALES, EvalRun, EvalSuite, Rating
from workbench.store import ProjectStore

if TYPE_CHECKING:
    from workbench.evaluation.agreement import Agreement


def _value(value: Any, scale: str) -> float:
    if scale not in RATING_SCALES:
        raise WorkbenchError(f"Unknown rating scale {scale!r}.", advice=f"Use one of: {', '.join(RATING_SCALES)}.")
    if isinstance(value, str) and scale == PASS_FAIL and value.strip().lower() in ("pass", "fail"):
        return 1.0 if value.strip().lower() == "pass" else 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    allowed = (0.0, 1.0) if scale == PASS_FAIL else (1.0, 2.0, 3.0, 4.0, 5.0)
    if number not in allowed:
        shown = "pass (1) or fail (0)" if scale == PASS_FAIL else "a whole number from 1 to 5"
        raise WorkbenchError(f"A {scale} rating is {shown}, not {value!r}.")
    return number


def judge_scale(suite: EvalSuite) -> Optional[str]:
    """The scale the suite's judge rates on (None: the suite has no judge)."""
    for m in suite.metrics:
        if m.name == "judge":
            scale = m.params.get("scale") or PASS_FAIL
            return scale if scale in RATING_SCALES else PASS_FAIL
    return None


def rate(store: ProjectStore, eval_run_id: str, item_id: str, value: Any, scale: str, comment: str = "",
         rater: Optional[str] = None) -> Rating:
    """Record a person's rating of one item's output (`rater`: the project user by default)."""
    number = _value(value, scale)
    run = store.get_eval_run(eval_run_id)
    result = store.item_result(eval_run_id, item_id)
    if result is None:
        known = {it.id for it in store.suite_items(run.suite_id)}
        if item_id not in known:
            raise WorkbenchError(f"The suite of eval run {run.label or run.id[:8]} has no item {item_id!r}.",
                                 advice="Rate an item shown in the per-item view.")
        raise WorkbenchError(f"Item {item_id!r} has no output in eval run {run.label or run.id[:8]} yet.",
                             advice="Rate it once the eval run has generated it.")
    if result.output is None:
        raise WorkbenchError(f"Item {item_id!r} has no output to rate: it failed ({result.error}).",
                             advice="Rate the items that have an output.")
    rater = (rater or "").strip() or None
    return store.add_rating(eval_run_id, item_id, scale, number, comment.strip(), rater=rater)


def ratings(store: ProjectStore, eval_run_id: str) -> list[Rating]:
    """The latest rating of each (rater, item) of the eval run."""
    return store.ratings(eval_run_id)


def raters(store: ProjectStore, eval_run_id: str) -> list[str]:
    return sorted({r.rater for r in store.ratings(eval_run_id)})


def _people(rates: list[Rating], scale: str) -> tuple[dict[str, float], int]:
    """item id -> the people's value (1-5: their mean to the nearest point, half up; pass/fail:
    the majority) and how many items a pass/fail tie left out."""
    by_item: dict[str, list[float]] = {}
    for r in rates:
        by_item.setdefault(r.item_id, []).append(r.value)
    out, ties = {}, 0
    for item_id, values in by_item.items():
        mean = sum(values) / len(values)
        if scale == PASS_FAIL and mean == 0.5:
            ties += 1
            continue
        out[item_id] = float(math.floor(mean + 0.5))  # a point of the scale (kappa's confusion needs one)
    return out, ties


def judge_agreement(store: ProjectStore, eval_run_id: str, rater: Optional[str] = None) -> "Agreement":
    """The judge against people on the items both rated, on the judge's scale (`rater`: one
    person's ratings only; None: every rater's, pooled per item)."""
    from workbench.evaluation.agreement import agreement

    run: EvalRun = store.get_eval_run(eval_run_id)
    suite = store.get_suite(run.suite_id)
    scale = judge_scale(suite)
    if scale is None:
        raise WorkbenchError(f"Suite {suite.title} has no judge metric, so there is no judge to agree with people.",
                             advice="Add the judge metric to the suite (a new version) and run it again.")
    all_rates = [r for r in store.ratings(eval_run_id) if rater is None or r.rater == rater]
    other_scale = sum(1 for r in all_rates if r.scale != scale)
    people, ties = _people([r for r in all_rates if r.scale == scale], scale)
    judged = {res.item_id: res.judge_score for res in store.item_results(eval_run_id)
              if res.judge_score is not None and res.judge_error is None}
    both = [item_id for item_id in people if item_id in judged]
    result = agreement([people[i] for i in both], [float(judged[i]) for i in both], scale)
    left_out = []
    if other_scale:
        left_out.append(f"{other_scale} rating(s) on another scale than the judge's ({scale})")
    if ties:
        left_out.append(f"{ties} item(s) the raters split evenly on")
    unjudged = sum(1 for i in people if i not in judged)
    if unjudged:
        left_out.append(f"{unjudged} rated item(s) the judge gave no verdict on")
    if left_out:
        result = dataclasses.replace(result, message=f"{result.message} Left out: {'; '.join(left_out)}.")
    return result


def agreement_by_rater(store: ProjectStore, eval_run_id: str) -> dict[str, "Agreement"]:
    """Each rater's agreement with the judge."""
    return {name: judge_agreement(store, eval_run_id, rater=name) for name in raters(store, eval_run_id)}

