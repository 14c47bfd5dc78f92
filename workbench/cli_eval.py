"""`workbench eval ...`: evaluation without the GUI (the same services as the Evaluate page).

    eval suites --project P                          the project's suites (newest version of each)
    eval suite create --name N (--from-version V | --from-file ITEMS.jsonl) --project P
         [--metrics m1,m2] [--max-new-tokens N] [--limit N] [--judge MODEL --rubric TEXT --scale pass_fail|1-5]
    eval suite show S --project P                    a suite: metrics, settings, items, its eval runs
    eval run --suite S --model M [--model M2 ...] [--judge MODEL] --project P
         generates and scores (waits, progress on stderr; Ctrl+C cancels; exits 1 unless all complete)
    eval compare EVAL_RUN... --project P             metrics with 95% CIs, paired tests between each pair
    eval score PREDICTIONS.jsonl --references REFS.jsonl --metrics bleu,chrf,rouge_l,...   (no project)
    eval cv --project P --dataset V --model M --k K [--seed S] [--metrics ...] [train options]

S is a suite's id (or a prefix), its name (the newest version) or "NAME vN". M is a base model's
name, id or built-in kind (tiny, smollm2), or a run's name or id with an adapter: RUN (its final
adapter), RUN:best, RUN:final or RUN:N (checkpoint N). Every verb prints text, or JSON with --json.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable, Optional

from workbench.cli_data import _plain
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import PASS_FAIL, RATING_SCALES, GenerationSettings, MetricSpec

DEFAULT_METRICS = "exact_match,token_f1,rouge_l,bleu,chrf,length"


def add_eval_parser(sub: Any, project: Callable[..., None]) -> None:
    from workbench.cli import TRAIN_FLAGS

    e = sub.add_parser("eval", help="evaluation: suites, eval runs, comparisons, scoring files")
    verbs = e.add_subparsers(dest="eval_verb", required=True)
    project(verbs.add_parser("suites", help="list the project's eval suites"))
    s = verbs.add_parser("suite", help="create or show an eval suite")
    suite = s.add_subparsers(dest="suite_verb", required=True)
    c = suite.add_parser("create", help="a suite from a dataset version or a JSONL file of items")
    project(c)
    c.add_argument("--name", required=True)
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-version", metavar="V", help="a dataset version (name or id; a split's test part)")
    source.add_argument("--from-file", metavar="ITEMS.jsonl",
                        help='one item a line: {"messages": [...] or "prompt": ..., "references": [...], "label": ...}')
    _metrics_option(c, DEFAULT_METRICS)
    c.add_argument("--max-new-tokens", type=int, default=GenerationSettings().max_new_tokens)
    c.add_argument("--limit", type=int, help="take only the first N items")
    c.add_argument("--label-field", metavar="FIELD", help="with --from-version: each row's field holding its class label")
    c.add_argument("--judge", metavar="MODEL", help="add the judge metric: a local model grades each output")
    c.add_argument("--rubric", help="what the judge checks (default: the built-in rubric)")
    c.add_argument("--scale", choices=RATING_SCALES, default=PASS_FAIL)
    sh = suite.add_parser("show", help="a suite: its metrics, settings, items and eval runs")
    project(sh)
    sh.add_argument("suite", help="suite name, 'NAME vN' or id")
    sh.add_argument("--items", type=int, default=5, help="how many items to print (all with --json)")
    r = verbs.add_parser("run", help="evaluate models on a suite (waits; Ctrl+C cancels)")
    project(r)
    r.add_argument("--suite", required=True, help="suite name, 'NAME vN' or id")
    r.add_argument("--model", action="append", required=True, metavar="M",
                   help="a base model (name, id, tiny, smollm2) or RUN[:best|final|N]; repeat for side by side")
    r.add_argument("--judge", metavar="MODEL", help="the judge model, instead of the one the suite names")
    cmp = verbs.add_parser("compare", help="eval runs side by side: 95%% CIs and paired tests")
    project(cmp)
    cmp.add_argument("eval_runs", nargs="+", metavar="EVAL_RUN", help="eval run ids (or prefixes)")
    sc = verbs.add_parser("score", help="score predictions made anywhere against references (no project)")
    sc.add_argument("predictions", metavar="PREDICTIONS.jsonl", help='{"id", "prediction"} (or "output") a line')
    sc.add_argument("--references", metavar="REFS.jsonl",
                    help='{"id", "reference"} (or "references": [...]) a line; matched by id, else by position '
                         "(leave it out when each prediction line carries its references)")
    _metrics_option(sc, None, required=True)
    sc.add_argument("--json", action="store_true", help="print the result as JSON")
    cv = verbs.add_parser("cv", help="k-fold cross-validation: k adapters through the queue (waits)")
    project(cv)
    cv.add_argument("--dataset", required=True, help="dataset name or version id")
    cv.add_argument("--model", required=True, help="base model: built-in kind, name or id")
    cv.add_argument("--k", type=int, default=5, help="how many folds (default 5)")
    cv.add_argument("--seed", type=int, default=0, help="the folds' seed, and each fold's training seed")
    _metrics_option(cv, DEFAULT_METRICS)
    cv.add_argument("--max-new-tokens", type=int, default=GenerationSettings().max_new_tokens)
    cv.add_argument("--config", metavar="FILE", help="a run setup file; the flags below override it")
    for flag, attr, typ in TRAIN_FLAGS:
        if attr != "seed":
            cv.add_argument(flag, type=typ, dest=attr, default=None)
    from workbench.cli_eval_gate import add_gate_parser

    add_gate_parser(verbs, project)


def _metrics_option(p: argparse.ArgumentParser, default: Optional[str], required: bool = False) -> None:
    p.add_argument("--metrics", default=default, required=required,
                   help=f"comma-separated metric names{f' (default {default})' if default else ''}")
    p.add_argument("--param", action="append", default=[], metavar="METRIC.KEY=VALUE",
                   help="a metric's parameter, e.g. regex.pattern='^\\d+$' or classification.choices='[\"a\",\"b\"]'")


def _metric_specs(args) -> list[MetricSpec]:
    from workbench.services.eval_scoring import parse_metrics

    params: dict[str, dict[str, Any]] = {}
    for text in args.param:
        key, eq, raw = text.partition("=")
        metric, dot, name = key.partition(".")
        if not (eq and dot and metric.strip() and name.strip()):
            raise WorkbenchError(f"--param {text!r} is not METRIC.KEY=VALUE.",
                                 advice="For example --param regex.pattern=^yes.")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw  # a bare word or pattern
        params.setdefault(metric.strip(), {})[name.strip()] = value
    return parse_metrics((args.metrics or "").split(","), params)


def _open(args):
    from workbench.cli import _open as open_project

    return open_project(args.project)


def _eval_run_dict(r) -> dict[str, Any]:
    d = _plain(r)
    d["label"] = r.label
    return d


# -- score -----------------------------------------------------------------------------------------
def score(args) -> dict[str, Any]:
    from workbench.services.eval_scoring import score_files

    return _plain(score_files(args.predictions, args.references, _metric_specs(args)))


def _num(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


def show_score(result: dict[str, Any]) -> None:
    against = f" against {result['references_path']}" if result["references_path"] else ""
    print(f"{result['items']} items: {result['predictions_path']}{against}")
    print(f"{'metric':<14} {'value':>10}  {int(result['level'] * 100)}% CI")
    for s in result["scores"]:
        ci = f"[{_num(s['low'])}, {_num(s['high'])}]" if s["low"] is not None else "-"
        print(f"{s['metric']:<14} {_num(s['value']):>10}  {ci}")
    for note in result["notes"]:
        print(f"note: {note}")


# -- suites ----------------------------------------------------------------------------------------
def _suite_dict(store, suite, items: Optional[int] = None) -> dict[str, Any]:
    from workbench.services import eval_suites

    d = _plain(suite)
    d["title"] = suite.title
    d["references_note"] = eval_suites.references_note(suite)
    if items is not None:
        all_items = store.suite_items(suite.id)
        d["items"] = [_plain(i) for i in (all_items if items < 0 else all_items[:items])]
        d["eval_runs"] = [_eval_run_dict(r) for r in store.list_eval_runs(suite_id=suite.id)]
    return d


def suites(args) -> list[dict[str, Any]]:
    store = _open(args)
    try:
        return [_suite_dict(store, s) for s in store.list_suites()]
    finally:
        store.close()


def _judge_spec(store, args) -> Optional[MetricSpec]:
    if not args.judge:
        if args.rubric:
            raise WorkbenchError("--rubric is the judge's: it needs --judge MODEL.",
                                 advice="Add --judge tiny (or another model), or drop --rubric.")
        return None
    from workbench.cli import _model

    params: dict[str, Any] = {"model_id": _model(store, args.judge).id, "scale": args.scale}
    if args.rubric:
        params["rubric"] = args.rubric
    return MetricSpec("judge", params)


def suite(args) -> dict[str, Any]:
    from workbench.services import eval_suites, lookup

    store = _open(args)
    try:
        if args.suite_verb == "show":
            return _suite_dict(store, lookup.find_suite(store, args.suite), items=-1 if args.json else args.items)
        metrics = _metric_specs(args)
        judge = _judge_spec(store, args)
        metrics += [judge] if judge else []
        generation = GenerationSettings(max_new_tokens=args.max_new_tokens)
        if args.from_version:
            version = lookup.find_version(store, args.from_version)
            made = eval_suites.suite_from_version(store, version.id, args.name, metrics, generation,
                                                  limit=args.limit, label_field=args.label_field)
        else:
            if args.limit is not None or args.label_field:
                raise WorkbenchError("--limit and --label-field are for --from-version.",
                                     advice="With --from-file, write the items you want, each with its own label.")
            made = eval_suites.suite_from_file(store, args.from_file, metrics, name=args.name, generation=generation)
        return _suite_dict(store, made, items=-1 if args.json else 3)
    finally:
        store.close()


def show_suites(result: list[dict[str, Any]]) -> None:
    if not result:
        print("no eval suites (workbench eval suite create --name N --from-version V)")
    for s in result:
        metrics = ",".join(m["name"] for m in s["metrics"])
        print(f"{s['id'][:8]}  {s['title']:<24} {s['item_count']:>5} items  {s['source'].get('kind', '')}  {metrics}")


def show_suite(result: dict[str, Any]) -> None:
    g = result["generation"]
    print(f"{result['title']} ({result['id']}): {result['item_count']} items from {result['source'].get('kind')}")
    print(f"  metrics: {', '.join(m['name'] for m in result['metrics'])}")
    print(f"  generation: max {g['max_new_tokens']} new tokens, "
          + ("greedy" if g["temperature"] <= 0 else f"temperature {g['temperature']}, seed {g['seed']}"))
    if result.get("references_note"):
        print(f"  note: {result['references_note']}")
    for item in result.get("items", []):
        prompt = " | ".join(str(m.get("content", "")) for m in item["messages"] if m.get("role") != "system")
        ref = item["references"][0] if item["references"] else "(no reference)"
        print(f"  - {item['id']}: {_clip(prompt)} -> {_clip(ref)}")
    if result["item_count"] > len(result.get("items", [])):
        print(f"  ... {result['item_count'] - len(result.get('items', []))} more (--items N, or --json for all)")
    for r in result.get("eval_runs", []):
        print(f"  eval {r['id'][:8]}  {r['status']:<10} {r['label']}")


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


# -- dispatch ----------------------------------------------------------------------------------
def _succeeded(_result: Any) -> tuple[int, str]:
    return 0, ""


# `eval SUBVERB`: (run, show, outcome), registered in cli.VERBS as "eval SUBVERB" (with
# cli_eval_runs.VERBS: run, compare, cv).
VerbParts = tuple[Callable[[argparse.Namespace], Any], Callable[[Any], None], Callable[[Any], tuple[int, str]]]
VERBS: dict[str, VerbParts] = {
    "suites": (suites, show_suites, _succeeded),
    "suite": (suite, show_suite, _succeeded),
    "score": (score, show_score, _succeeded),
}
