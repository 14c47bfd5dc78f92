"""`workbench data ...`: dataset verbs without the GUI (the same services as the Datasets page).

    workbench data import FILE --project P [--name N] [--format F] [--skip-invalid]
    workbench data list --project P
    workbench data show VERSION --project P [--rows 3] [--tokenizer MODEL] [--max-length N]
    workbench data clean VERSION --project P --op OP [--param KEY=VALUE ...] [--dry-run]
    workbench data split VERSION --project P [--ratios 0.8,0.1,0.1 | --counts VAL,TEST] [--seed S] [--stratify KEY]
    workbench data leakage VERSION|SPLIT_ID --project P [--threshold 0.8]
    workbench data render VERSION ROW --project P --tokenizer MODEL [--max-length N]
    workbench data export VERSION PATH --project P [--format jsonl|parquet] [--style openai|alpaca]

VERSION is a version id (or a unique prefix of one) or a dataset name (its newest version).
Every verb prints text, or JSON with --json; errors print a message and advice, exit 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Any, Callable

from workbench.core.errors import WorkbenchError


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr, flush=True)


def _plain(value: Any) -> Any:
    """A record as JSON-ready data (dataclasses as dicts, tuples as lists, NaN as null: JSON
    has no NaN, e.g. a metric no item could be scored on)."""
    if isinstance(value, float) and value != value:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _version(store, query: str):
    from workbench.services import lookup

    versions = store.list_versions()
    prefixed = [v for v in versions if v.id.startswith(query)]
    if len(prefixed) == 1:
        return prefixed[0]
    return lookup.find_version(store, query)


def _param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise WorkbenchError(f"--param {text!r} is not KEY=VALUE.", advice="For example --param threshold=0.7.")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw  # a bare word or path
    return key.strip(), value


def _ints_or_floats(text: str, cast) -> dict[str, Any]:
    parts = [p.strip() for p in text.split(",")]
    names = ("train", "validation", "test") if len(parts) == 3 else ("validation", "test")
    if len(parts) not in (2, 3):
        raise WorkbenchError(f"{text!r} needs 2 or 3 comma-separated numbers.",
                             advice="Ratios: train,validation,test (0.8,0.1,0.1); counts: validation,test (100,100).")
    try:
        return dict(zip(names, (cast(p) for p in parts)))
    except ValueError:
        raise WorkbenchError(f"{text!r} is not a list of numbers.", advice="For example 0.8,0.1,0.1.") from None


def _d_import(store, args) -> dict[str, Any]:
    from workbench.services import datasets

    v = datasets.import_dataset(store, args.file, name=args.name, format=args.format,
                                on_invalid="skip" if args.skip_invalid else "abort", progress=_progress)
    return {"version": _plain(v), "dataset": store.dataset_name(v.dataset_id),
            "not_kept": [u.message() for u in datasets.unused_fields(v)]}


def _d_list(store, args) -> dict[str, Any]:
    from workbench.services import dataset_ops

    titles = dataset_ops.version_titles(store)
    return {"datasets": [
        {"id": d.dataset.id, "name": d.dataset.name,
         "versions": [{"depth": e.depth, "how": e.how, "title": titles[e.version.id], **_plain(e.version)}
                      for e in d.entries]}
        for d in dataset_ops.lineage(store)
    ]}


def _d_show(store, args) -> dict[str, Any]:
    from workbench.services import dataset_ops, datasets

    v = _version(store, args.version)
    stats = dataset_ops.version_stats(store, v.id, tokenizer=args.tokenizer, max_length=args.max_length)
    rows = datasets.read_rows(store, v.id, 0, args.rows)
    return {"version": _plain(v), "dataset": store.dataset_name(v.dataset_id), "title": dataset_ops.title_of(store, v),
            "how": dataset_ops.describe(v), "stats": _plain(stats), "rows": rows}


def _d_clean(store, args) -> dict[str, Any]:
    from workbench.services import dataset_ops

    v = _version(store, args.version)
    params = dict(_param(p) for p in args.param)
    for flag in ("threshold", "min_length", "max_length", "tokenizer"):
        if getattr(args, flag) is not None:
            params[flag] = getattr(args, flag)
    if args.dry_run:
        report = dataset_ops.preview_clean(store, v.id, args.op, params, max_examples=args.examples,
                                           progress=_progress)
        return {"dry_run": True, "version_id": v.id, "report": _plain(report)}
    new = dataset_ops.apply_clean(store, v.id, args.op, params, progress=_progress)
    return {"dry_run": False, "version_id": v.id, "new_version": _plain(new)}


def _d_split(store, args) -> dict[str, Any]:
    from workbench.services import dataset_ops

    v = _version(store, args.version)
    ratios = _ints_or_floats(args.ratios, float) if args.ratios else None
    counts = _ints_or_floats(args.counts, int) if args.counts else None
    made = dataset_ops.make_split(store, v.id, ratios=ratios, counts=counts, seed=args.seed,
                                  stratify_by=args.stratify, progress=_progress)
    out: dict[str, Any] = {"version_id": v.id, "split_id": made["train"].derivation.split_id,
                           "splits": {k: _plain(x) for k, x in made.items()}}
    if args.leakage:
        out["leakage"] = _plain(dataset_ops.leakage_report(store, {k: x.id for k, x in made.items()},
                                                           threshold=args.threshold))
    return out


def _d_leakage(store, args) -> dict[str, Any]:
    from workbench.services import dataset_ops

    ref = args.split
    matches = [x for x in store.list_versions() if x.id.startswith(ref)]
    if len(matches) == 1:
        ref = matches[0].id
    return {"leakage": _plain(dataset_ops.leakage_report(store, ref, threshold=args.threshold, progress=_progress))}


def _d_render(store, args) -> dict[str, Any]:
    from workbench.services import dataset_ops

    v = _version(store, args.version)
    return {"rendered": _plain(dataset_ops.render_row(store, v.id, args.row, args.tokenizer,
                                                      max_length=args.max_length))}


def _d_export(store, args) -> dict[str, Any]:
    from workbench.services import dataset_ops

    v = _version(store, args.version)
    fmt = args.format or ("parquet" if args.path.lower().endswith(".parquet") else "jsonl")
    style = args.style or ("trl" if v.kind == "preference" else "openai")
    return {"export": _plain(dataset_ops.export_version(store, v.id, args.path, fmt, style, progress=_progress))}


def add_data_parser(sub, project) -> None:
    """Register `data` and its verbs on the main parser's subparsers (`project` adds --project/--json)."""
    d = sub.add_parser("data", help="import, inspect, clean, split and export datasets")
    dsub = d.add_subparsers(dest="data_verb", required=True)
    i = dsub.add_parser("import", help="import a dataset file (creates the project if needed)")
    project(i)
    i.add_argument("file")
    i.add_argument("--name")
    i.add_argument("--format", help="override detection: openai_messages, sharegpt, alpaca, prompt_completion, text, "
                   "sharegpt_preference, prompt_preference (pairs: a preference version)")
    i.add_argument("--skip-invalid", action="store_true", help="import valid rows, list the others")
    project(dsub.add_parser("list", help="datasets and their versions, with lineage"))
    s = dsub.add_parser("show", help="a version's metadata, statistics and first rows")
    project(s)
    s.add_argument("version")
    s.add_argument("--rows", type=int, default=3)
    s.add_argument("--tokenizer", help="model folder or base model, for token lengths")
    s.add_argument("--max-length", type=int, help="count rows longer than this many tokens")
    c = dsub.add_parser("clean", help="remove duplicates, empty or over-long rows, scrub personal data")
    project(c)
    c.add_argument("version")
    c.add_argument("--op", required=True, choices=["exact_dedup", "near_dedup", "empty", "length", "pii"])
    c.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                   help="an operation parameter (JSON value or text), repeatable")
    c.add_argument("--threshold", type=float, help="near_dedup similarity (0-1)")
    c.add_argument("--min-length", type=int, dest="min_length")
    c.add_argument("--max-length", type=int, dest="max_length")
    c.add_argument("--tokenizer", help="length: model folder or base model (default: characters)")
    c.add_argument("--dry-run", action="store_true", help="preview: show what would change, write nothing")
    c.add_argument("--examples", type=int, default=5, help="rows to show in a preview")
    sp = dsub.add_parser("split", help="a seeded, frozen train/validation/test split")
    project(sp)
    sp.add_argument("version")
    sp.add_argument("--ratios", help="train,validation,test (default 0.8,0.1,0.1)")
    sp.add_argument("--counts", help="validation,test (train gets the rest) or train,validation,test")
    sp.add_argument("--seed", type=int, default=42)
    sp.add_argument("--stratify", help="a field of the source records to stratify by")
    sp.add_argument("--leakage", action="store_true", help="also check duplicates across the splits")
    sp.add_argument("--threshold", type=float, default=0.8, help="near-duplicate threshold for --leakage")
    lk = dsub.add_parser("leakage", help="exact and near duplicates across a split's parts")
    project(lk)
    lk.add_argument("split", help="a split version's id (or prefix) or a split id")
    lk.add_argument("--threshold", type=float, default=0.8)
    r = dsub.add_parser("render", help="one row as the model sees it (chat template, trained tokens)")
    project(r)
    r.add_argument("version")
    r.add_argument("row", type=int)
    r.add_argument("--tokenizer", required=True, help="model folder or base model")
    r.add_argument("--max-length", type=int)
    e = dsub.add_parser("export", help="write a version as JSONL or Parquet")
    project(e)
    e.add_argument("version")
    e.add_argument("path")
    e.add_argument("--format", choices=["jsonl", "parquet"], help="default: from the file name")
    e.add_argument("--style", choices=["openai", "alpaca", "trl", "trl_text", "sharegpt_pairs"], default=None,
                   help="openai (default; a preference version: trl), alpaca; preference pairs: trl (prompt/chosen/"
                   "rejected messages), trl_text (as text), sharegpt_pairs (conversations + chosen + rejected)")


