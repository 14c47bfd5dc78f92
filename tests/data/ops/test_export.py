"""Export round trip: what workbench writes loads with Hugging Face `datasets` as it was."""

from __future__ import annotations

import pytest

from workbench.core.errors import WorkbenchError
from workbench.services import dataset_ops

ROWS = [
    {"messages": [{"role": "user", "content": "Do you ship to Norway?"},
                  {"role": "assistant", "content": "Yes, in 5–8 days."}]},
    {"messages": [{"role": "system", "content": "You are Pip."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello!"}]},
    {"messages": [{"role": "user", "content": "Where is BB-100200?"}, {"role": "assistant", "content": "Packed."},
                  {"role": "user", "content": "When does it leave?"}, {"role": "assistant", "content": "Tonight."},
                  {"role": "user", "content": "Thanks ☕"}, {"role": "assistant", "content": "Any time!"}]},
]
ALPACA = [
    {"system": "", "instruction": "Do you ship to Norway?", "input": "", "output": "Yes, in 5–8 days.", "history": []},
    {"system": "You are Pip.", "instruction": "Hi", "input": "", "output": "Hello!", "history": []},
    {"system": "", "instruction": "Thanks ☕", "input": "", "output": "Any time!",
     "history": [["Where is BB-100200?", "Packed."], ["When does it leave?", "Tonight."]]},
]


@pytest.fixture(scope="module")
def load_dataset(tmp_path_factory):
    import os

    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    cache = str(tmp_path_factory.mktemp("hf-cache"))
    return lambda kind, path: datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=cache)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_openai_and_alpaca_round_trip(store, import_records, tmp_path, load_dataset, fmt):
    v = import_records(ROWS)
    out = dataset_ops.export_version(store, v.id, str(tmp_path / f"openai.{fmt}"), fmt, "openai")
    assert (out.rows, out.skipped, out.format, out.style) == (3, 0, fmt, "openai")
    loaded = load_dataset("json" if fmt == "jsonl" else "parquet", out.path)
    assert loaded.column_names == ["messages"]
    assert [r["messages"] for r in loaded] == [r["messages"] for r in ROWS]

    out = dataset_ops.export_version(store, v.id, str(tmp_path / f"alpaca.{fmt}"), fmt, "alpaca")
    loaded = load_dataset("json" if fmt == "jsonl" else "parquet", out.path)
    assert sorted(loaded.column_names) == ["history", "input", "instruction", "output", "system"]
    assert [dict(r) for r in loaded] == ALPACA
    assert not list(tmp_path.glob(".*.tmp"))  # the temp files were renamed


def test_alpaca_edge_cases_and_errors(store, add_raw_version, tmp_path):
    from workbench.data.ops.export import to_alpaca

    assert to_alpaca([{"role": "assistant", "content": "Plain text to learn."}]) == {
        "system": "", "instruction": "", "input": "", "output": "Plain text to learn.", "history": []}
    v = add_raw_version([ROWS[0]["messages"], [{"role": "user", "content": "Only a question"}]])
    out = dataset_ops.export_version(store, v.id, str(tmp_path / "a.jsonl"), "jsonl", "alpaca")
    assert (out.rows, out.skipped, out.skipped_rows) == (1, 1, [1])
    assert len((tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()) == 1
    with pytest.raises(WorkbenchError, match="Unknown export style"):
        dataset_ops.export_version(store, v.id, str(tmp_path / "b.jsonl"), "jsonl", "sharegpt")
    with pytest.raises(WorkbenchError, match="is a folder"):
        dataset_ops.export_version(store, v.id, str(tmp_path), "jsonl", "openai")
