"""`workbench feedback ...`: chat feedback as data, without the GUI (the Feedback page's services).

    feedback list --project P [--kind sft|preference] [--json]
        the training items the project's ratings, corrections and arena votes make
    feedback export --kind sft|preference OUT --project P [--json]
        a JSONL file for TRL: {"messages"} (sft) or {"prompt", "chosen", "rejected"} (preference)
    feedback make-version --kind sft|preference --name DATASET [--item ID]... [--keep-leaks] --project P
        a new dataset version from the items (all of that kind unless --item is given),
        deduplicated against the project's data and checked against the eval suites
"""

from __future__ import annotations

from typing import Any, Callable

from workbench.core.chat_records import DATASET_KINDS


def _text(messages) -> str:
    return " / ".join(" ".join(m["content"].split()) for m in messages)


def _cut(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def add_feedback_parser(sub: Any, project: Callable[..., None]) -> None:
    f = sub.add_parser("feedback", help="chat ratings, corrections and arena votes as training data")
    verbs = f.add_subparsers(dest="feedback_verb", required=True)
    ls = verbs.add_parser("list", help="the training items the project's feedback makes")
    project(ls)
    ls.add_argument("--kind", choices=DATASET_KINDS, help="only SFT rows or only preference pairs")
    ex = verbs.add_parser("export", help="the items as JSONL for TRL")
    project(ex)
    ex.add_argument("--kind", choices=DATASET_KINDS, required=True)
    ex.add_argument("out", metavar="OUT", help="the .jsonl file to write")
    mv = verbs.add_parser("make-version", help="a new dataset version from the items")
    project(mv)
    mv.add_argument("--kind", choices=DATASET_KINDS, required=True)
    mv.add_argument("--name", required=True, help="the dataset to add the version to (made when none has the name)")
    mv.add_argument("--item", action="append", metavar="ID", help="an item id (see feedback list); repeatable")
    mv.add_argument("--keep-leaks", action="store_true",
                    help="keep items whose prompt is an eval suite's (flagged in their source)")


def _open(args):
    from workbench.cli import _open as open_project

    return open_project(args.project)


def _item_dict(item, titles: dict[str, str]) -> dict[str, Any]:
    return {"id": item.id, "kind": item.kind, "prompt": [dict(m) for m in item.prompt],
            "chosen": [dict(m) for m in item.chosen], "rejected": [dict(m) for m in item.rejected],
            "source": item.provenance.to_dict(),
            "model_names": [titles.get(m, m) for m in item.provenance.models]}


def list_items(args) -> list[dict[str, Any]]:
    from workbench.services import feedback

    store = _open(args)
    try:
        items = feedback.feedback_items(store, args.kind)
        titles = feedback.target_titles(store, {m for i in items for m in i.provenance.models})
        return [_item_dict(i, titles) for i in items]
    finally:
        store.close()


def show_items(items: list[dict[str, Any]]) -> None:
    if not items:
        print("no feedback items (rate or correct chat replies, or vote in the arena)")
    for item in items:
        source = item["source"]
        prompt = next((m["content"] for m in reversed(item["prompt"]) if m["role"] == "user"), "")
        line = f"{item['id']:<44} {item['kind']:<10} {source['origin']:<10} {_cut(' '.join(prompt.split()), 36)!r}"
        line += f" -> {_cut(_text(item['chosen']))!r}"
        if item["rejected"]:
            line += f" over {_cut(_text(item['rejected']))!r}"
        models = " vs ".join(m for m in item["model_names"] if m)
        blind = " blind" if source["blind"] else ""
        print(f"{line}  [{models}; {source['rater']}{blind}]")


def export(args) -> dict[str, Any]:
    import os

    from workbench.services import feedback

    store = _open(args)
    try:
        count = feedback.export_feedback(store, args.kind, args.out)
    finally:
        store.close()
    return {"kind": args.kind, "rows": count, "path": os.path.abspath(args.out)}


def show_export(result: dict[str, Any]) -> None:
    print(f"wrote {result['rows']} {result['kind']} rows to {result['path']}")


def make_version(args) -> dict[str, Any]:
    from workbench.cli_data import _plain
    from workbench.services import feedback

    store = _open(args)
    try:
        ids = args.item or [i.id for i in feedback.feedback_items(store, args.kind)]
        result = feedback.make_version(store, ids, args.kind, args.name, drop_leaks=not args.keep_leaks)
    finally:
        store.close()
    return {**_plain(result), "summary": result.summary()}


def show_version(result: dict[str, Any]) -> None:
    print(result["summary"])
    if result["version_id"]:
        print(f"version {result['version_id']} ({result['kind']})")
    for leak in result["leaks"]:
        print(f"  leak: {leak['item_id']} matches suite {leak['suite']} (similarity {leak['similarity']})")


# `feedback SUBVERB`: (run, show), registered in cli.VERBS as "feedback SUBVERB".
VERBS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], None]]] = {
    "list": (list_items, show_items),
    "export": (export, show_export),
    "make-version": (make_version, show_version),
}