def run(args) -> dict[str, Any]:
    from workbench.services.projects import create_project, open_project

    if args.data_verb == "import" and not os.path.exists(os.path.join(args.project, "project.sqlite")):
        store = create_project(args.project)
    else:
        store = open_project(args.project)
    try:
        return {"command": args.data_verb, **VERBS[args.data_verb].run(store, args)}
    finally:
        store.close()


# -- human-readable output -------------------------------------------------------------------
def _hist_line(h: dict[str, Any], unit: str) -> str:
    return (f"{unit}: min {h['min']:g}, median {h['median']:g}, mean {h['mean']:g}, p95 {h['p95']:g}, "
            f"max {h['max']:g}")


def _version_line(v: dict[str, Any]) -> str:
    unit = "preference pairs" if v.get("kind") == "preference" else "rows"
    return f"{v['id'][:8]}  {v['row_count']:>7,} {unit}  {v['created_at'][:16]}"


def _messages_text(messages: list[dict[str, str]], width: int = 100) -> list[str]:
    out = []
    for m in messages:
        text = " ".join(m["content"].split())
        out.append(f"    {m['role']:>9}: {text[:width]}{'…' if len(text) > width else ''}")
    return out


def _changes_text(before: list[dict[str, str]], after: list[dict[str, str]], context: int = 30) -> list[str]:
    """Each changed message as `role: …context [before -> after] context…`."""
    if len(before) != len(after):
        return ["    before:"] + _messages_text(before) + ["    after:"] + _messages_text(after)
    out = []
    for b, a in zip(before, after):
        x, y = b["content"], a["content"]
        if x == y:
            continue
        start = 0
        while start < min(len(x), len(y)) and x[start] == y[start]:
            start += 1
        end = 0
        while end < min(len(x), len(y)) - start and x[len(x) - 1 - end] == y[len(y) - 1 - end]:
            end += 1
        head = x[max(0, start - context):start]
        tail = x[len(x) - end:len(x) - end + context]
        out.append(f"    {b['role']:>9}: …{head}[{x[start:len(x) - end]} -> {y[start:len(y) - end]}]{tail}…")
    return out


