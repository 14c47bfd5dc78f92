"""`workbench eval run | compare | cv`: the eval verbs that start children and wait for them,
or compare what they measured (see cli_eval.py for the command lines)."""

from __future__ import annotations

import sys
import time
from typing import Any, Optional

from workbench import cli_eval_gate
from workbench.cli_eval import VerbParts, _eval_run_dict, _num, _open, _plain, _succeeded, _suite_dict
from workbench.core.errors import WorkbenchError


# -- run -------------------------------------------------------------------------------------------
def _eval_model(store, query: str):
    """M: a base model (name, id, built-in kind) or RUN[:best|final|N], checked against the
    adapters the Evaluate page offers (the manager fills in the label and step)."""
    from workbench.cli import _model
    from workbench.core.eval_records import EvalModel
    from workbench.services import eval_runs, lookup

    head, colon, which = query.rpartition(":")
    if not colon:
        head, which = query, ""
        try:
            return EvalModel(_model(store, query).id)
        except WorkbenchError as not_base:
            try:
                lookup.find_run(store, query)
            except WorkbenchError as not_run:
                raise WorkbenchError(f"No base model or run matches {query!r}.",
                                     advice=f"Base models: {not_base.advice} Runs: {not_run.advice} "
                                            "A run's checkpoint: RUN:best, RUN:final or RUN:N.") from None
    run = lookup.find_run(store, head)
    want = "final" if which in ("", "final") else (f"checkpoint-{int(which)}" if which.isdigit() else which)
    of_run = [c for c in eval_runs.model_choices(store) if c.run_id == run.id]
    if not any(c.checkpoint == want for c in of_run):
        known = ", ".join(c.label for c in of_run) or "none (it saved no adapter)"
        raise WorkbenchError(f"Run {run.name} has no {want} adapter to evaluate.",
                             advice=f"Its adapters: {known}. Give RUN:best, RUN:final or RUN:N.")
    return EvalModel(run.base_model_id, run.id, want)


