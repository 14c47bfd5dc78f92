"""Records and files the dataset tests write: chat rows, JSONL files, rows read back."""

from __future__ import annotations

import json
from pathlib import Path


def chat(user: str, reply: str, system: str | None = None, **extra) -> dict:
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return {"messages": msgs, **extra}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def rows_of(store, version) -> list[dict]:
    from workbench.services import datasets

    return datasets.read_rows(store, version.id, 0, version.row_count + 1)
