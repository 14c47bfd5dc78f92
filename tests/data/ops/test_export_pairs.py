"""A preference version exports as pairs in the shapes the import reads, and importing the
export gives back the same pairs (JSONL and Parquet); a pair without a form in a style is
counted as skipped; an SFT version is refused for a pair style."""

from __future__ import annotations

import json

import pytest

from workbench.data import import_file, read_rows
from workbench.data.ingest.rows import write_rows
from workbench.data.ops.export import export
from workbench.data.storage.rowio import DataOpError

S = {"role": "system", "content": "Be brief."}


def _pair(q, good, bad, system=False, earlier=()):
    prompt = ([S] if system else []) + [m for a, b in earlier for m in (
        {"role": "user", "content": a}, {"role": "assistant", "content": b})] + [{"role": "user", "content": q}]
    return {"messages": prompt + [{"role": "assistant", "content": good}],
            "rejected": [{"role": "assistant", "content": bad}], "source": None}


PAIRS = [_pair("What is 2+2?", "4", "5"), _pair("Capital of France?", "Paris", "Lyon", system=True),
         _pair("And of Italy?", "Rome", "Milan", system=True, earlier=[("Capital of France?", "Paris")])]


@pytest.fixture
def blob(tmp_path):
    return write_rows(PAIRS, "preference", tmp_path / "blobs").path


def _stored(path):
    return [(r["messages"], r["rejected"]) for r in read_rows(path, 0, 100)]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
@pytest.mark.parametrize("style, kept", [("trl", 3), ("trl_text", 2), ("sharegpt_pairs", 3)])
def test_export_then_import_gives_the_same_pairs(blob, tmp_path, style, kept, fmt):
    out = tmp_path / f"pairs.{fmt}"
    result = export(blob, out, format=fmt, style=style)
    assert (result.rows, result.skipped) == (kept, 3 - kept)
    if kept < 3:
        assert result.skipped_rows == [2]  # the multi-turn prompt has no text form
    back = import_file(out, dest_dir=tmp_path / "again")
    assert back.kind == "preference" and back.format == ("sharegpt_preference" if style == "sharegpt_pairs"
                                                         else "prompt_preference")
    assert _stored(back.parquet_path) == _stored(blob)[:kept]


def test_the_records_are_the_documented_shapes(blob, tmp_path):
    export(blob, tmp_path / "trl.jsonl", style="trl")
    export(blob, tmp_path / "text.jsonl", style="trl_text")
    export(blob, tmp_path / "sg.jsonl", style="sharegpt_pairs")
    first = [json.loads((tmp_path / n).read_text().splitlines()[1]) for n in ("trl.jsonl", "text.jsonl", "sg.jsonl")]
    assert first[0] == {"prompt": [S, {"role": "user", "content": "Capital of France?"}],
                        "chosen": [{"role": "assistant", "content": "Paris"}],
                        "rejected": [{"role": "assistant", "content": "Lyon"}]}
    assert first[1] == {"system": "Be brief.", "prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"}
    assert first[2] == {"system": "Be brief.", "conversations": [{"from": "human", "value": "Capital of France?"}],
                        "chosen": {"from": "gpt", "value": "Paris"}, "rejected": {"from": "gpt", "value": "Lyon"}}


def test_sft_styles_write_the_chosen_side_and_pair_styles_refuse_conversations(blob, tmp_path):
    result = export(blob, tmp_path / "chosen.jsonl", style="openai")
    lines = [json.loads(line) for line in (tmp_path / "chosen.jsonl").read_text().splitlines()]
    assert result.rows == 3 and lines[0]["messages"][-1] == {"role": "assistant", "content": "4"}
    sft = write_rows([{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}],
                     "sft", tmp_path / "sft").path
    with pytest.raises(DataOpError, match="writes preference pairs; this version holds conversations"):
        export(sft, tmp_path / "no.jsonl", style="trl")
    assert not (tmp_path / "no.jsonl").exists()


def test_trl_loads_the_exports(blob, tmp_path):
    datasets = pytest.importorskip("datasets")
    from trl.data_utils import is_conversational

    export(blob, tmp_path / "trl.jsonl", style="trl")
    export(blob, tmp_path / "text.parquet", format="parquet", style="trl_text")
    conv = datasets.load_dataset("json", data_files=str(tmp_path / "trl.jsonl"), split="train",
                                 cache_dir=str(tmp_path / "hf"))
    text = datasets.load_dataset("parquet", data_files=str(tmp_path / "text.parquet"), split="train",
                                 cache_dir=str(tmp_path / "hf"))
    assert conv.column_names == ["prompt", "chosen", "rejected"] and len(conv) == 3
    assert is_conversational(conv[0]) and not is_conversational(text[0])
    assert text[0]["prompt"] == "What is 2+2?" and text[0]["rejected"] == "5"