def _show_import(result: dict[str, Any]) -> list[str]:
    v = result["version"]
    lines = [f"imported {result['dataset']}: {_version_line(v)} ({v['format']}), id {v['id']}"]
    if v["options"].get("skipped_rows"):
        lines.append(f"  skipped {v['options']['skipped_rows']} invalid rows")
    lines += [f"  not kept: {line}" for line in result.get("not_kept", [])]
    return lines


def _show_list(result: dict[str, Any]) -> list[str]:
    lines = []
    for d in result["datasets"]:
        lines.append(f"{d['name']}  ({d['id'][:8]})")
        for v in d["versions"]:
            lines.append(f"  {'  ' * v['depth']}{v['id'][:8]}  {v['title']}  ({v['how']}; {v['created_at'][:16]})")
    if not result["datasets"]:
        lines.append("no datasets yet: workbench data import FILE --project P")
    return lines


def _show_show(result: dict[str, Any]) -> list[str]:
    v, st = result["version"], result["stats"]
    kind = "  preference pairs (prompt + chosen in the messages, then the rejected reply)" \
        if v.get("kind") == "preference" else "  conversations (SFT)"
    lines = [f"{result['title']}  (version {v['id']})", f"  {result['how']}", kind,
             f"  rows {st['row_count']:,}, messages {st['message_count']:,}, content hash {v['content_hash'][:16]}",
             f"  parent {v['parent_id'] or '-'}",
             "  turns per row: " + ", ".join(f"{k}: {n}" for k, n in st["turns"].items()),
             "  roles: " + ", ".join(f"{k}: {n}" for k, n in st["roles"].items()),
             "  " + _hist_line(st["chars"], "chars per row")]
    if st["tokens"]:
        lines.append("  " + _hist_line(st["tokens"], f"tokens per row ({st['token_measure']})"))
    if st["truncated_rows"] is not None:
        lines.append(f"  rows longer than {st['max_length']} tokens (truncated in training): {st['truncated_rows']}")
    if st["empty_messages"] or st["rows_without_assistant"]:
        lines.append(f"  empty messages {st['empty_messages']}, rows without an assistant reply "
                     f"{st['rows_without_assistant']}")
    for row in result["rows"]:
        lines.append(f"  row {row['index']} (source row {row['source_row']}):")
        lines += _messages_text(row["messages"])
        if row.get("rejected") is not None:  # a preference pair: the messages end with the chosen reply
            lines.append("    rejected:")
            lines += _messages_text(row["rejected"])
    return lines