class _Progress:
    """The manager's progress, on stderr each time its message changes (it reports every poll)."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, fraction: float, message: str) -> None:
        if message != self.last:
            self.last = message
            print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def run(args) -> dict[str, Any]:
    from workbench.cli import _model
    from workbench.core.progress import Cancelled
    from workbench.services import lookup
    from workbench.services.eval_runs import EvalManager

    store = _open(args)
    try:
        suite_record = lookup.find_suite(store, args.suite)
        models = [_eval_model(store, m) for m in args.model]
        judge_id = _model(store, args.judge).id if args.judge else None
        manager = EvalManager(store)
        started = []
        try:
            started = manager.start(suite_record.id, models, judge_model_id=judge_id)
            for r in started:
                print(f"eval {r.id[:8]}: {r.label} on {suite_record.title}", file=sys.stderr, flush=True)
            manager.wait([r.id for r in started], progress=_Progress())
        except (KeyboardInterrupt, Cancelled):
            # Ctrl+C: each eval run stops after its batch (wait() may have asked already: cancel
            # is idempotent); what they generated is kept.
            print("cancelling (each eval run stops after its batch)...", file=sys.stderr, flush=True)
            for r in started:
                manager.cancel(r.id)
            manager.shutdown(kill=True)
        finally:
            manager.shutdown()
        return {"suite": _suite_dict(store, suite_record),
                "eval_runs": [_eval_run_dict(store.get_eval_run(r.id)) for r in started]}
    finally:
        store.close()


def _summary_line(summary: dict[str, Any]) -> str:
    return "  ".join(f"{k} {_num(v)}" for k, v in summary.items()
                     if not k.startswith("_") and (v is None or isinstance(v, (int, float))))


def show_run(result: dict[str, Any]) -> None:
    for r in result["eval_runs"]:
        failed = f", {r['failed_items']} failed" if r["failed_items"] else ""
        print(f"{r['id'][:8]}  {r['status']:<10} {r['done_items']}/{r['total_items']} items{failed}  {r['label']}")
        if r["summary"]:
            print(f"          {_summary_line(r['summary'])}")
        if r.get("error"):
            print(f"          {r['error']}")
    if len(result["eval_runs"]) > 1:
        print("compare: workbench eval compare " + " ".join(r["id"][:8] for r in result["eval_runs"]))


def run_outcome(result: dict[str, Any]) -> tuple[int, str]:
    """Every eval run must complete; else the command failed (130 when cancelled)."""
    bad = [r for r in result["eval_runs"] if r["status"] != "completed"]
    if not bad:
        return 0, ""
    reasons = []
    for r in bad:
        line = f"{r['label']} ended {r['status']}" + (f": {r['error']}" if r.get("error") else "")
        if r.get("error_advice"):
            line += f"\n  what to do: {r['error_advice']}"
        reasons.append(line)
    return (130 if all(r["status"] == "cancelled" for r in bad) else 1), "\n".join(reasons)



# -- compare ---------------------------------------------------------------------------------------
def _estimate(est) -> Any:
    return None if est is None else {"value": est.value, "low": est.low, "high": est.high, "n": est.n}


def compare(args) -> dict[str, Any]:
    from itertools import combinations

    from workbench.services import eval_compare, lookup

    store = _open(args)
    try:
        ids = list(dict.fromkeys(lookup.find_eval_run(store, q).id for q in args.eval_runs))
        c = eval_compare.compare(store, ids)
        labels = {r.id: r.label or r.id[:8] for r in c.runs}
        return {
            "suite": _suite_dict(store, c.suite), "metrics": c.metrics, "level": 0.95,
            "eval_runs": [_eval_run_dict(r) for r in c.runs],
            "table": {rid: {m: _estimate(est) for m, est in row.items()} for rid, row in c.table.items()},
            "best": {m: c.best(m) for m in c.metrics},
            "pairs": [{"a": a, "b": b, "a_label": labels[a], "b_label": labels[b],
                       "tests": [_plain(t) for t in c.pairs(a, b)]} for a, b in combinations(ids, 2)],
            "failed": c.failed, "notes": c.notes,
            "items": [{"item_id": row.item.id, "differs": row.differs, "spread": row.spread,
                       "outputs": {rid: (None if res is None else res.output) for rid, res in row.results.items()},
                       "errors": {rid: res.error for rid, res in row.results.items() if res is not None and res.error},
                       "scores": row.scores} for row in c.items],
        }
    finally:
        store.close()


def _ci(est: Optional[dict[str, Any]]) -> str:
    if est is None or est["value"] is None:
        return "-"
    return f"{_num(est['value'])} [{_num(est['low'])}, {_num(est['high'])}]"


def show_compare(result: dict[str, Any]) -> None:
    runs = result["eval_runs"]
    width = max([26] + [len(r["label"]) + 2 for r in runs])
    print(f"{result['suite']['title']}: {result['suite']['item_count']} items; value [{int(result['level'] * 100)}% CI]"
          " (* best)")
    print(f"{'metric':<14}" + "".join(f"{r['label'] or r['id'][:8]:<{width}}" for r in runs))
    for m in result["metrics"]:
        cells = [("*" if result["best"].get(m) == r["id"] and len(runs) > 1 else "") + _ci(result["table"][r["id"]][m])
                 for r in runs]
        print(f"{m:<14}" + "".join(f"{cell:<{width}}" for cell in cells))
    for pair in result["pairs"]:
        print(f"{pair['b_label']} minus {pair['a_label']} (paired, same items):")
        for t in pair["tests"]:
            print(f"  {t['metric']:<12} {t['diff']:+.4f} [{t['low']:+.4f}, {t['high']:+.4f}]  p {t['p_value']:.3g}"
                  f"  n {t['n']}")
    for r in runs:
        if result["failed"].get(r["id"]):
            print(f"{r['label']}: {result['failed'][r['id']]} items failed (their error is in --json)")
    for note in result["notes"]:
        print(f"note: {note}")


# -- cross-validation ------------------------------------------------------------------------------
def cv(args) -> dict[str, Any]:
    from workbench.cli import TRAIN_FLAGS, _model
    from workbench.cli_eval import _metric_specs
    from workbench.core.eval_records import GenerationSettings
    from workbench.core.train_config import ConfigFile, TrainConfig, load_config_file
    from workbench.services import eval_cv, lookup
    from workbench.services.eval_runs import EvalManager
    from workbench.services.runs import RunManager

    store = _open(args)
    try:
        setup = load_config_file(args.config) if args.config else ConfigFile(TrainConfig())
        given = {attr: getattr(args, attr) for _flag, attr, _type in TRAIN_FLAGS if getattr(args, attr, None) is not None}
        config = setup.config.replace(**given)
        version = lookup.find_version(store, args.dataset)
        model = _model(store, args.model)
        metrics = _metric_specs(args)
        runs, evals = RunManager(store, run_queue=True), EvalManager(store)
        try:
            record = eval_cv.start_cv(store, runs, version.id, model.id, config, args.k, args.seed, metrics,
                                      GenerationSettings(max_new_tokens=args.max_new_tokens))
            print(f"cross-validation {record.id[:8]}: {args.k} folds queued", file=sys.stderr, flush=True)
            _wait_cv(store, runs, evals, record.id)
        finally:
            runs.shutdown()
            evals.shutdown()
        return _plain(eval_cv.cv_report(store, record.id))
    finally:
        store.close()


def _wait_cv(store, runs, evals, cv_id: str) -> None:
    """Train the folds through the queue and score each held-out fold, until the report has
    every fold; Ctrl+C stops the training runs and eval runs cooperatively."""
    from workbench.cli_runs import _progress_line
    from workbench.services import eval_cv

    try:
        while eval_cv.cv_report(store, cv_id).pending:
            for run_id, ev in runs.poll():
                _progress_line(store, run_id, ev)
            evals.poll()
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("stopping the folds (saving checkpoints)...", file=sys.stderr, flush=True)
        runs.shutdown(kill=True)
        evals.shutdown()


def show_cv(result: dict[str, Any]) -> None:
    cv_record = result["cv"]
    print(f"cross-validation {cv_record['name']} ({cv_record['id']}): k={cv_record['k']}, seed {cv_record['seed']}")
    for name, m in result["metrics"].items():
        spread = f" ± {_num(m['std'])}" if m["std"] is not None else ""
        folds = ", ".join(_num(v) for v in m["values"])
        print(f"  {name:<14} {_num(m['mean'])}{spread}   folds: {folds}")
    for f in result["folds"]:
        if f["state"] != "done":
            print(f"  fold {f['fold'] + 1} {f['state']}: {f['message']}")
    print(result["message"])


def cv_outcome(result: dict[str, Any]) -> tuple[int, str]:
    """Every fold must be scored, else the command failed (its reasons on stderr)."""
    if not result["failed"] and not result["pending"]:
        return 0, ""
    return 1, "\n".join(f"fold {f['fold'] + 1} {f['state']}: {f['message']}" for f in result["folds"]
                         if f["state"] != "done")


VERBS: dict[str, VerbParts] = {
    "run": (run, show_run, run_outcome),
    "compare": (compare, show_compare, _succeeded),
    "cv": (cv, show_cv, cv_outcome),
    **cli_eval_gate.VERBS,  # gate
}
