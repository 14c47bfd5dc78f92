"""Feedback items into data: a new dataset version (deduplicated against the project's data,
checked for leakage against the eval suites) or a JSONL file for TRL.

Duplicates: the same conversation (prompt + chosen, and the rejected reply for a pair; the
text normalised the way the dataset cleaning's exact dedup does) as a row of any version of
the project, or as another selected item, is dropped. Leakage: an item whose prompt (the system
prompt aside) is the prompt of an item of an eval suite, exactly or nearly (MinHash, the
dataset split leakage check's method), would inflate that suite's scores; it is dropped (or,
asked, kept and flagged in its provenance). Reads dataset blobs: call it off the GUI thread.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Optional

import numpy as np

from workbench.core.chat_records import DATASET_KINDS
from workbench.core.errors import WorkbenchError
from workbench.core.feedback_records import FeedbackItem, Leak, VersionResult
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.services.feedback_items import feedback_items
from workbench.store import ProjectStore

LEAK_THRESHOLD = 0.8  # MinHash Jaccard at or above which a prompt counts as an eval prompt


def _check_kind(kind: str) -> None:
    if kind not in DATASET_KINDS:
        raise WorkbenchError(f"Unknown kind {kind!r}.", advice=f"Use one of: {', '.join(DATASET_KINDS)}.")


def _key(messages: list[dict], rejected: Optional[list[dict]] = None) -> bytes:
    from workbench.data.ops.dedup import exact_key

    # The rejected turns get their own role, so a pair never matches an SFT row of prompt + chosen.
    return exact_key(list(messages) + [{"role": "rejected", "content": m.get("content", "")} for m in rejected or []])


def existing_keys(store: ProjectStore, kind: str, cancel: Optional[CancelToken] = None) -> set[bytes]:
    """The keys of every row of every dataset version in the project (each blob read once)."""
    from workbench.data.storage.rowio import iter_rows

    keys: set[bytes] = set()
    seen: set[str] = set()
    for version in store.list_versions():
        path = store.abspath(version.blob_path)
        if path in seen or not os.path.exists(path):
            continue
        seen.add(path)
        columns = ("messages", "rejected") if kind == "preference" else ("messages",)
        for row in iter_rows(path, columns=columns, cancel=cancel):
            rejected = row.rejected if kind == "preference" else None
            if kind == "preference" and rejected is None:
                continue  # an SFT row is no pair
            keys.add(_key(row.messages, rejected))
    return keys


def _prompt_text(messages: Iterable[dict]) -> str:
    from workbench.data.ops.dedup import conversation_text

    return conversation_text(list(messages), include_system=False)


def find_leaks(store: ProjectStore, items: list[FeedbackItem], threshold: float = LEAK_THRESHOLD,
               cancel: Optional[CancelToken] = None) -> list[Leak]:
    """Items whose prompt is (nearly) an eval suite item's prompt, with the suite (latest
    version of each suite); the best match per item."""
    from workbench.data.ops.dedup import MinHasher, cross_pairs, normalise_text

    if not items:
        return []
    suite_texts: list[str] = []
    suite_of: list[str] = []
    for suite in store.list_suites():
        for item in store.suite_items(suite.id):
            suite_texts.append(_prompt_text(item.messages))
            suite_of.append(suite.title)
    if not suite_texts:
        return []
    best: dict[str, Leak] = {}
    by_text: dict[str, str] = {}
    for text, title in zip(suite_texts, suite_of):
        by_text.setdefault(normalise_text(text), title)
    texts = [_prompt_text(i.prompt) for i in items]
    for item, text in zip(items, texts):
        title = by_text.get(normalise_text(text))
        if title is not None:
            best[item.id] = Leak(item.id, title, 1.0)
    hasher = MinHasher()
    sigs = hasher.signatures(texts + suite_texts)
    groups = np.array([0] * len(texts) + [1] * len(suite_texts), dtype=np.int64)
    pairs, sims = cross_pairs(sigs, groups, threshold, cancel)
    for (a, b), sim in zip(pairs.tolist(), sims.tolist()):
        mine, theirs = (a, b) if a < len(texts) else (b, a)
        item_id = items[mine].id
        if item_id not in best or best[item_id].similarity < sim:
            best[item_id] = Leak(item_id, suite_of[theirs - len(texts)], round(float(sim), 4))
    return [best[i.id] for i in items if i.id in best]


def _select(store: ProjectStore, item_ids: Iterable[str]) -> list[FeedbackItem]:
    wanted = list(dict.fromkeys(item_ids))
    if not wanted:
        raise WorkbenchError("No feedback is selected.", advice="Select the feedback items to use.")
    by_id = {i.id: i for i in feedback_items(store)}
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise WorkbenchError(f"{len(missing)} selected feedback item(s) no longer exist.",
                             details="\n".join(missing),
                             advice="Refresh the feedback list (a newer rating may have replaced them).")
    return [by_id[i] for i in wanted]


def make_version(store: ProjectStore, item_ids: Iterable[str], kind: str, dataset_name: str,
                 dataset_id: Optional[str] = None, *, drop_leaks: bool = True,
                 progress: Optional[ProgressCallback] = None,
                 cancel: Optional[CancelToken] = None) -> VersionResult:
    """A new `kind` dataset version from the selected items (those of the other kind are left
    out), in the dataset `dataset_id` or the one named `dataset_name` (made when none is)."""
    from workbench.services.datasets import create_version_from_rows

    _check_kind(kind)
    selected = _select(store, item_ids)
    items = [i for i in selected if i.kind == kind]
    skipped = tuple(i.id for i in selected if i.kind != kind)
    if not items:
        other = "preference pairs" if kind == "sft" else "SFT rows"
        raise WorkbenchError(f"None of the selected feedback items is {'an SFT row' if kind == 'sft' else 'a pair'}.",
                             details=f"{len(selected)} selected, all {other}.",
                             advice=f"Select {kind} items, or make a {'preference' if kind == 'sft' else 'sft'} version.")
    report(progress, 0.05, "Reading the project's datasets")
    known = existing_keys(store, kind, cancel)
    duplicates: list[str] = []
    unique: list[FeedbackItem] = []
    for item in items:
        key = _key(item.messages, list(item.rejected) if kind == "preference" else None)
        if key in known:
            duplicates.append(item.id)
        else:
            known.add(key)
            unique.append(item)
    report(progress, 0.6, "Checking against the eval suites")
    leaks = find_leaks(store, unique, cancel=cancel)
    leaking = {leak.item_id: leak for leak in leaks}
    rows, written_ids = [], []
    for item in unique:
        if item.id in leaking and drop_leaks:
            continue
        written_ids.append(item.id)
        row = item.row()
        if item.id in leaking:
            row["source"] = {**row["source"], "leaks_into_suite": leaking[item.id].suite}
        rows.append(row)
    result = dict(kind=kind, duplicates=tuple(duplicates), leaks=tuple(leaks), leaks_dropped=drop_leaks,
                  skipped=skipped)
    if not rows:
        return VersionResult(version_id=None, dataset_id=dataset_id, written=0, **result)
    report(progress, 0.8, f"Writing {len(rows)} rows")
    version = create_version_from_rows(
        store, dataset_name=dataset_name, rows=rows, kind=kind, source_name="chat feedback",
        dataset_id=dataset_id,
        options={"from_feedback": {"items": written_ids,
                                   "duplicates_dropped": len(duplicates),
                                   "leaks": [{"item": x.item_id, "suite": x.suite, "similarity": x.similarity}
                                             for x in leaks],
                                   "leaks_dropped": drop_leaks}})
    report(progress, 1.0, "Done")
    return VersionResult(version_id=version.id, dataset_id=version.dataset_id, written=version.row_count, **result)


def export_row(item: FeedbackItem) -> dict:
    """An item as TRL reads it: SFT {"messages"}, preference in TRL's conversational shape
    {"prompt", "chosen", "rejected"} (lists of messages); the provenance rides along as a JSON
    string in "source" (one type in every row, so datasets.load_dataset can read the file)."""
    source = json.dumps(item.provenance.to_dict(), ensure_ascii=False, sort_keys=True)
    if item.kind == "sft":
        return {"messages": item.messages, "source": source}
    return {"prompt": [dict(m) for m in item.prompt], "chosen": [dict(m) for m in item.chosen],
            "rejected": [dict(m) for m in item.rejected], "source": source}


def export_feedback(store: ProjectStore, kind: str, out_path: str,
                    item_ids: Optional[Iterable[str]] = None) -> int:
    """Write the `kind` items (all, or the given ones) to a JSONL file, atomically; returns how
    many were written."""
    _check_kind(kind)
    items = _select(store, item_ids) if item_ids is not None else feedback_items(store, kind)
    items = [i for i in items if i.kind == kind]
    if not items:
        raise WorkbenchError(f"There is no {kind} feedback to export.",
                             advice="Rate or correct chat replies, or vote in the arena, first." if kind == "sft"
                             else "Vote in the arena or correct chat replies first.")
    text = "".join(json.dumps(export_row(i), ensure_ascii=False) + "\n" for i in items)
    folder = os.path.dirname(os.path.abspath(out_path))
    tmp = os.path.join(folder, f".{os.path.basename(out_path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out_path)
    except OSError as exc:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise WorkbenchError(f"Cannot write {out_path}.", details=str(exc),
                             advice="Choose a folder you can write to.") from None
    return len(items)
