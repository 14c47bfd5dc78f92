"""Editing runs from the Runs page: rename, tags, notes, delete (with what it removes, for the
confirmation), and a run's settings to start a new run from.

Deleting and its preview walk the run's folder: call them from a worker, on a connection of
the worker's own (store.connect_again()).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError
from workbench.core.records import ACTIVE_STATUSES, TrainConfig

if TYPE_CHECKING:
    from workbench.store import ProjectStore

MAX_NAME = 200
MAX_TAG = 50


def rename_run(store: "ProjectStore", run_id: str, name: str) -> None:
    clean = " ".join(name.split())  # no line breaks or tabs in a table cell
    if not clean:
        raise WorkbenchError("A run needs a name.", advice="Type a name for the run.")
    if len(clean) > MAX_NAME:
        raise WorkbenchError(f"The name is {len(clean)} characters long; a run's name can have up to {MAX_NAME}.",
                             advice="Type a shorter name.")
    store.rename_run(run_id, clean)


def set_tags(store: "ProjectStore", run_id: str, tags: list[str]) -> list[str]:
    """Set the run's tags (trimmed, each once, in order; empty ones dropped); returns them."""
    clean: list[str] = []
    for tag in tags:
        tag = " ".join(str(tag).split())
        if len(tag) > MAX_TAG:
            raise WorkbenchError(f"The tag {tag[:20]}… is {len(tag)} characters long; a tag can have up to {MAX_TAG}.",
                                 advice="Use a shorter tag.")
        if tag and tag not in clean:
            clean.append(tag)
    store.set_run_tags(run_id, clean)
    return clean


def set_notes(store: "ProjectStore", run_id: str, notes: str) -> None:
    store.set_run_notes(run_id, notes)


@dataclass(frozen=True)
class DeleteSummary:
    """What deleting a run removes (or removed): its files, and what else it touches."""

    run_id: str
    name: str
    checkpoints: int  # checkpoint-N folders
    adapter: bool  # the final adapter (and best/, when it has one)
    bytes: int  # everything in its folder
    chat_sessions: int  # chat sessions with it that stay, messages and all, without the run
    metric_points: int


def _folder_bytes(folder: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def delete_preview(store: "ProjectStore", run_id: str) -> DeleteSummary:
    """What delete_run(run_id) would remove (walks the run's folder)."""
    run = store.get_run(run_id)
    work = store.abspath(run.work_dir)
    try:
        checkpoints = sum(1 for n in os.listdir(os.path.join(work, "checkpoints"))
                          if n.startswith("checkpoint-") and os.path.isdir(os.path.join(work, "checkpoints", n)))
    except OSError:
        checkpoints = 0
    adapter = os.path.isdir(store.abspath(run.adapter_path) if run.adapter_path else os.path.join(work, "adapter"))
    links = store.run_link_counts(run_id)
    return DeleteSummary(run.id, run.name, checkpoints, adapter, _folder_bytes(work) if os.path.isdir(work) else 0,
                         links["chat_sessions"], links["metric_points"])


def delete_run(store: "ProjectStore", run_id: str) -> DeleteSummary:
    """Delete an ended run: its folder (checkpoints, adapter, log) and rows; chat sessions with it
    keep their messages. All or nothing (store.delete_run). Returns what went."""
    run = store.get_run(run_id)
    if run.status in ACTIVE_STATUSES:
        waiting = run.status == "queued"
        raise WorkbenchError(f"Run {run.name} is {'waiting in the queue' if waiting else 'training'}, so it cannot "
                             "be deleted.", advice="Cancel it first" + (" (or remove it from the queue)." if waiting
                                                                          else "; then delete it."))
    summary = delete_preview(store, run_id)
    store.delete_run(run_id)
    return summary


def duplicate_config(store: "ProjectStore", run_id: str) -> tuple[TrainConfig, str, str]:
    """The run's settings (as it trains now: after an out-of-memory retry, the smaller batch),
    dataset version and base model, to start a new run from."""
    run = store.get_run(run_id)
    return run.train_config, run.dataset_version_id, run.base_model_id
