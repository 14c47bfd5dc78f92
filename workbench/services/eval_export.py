"""Exporting eval results: CSV in long format (one row per item, run and metric: what a
spreadsheet or pandas pivots) or JSONL (one object per item and run with every score, the
judge's verdict and people's ratings). Written to a temp file beside the target, then moved
into place, so a failed export never leaves half a file. Reads the store: call it from a worker.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from typing import Any, Iterator, Sequence

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalItem, EvalRun, ItemResult, Rating
from workbench.store import ProjectStore

FORMATS = (".csv", ".jsonl")
CSV_COLUMNS = ("eval_run_id", "model", "suite", "item_id", "idx", "prompt", "reference", "label", "output",
               "error", "metric", "score")


def prompt_text(item: EvalItem) -> str:
    """The last user turn (what a reader of the table wants to see); the JSONL has every message."""
    for message in reversed(item.messages):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return str(item.messages[-1].get("content") or "") if item.messages else ""


def _runs(store: ProjectStore, ids: Sequence[str]) -> Iterator[tuple[EvalRun, str, dict[str, EvalItem], list[ItemResult]]]:
    for eval_run_id in dict.fromkeys(ids):
        run = store.get_eval_run(eval_run_id)
        suite = store.get_suite(run.suite_id)
        items = {it.id: it for it in store.suite_items(suite.id)}
        yield run, suite.title, items, store.item_results(run.id)


def _csv_rows(store: ProjectStore, ids: Sequence[str]) -> Iterator[list[Any]]:
    yield list(CSV_COLUMNS)
    for run, suite, items, results in _runs(store, ids):
        for res in results:
            item = items.get(res.item_id) or EvalItem(id=res.item_id, messages=[])
            head = [run.id, run.label, suite, res.item_id, res.idx, prompt_text(item),
                    item.references[0] if item.references else "", item.label or "",
                    res.output if res.output is not None else "", res.error or ""]
            scores = sorted(res.scores.items())
            if not scores:  # a failed item still has its row (its error)
                yield head + ["", ""]
            for metric, score in scores:
                yield head + [metric, "" if score is None else repr(float(score))]


def _jsonl_rows(store: ProjectStore, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
    for run, suite, items, results in _runs(store, ids):
        rated: dict[str, list[Rating]] = {}
        for r in store.ratings(run.id):
            rated.setdefault(r.item_id, []).append(r)
        model = {"label": run.label, "base_model_id": run.model.base_model_id, "run_id": run.model.run_id,
                 "checkpoint": run.model.checkpoint, "step": run.model.step}
        for res in results:
            item = items.get(res.item_id) or EvalItem(id=res.item_id, messages=[])
            yield {
                "eval_run_id": run.id, "model": model, "suite_id": run.suite_id, "suite": suite,
                "suite_hash": run.suite_hash, "item_id": res.item_id, "idx": res.idx, "messages": item.messages,
                "references": item.references, "label": item.label, "tags": item.tags, "output": res.output,
                "error": res.error, "tokens": res.tokens, "seconds": res.seconds, "finish_reason": res.finish_reason,
                "ref_nll": res.ref_nll, "ref_tokens": res.ref_tokens, "scores": res.scores,
                "judge": ({"score": res.judge_score, "reason": res.judge_reason, "error": res.judge_error}
                          if res.judge_score is not None or res.judge_error or res.judge_reason else None),
                "ratings": [{"rater": r.rater, "scale": r.scale, "value": r.value, "comment": r.comment,
                             "created_at": r.created_at} for r in rated.get(res.item_id, [])],
            }


def export_results(store: ProjectStore, eval_run_ids: Sequence[str], path: str) -> str:
    """Write the eval runs' results to `path` (.csv or .jsonl by its suffix); -> the absolute path."""
    if not eval_run_ids:
        raise WorkbenchError("Pick at least one eval run to export.")
    path = os.path.abspath(os.path.expanduser(path))
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise WorkbenchError(f"Cannot export eval results as {suffix or 'a file without a suffix'}: {path}",
                             advice="Name the file .csv (one row per item, model and metric) or .jsonl "
                                    "(one object per item and model).")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise WorkbenchError(f"The folder {folder} does not exist.", advice="Choose an existing folder.")
    for eval_run_id in eval_run_ids:  # a clear error before anything is written
        store.get_eval_run(eval_run_id)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=suffix + ".tmp", dir=folder)
    except OSError as exc:
        raise WorkbenchError(f"Cannot write in the folder {folder}.", details=str(exc),
                             advice="Choose a folder you can write to.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            if suffix == ".csv":
                writer = csv.writer(f)
                for row in _csv_rows(store, eval_run_ids):
                    writer.writerow(row)
            else:
                for obj in _jsonl_rows(store, eval_run_ids):
                    f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise WorkbenchError(f"Could not write {path}.", details=str(exc),
                             advice="Check the disk has room and the file is not open in another program.") from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