def _show_clean(result: dict[str, Any]) -> list[str]:
    if not result["dry_run"]:
        v = result["new_version"]
        c = v["options"]["counts"]
        return [f"new version {v['id']}: {v['row_count']:,} rows "
                f"({c['removed']} removed, {c['changed']} changed), parent {result['version_id'][:8]}"]
    r = result["report"]
    lines = [f"{r['op']} (preview, nothing written): " + ", ".join(f"{k} {v}" for k, v in r["counts"].items())]
    for ex in r["examples"]:
        extra = "".join(f", {k} {ex[k]}" for k in ("duplicate_of", "similarity", "length") if ex[k] is not None)
        lines.append(f"  row {ex['index']}: {ex['action']} ({ex['reason']}{extra})")
        if ex["action"] == "change":
            lines += _changes_text(ex["before"], ex["after"])
    if r["examples_truncated"]:
        lines.append(f"  … and more ({len(r['removed'])} removed, {len(r['changed'])} changed in all)")
    return lines


def _show_split(result: dict[str, Any]) -> list[str]:
    lines = [f"split {result['split_id']} of {result['version_id'][:8]}:"]
    for name, v in result["splits"].items():
        lines.append(f"  {name:<10} {v['row_count']:>7,} rows  id {v['id']}")
    return lines + (_show_leakage(result) if "leakage" in result else [])


def _show_leakage(result: dict[str, Any]) -> list[str]:
    lk = result["leakage"]
    lines = [f"leakage: {lk['exact_pairs']} exact and {lk['near_pairs']} near-duplicate pairs across splits "
             f"(threshold {lk['threshold']})"]
    for p in lk["pairs"][:20]:
        lines.append(f"  {p['kind']:<5} {p['split_a']} row {p['row_a']} ~ {p['split_b']} row {p['row_b']} "
                     f"({p['similarity']:.2f})")
    return lines


def _show_render(result: dict[str, Any]) -> list[str]:
    r = result["rendered"]
    lines = [f"row {r['index']}: {r['token_count']} tokens, {r['trained_token_count']} trained on"
             + (f", truncated at {r['max_length']}" if r["truncated"] else "")]
    for span in r["spans"]:
        text = r["text"][span["start"]:span["end"]]
        lines.append(("[TRAINED]" if span["trained"] else "[context]") + f" {text!r}")
    return lines


def _show_export(result: dict[str, Any]) -> list[str]:
    e = result["export"]
    return [f"exported {e['rows']:,} rows to {e['path']} ({e['format']}, {e['style']})"
            + (f"; skipped {e['skipped']} rows with no assistant reply" if e["skipped"] else "")]


@dataclasses.dataclass(frozen=True)
class DataVerb:
    run: Callable[[Any, argparse.Namespace], dict[str, Any]]
    show: Callable[[dict[str, Any]], list[str]]  # the human-readable lines of its result


VERBS = {"import": DataVerb(_d_import, _show_import), "list": DataVerb(_d_list, _show_list),
         "show": DataVerb(_d_show, _show_show), "clean": DataVerb(_d_clean, _show_clean),
         "split": DataVerb(_d_split, _show_split), "leakage": DataVerb(_d_leakage, _show_leakage),
         "render": DataVerb(_d_render, _show_render), "export": DataVerb(_d_export, _show_export)}


def print_human(result: dict[str, Any]) -> None:
    print("\n".join(VERBS[result["command"]].show(result)))
