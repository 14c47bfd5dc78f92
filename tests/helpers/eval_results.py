"""Eval suites and eval runs with their item results written straight through the real store,
as the eval manager records them, for the tests of what is read from them (compare, ratings,
export, gate, cross-validation) without an eval child."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from workbench.core.eval_records import EvalItem, EvalModel, EvalRun, EvalSuite, GenerationSettings, ItemResult, MetricSpec


def stand_in_model(store) -> str:
    """The id of a base model record for eval runs that never load it."""
    for model in store.list_base_models():
        if model.name == "stand-in":
            return model.id
    return store.add_base_model("stand-in", "hf_folder", "/nonexistent/stand-in", "c" * 64).id


def make_suite(store, references: Sequence[Sequence[str]], metrics: Sequence[str] = ("exact_match",),
               name: str = "probe", labels: Optional[Sequence[Optional[str]]] = None,
               metric_params: Optional[dict[str, dict[str, Any]]] = None) -> EvalSuite:
    """A suite of one question per reference list (item ids q0, q1, ...)."""
    items = [EvalItem(id=f"q{i}", messages=[{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": f"Question {i}?"}],
                      references=list(refs), label=labels[i] if labels else None)
             for i, refs in enumerate(references)]
    specs = [MetricSpec(m, dict((metric_params or {}).get(m, {}))) for m in metrics]
    return store.add_suite(name, items, specs, GenerationSettings(), {"kind": "hand"})


def add_eval(store, suite: EvalSuite, outputs: Sequence[Optional[str]], model: Optional[EvalModel] = None,
             errors: Optional[dict[int, str]] = None, status: str = "completed", purpose: str = "manual",
             summary: Optional[dict[str, Any]] = None, scores: Optional[Sequence[dict[str, Optional[float]]]] = None,
             judge: Optional[Sequence[Optional[float]]] = None, ref_nll: Optional[Sequence[float]] = None,
             label: str = "") -> EvalRun:
    """An eval run of `suite` whose item i produced outputs[i] (None with errors[i]: it failed)."""
    model = model or EvalModel(base_model_id=stand_in_model(store), label=label or "base")
    run = store.add_eval_run(suite, model, work_dir=f"evals/{len(store.list_eval_runs())}", purpose=purpose)
    items = store.suite_items(suite.id)
    results = []
    for i, (item, output) in enumerate(zip(items, outputs)):
        error = (errors or {}).get(i)
        results.append(ItemResult(
            eval_run_id=run.id, item_id=item.id, idx=i, output=None if error else output, error=error,
            tokens=len((output or "").split()), finish_reason="stop" if not error else "",
            ref_nll=ref_nll[i] if ref_nll else None, ref_tokens=4 if ref_nll else None,
            judge_score=judge[i] if judge else None, judge_reason="looks right" if judge and judge[i] is not None else None,
            scores=dict(scores[i]) if scores else {}))
    store.put_item_results(run.id, results)
    store.update_eval_run(run.id, status=status, done_items=len(results), summary=summary or {},
                          failed_items=sum(1 for r in results if r.error))
    return store.get_eval_run(run.id)
