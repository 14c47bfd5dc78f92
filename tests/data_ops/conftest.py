"""Fixtures for dataset operations: JSONL files written by the tests, imported through the real
import service into the real project store, and a tiny ChatML tokenizer folder built with the
`tokenizers` library (tokenizer.json + tokenizer_config.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.chatml_folder import CHATML, build_chatml_folder  # noqa: F401 (CHATML re-exported)


def chat(user: str, reply: str, system: str | None = None, **extra) -> dict:
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return {"messages": msgs, **extra}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def import_records(store, tmp_path):
    """import_records(records, name) -> DatasetVersion, through services.datasets.import_dataset."""
    from workbench.services import datasets

    def _import(records: list[dict], name: str = "data"):
        return datasets.import_dataset(store, str(write_jsonl(tmp_path / f"{name}.jsonl", records)), name=name)

    return _import


@pytest.fixture(scope="session")
def chatml_model(tmp_path_factory) -> Path:
    """A model folder holding only a tokenizer: byte-level BPE with ChatML special tokens."""
    return build_chatml_folder(
        tmp_path_factory.mktemp("chatml-model"),
        eos_token={"content": "<|im_end|>", "special": True},  # the older AddedToken form
        tokenizer_class="PreTrainedTokenizerFast",
    )


@pytest.fixture
def add_raw_version(store):
    """add_raw_version(conversations) -> DatasetVersion: rows the importer would refuse (empty
    messages), written through the data layer's writer and recorded like a plugin transform's."""
    from workbench.data.storage.parquet_io import DatasetWriter, dumps

    def _add(conversations: list[list[dict]], name: str = "raw"):
        writer = DatasetWriter(store.abspath("blobs/datasets"))
        for i, msgs in enumerate(conversations):
            writer.add(dumps(msgs), dumps({"messages": msgs}), i + 1)
        path, content_hash = writer.commit()
        dataset = store.add_dataset(name)
        return store.add_version(dataset_id=dataset.id, content_hash=content_hash, blob_path=store.relpath(str(path)),
                                 row_count=len(conversations), format="openai_messages", source_name=f"{name}.parquet",
                                 source_size=0, source_hash="sha256:test", options={"by": "test"})

    return _add


def rows_of(store, version) -> list[dict]:
    from workbench.services import datasets

    return datasets.read_rows(store, version.id, 0, version.row_count + 1)
