"""Helpers for the dataset-screen tests: versions written straight through the data layer's
writer (200k rows in about a second), a ChatML tokenizer folder built with `tokenizers`, and
waiting on a dialog's worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

from tests.helpers.chatml_folder import build_chatml_folder


def chat(i: int, prefix: str = "q") -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{prefix} question {i}"},
            {"role": "assistant", "content": f"answer number {i}"}]


def add_version(store, conversations: Iterable[list[dict[str, str]]], name: str = "data",
                sources: Callable[[int], dict] | None = None):
    """A dataset version holding `conversations` (written by the data layer's writer, recorded
    like an import), -> DatasetVersion."""
    from workbench.data.storage.parquet_io import DatasetWriter, dumps

    writer = DatasetWriter(store.abspath("blobs/datasets"))
    msgs, srcs, rows = [], [], []
    for i, conv in enumerate(conversations):
        msgs.append(dumps(conv))
        srcs.append(dumps(sources(i) if sources else {"messages": conv}))
        rows.append(i + 1)
    writer.add_rows(msgs, srcs, rows)
    path, content_hash = writer.commit()
    dataset = next((d for d in store.list_datasets() if d.name == name), None) or store.add_dataset(name)
    return store.add_version(dataset_id=dataset.id, content_hash=content_hash, blob_path=store.relpath(str(path)),
                             row_count=len(msgs), format="openai_messages", source_name=f"{name}.jsonl",
                             source_size=0, source_hash=content_hash, options={})


def write_jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def chatml_model(folder: Path) -> Path:
    """A model folder holding only a tokenizer: byte-level BPE with ChatML special tokens."""
    return build_chatml_folder(folder)


def wait_idle(qtbot, dialog, timeout: int = 20000) -> None:
    """Until the dialog's worker (preview, import, apply...) has finished."""
    qtbot.waitUntil(lambda: not dialog.busy, timeout=timeout)
