"""Property test: any input, however malformed, ends in a DataImportError with a message for the
user, or in a valid version whose rows read back (count and content) - never another exception,
never a file left behind.

Generated inputs cover every supported type (JSONL, JSON, CSV, TSV, text, Markdown, Parquet,
Arrow, Hugging Face folders, text folders, and gzip of each), damaged on purpose: random bytes,
truncation, flipped bytes, wrong types, ragged rows, broken gzip, mixed encodings, empty and
binary files, options that do not fit, and the file deleted while it is read. A ~50 MB single
line is tested on its own (generated once).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from workbench.core.errors import DataImportError, WorkbenchError
from workbench.data import ColumnMapping, count_rows, import_file, iter_messages, read_rows
from workbench.data.formats.detect import Turn
from workbench.data.formats.validation import check_turns

# -- records ---------------------------------------------------------------------------------------
scalars = (st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=True)
           | st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=16)  # surrogates too
roles = st.sampled_from(["user", "assistant", "system", "developer", "tool", "human", "gpt", " User ", ""])
turn = st.fixed_dictionaries({"role": roles | values, "content": st.text(max_size=20) | any_text | values})
share_turn = st.fixed_dictionaries({"from": roles, "value": st.text(max_size=20) | values})
clean_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20)
CLEAN = [  # records that import (unless damage or options say otherwise)
    st.builds(lambda q, a: {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]},
              clean_text, clean_text),
    st.builds(lambda i, o: {"instruction": i, "output": o}, clean_text, clean_text),
    st.builds(lambda t: {"text": t}, clean_text),
]
records = st.one_of(
    *CLEAN,
    st.fixed_dictionaries({"messages": st.lists(turn, max_size=4)}),
    st.fixed_dictionaries({"messages": st.just([{"role": "user", "content": "q"},
                                                {"role": "assistant", "content": "a"}])}),
    st.fixed_dictionaries({"conversations": st.lists(share_turn, max_size=4)}),
    st.fixed_dictionaries({"instruction": st.text(max_size=20) | values, "output": st.text(max_size=20) | values},
                          optional={"input": st.text(max_size=8), "system": values}),
    st.fixed_dictionaries({"prompt": st.text(max_size=20), "completion": st.text(max_size=20) | values}),
    st.fixed_dictionaries({"text": st.text(max_size=40) | values}),
    st.dictionaries(st.text(max_size=8), values, max_size=4),
    values,  # not an object at all
)
KINDS = ["jsonl", "json", "csv", "tsv", "txt", "md", "parquet", "arrow", "hf", "folder"]
DAMAGE = ["none"] * 8 + ["truncate", "flip", "insert", "garbage", "random", "empty", "latin1", "utf16", "nul"]
FORMATS = [None] * 8 + ["openai_messages", "sharegpt", "alpaca", "prompt_completion", "text", "nope"]
ENCODINGS = [None] * 10 + ["utf-8", "cp1252", "latin-1", "utf-16", "utf-16-le", "klingon"]


def _json_safe(value):
    """Values Arrow can store: surrogates replaced, big ints as text."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {_json_safe(k): _json_safe(v) for k, v in value.items()}
    return value


def _table(rows: list, as_text: bool = False) -> pa.Table:
    """An Arrow table of the records; mixed types (or as_text) become JSON text per column."""
    dicts = [r if isinstance(r, dict) else {"value": r} for r in rows] or [{"value": None}]
    dicts = [_json_safe(d) for d in dicts]
    if not as_text:
        try:
            return pa.Table.from_pylist(dicts)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass
    keys = list(dict.fromkeys(k for d in dicts for k in d))[:8] or ["value"]
    return pa.table({k: pa.array([None if d.get(k) is None else
                                  (d[k] if isinstance(d[k], str) else json.dumps(d[k]))
                                  for d in dicts], pa.string()) for k in keys})


def _arrow_stream(rows: list) -> bytes:
    sink = io.BytesIO()
    table = _table(rows)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _parquet(rows: list) -> bytes:
    for as_text in (False, True):  # e.g. a struct without fields cannot be written to Parquet
        sink = io.BytesIO()
        try:
            pq.write_table(_table(rows, as_text), sink)
            return sink.getvalue()
        except pa.ArrowException:
            continue
    raise AssertionError("unreachable: text columns always write")


def _delimited(rows: list, delimiter: str, rnd) -> bytes:
    dicts = [r for r in rows if isinstance(r, dict)]
    keys = list(dict.fromkeys(k for d in dicts for k in d))[:5] or ["text"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(keys)
    for d in dicts:
        cells = [v if isinstance(v, str) else json.dumps(v) for v in (d.get(k, "") for k in keys)]
        if rnd.random() < 0.2:
            cells = cells[: rnd.randrange(len(cells) + 1)] + ["extra"] * rnd.randrange(2)  # ragged
        writer.writerow(cells)
    return out.getvalue().encode("utf-8", "surrogatepass")


def _text_file(rows: list) -> bytes:
    parts = [r["text"] if isinstance(r, dict) and isinstance(r.get("text"), str) else json.dumps(r) for r in rows]
    return "\n\n".join(parts).encode("utf-8", "surrogatepass")


def _serialise(kind: str, rows: list, rnd) -> dict[str, bytes]:
    """{relative path: bytes}; the first path is the one that gets damaged."""
    if kind == "jsonl":
        return {"data.jsonl": "\n".join(json.dumps(r, ensure_ascii=rnd.random() < 0.5) for r in rows).encode("utf-8", "surrogatepass")}
    if kind == "json":
        return {"data.json": json.dumps(rows, indent=rnd.choice([None, 1]), ensure_ascii=rnd.random() < 0.5).encode("utf-8", "surrogatepass")}
    if kind in ("csv", "tsv"):
        return {f"data.{kind}": _delimited(rows, "," if kind == "csv" else "\t", rnd)}
    if kind in ("txt", "md"):
        return {f"data.{kind}": _text_file(rows)}
    if kind == "parquet":
        return {"data.parquet": _parquet(rows)}
    if kind == "arrow":
        return {"data.arrow": _arrow_stream(rows)}
    if kind == "hf":
        return {"ds/data-00000-of-00001.arrow": _arrow_stream(rows),
                "ds/state.json": json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}).encode(),
                "ds/dataset_info.json": b"{}"}
    return {f"texts/{i:02d}.txt": _text_file([r]) for i, r in enumerate(rows or [""])}  # folder


def _damage(data: bytes, how: str, rnd) -> bytes:
    if how == "truncate" and data:
        return data[: rnd.randrange(len(data))]
    if how == "flip" and data:
        data = bytearray(data)
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        return bytes(data)
    if how == "insert":
        at = rnd.randrange(len(data) + 1)
        return data[:at] + bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 8))) + data[at:]
    if how == "garbage":
        return data + bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 64)))
    if how == "random":
        return bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 300)))
    if how == "empty":
        return b""
    if how == "latin1":  # mixed encodings: part of the text in latin-1
        at = rnd.randrange(len(data) + 1)
        return data[:at] + "café naïve".encode("latin-1") + data[at:]
    if how == "utf16":
        return data[: len(data) // 2] + data[len(data) // 2 :].decode("utf-8", "replace").encode("utf-16")
    if how == "nul":
        return b"\x00" * rnd.randint(1, 64) + data
    return data


@st.composite
def cases(draw):
    rnd = draw(st.randoms(use_true_random=False))
    kind = draw(st.sampled_from(KINDS))
    if rnd.random() < 0.6:  # one clean format throughout
        rows = draw(st.lists(draw(st.sampled_from(CLEAN)), min_size=1, max_size=6))
    else:
        rows = draw(st.lists(records, max_size=6))
    files = _serialise(kind, rows, rnd)
    first = next(iter(files))
    files[first] = _damage(files[first], draw(st.sampled_from(DAMAGE)), rnd)
    if kind not in ("hf", "folder") and draw(st.booleans()) and rnd.random() < 0.3:
        data = gzip.compress(files.pop(first))
        if rnd.random() < 0.3:
            data = data[: rnd.randrange(len(data) + 1)]  # bad gzip
        first += ".gz"
        files[first] = data
    options = {"format": draw(st.sampled_from(FORMATS)), "on_invalid": draw(st.sampled_from(["abort", "skip"])),
               "encoding": draw(st.sampled_from(ENCODINGS))}
    if kind in ("txt", "md", "folder") or rnd.random() < 0.1:
        options["text_mode"] = draw(st.sampled_from([None, "file", "paragraph", "line"]))
    if rnd.random() < 0.15:
        keys = [k for r in rows if isinstance(r, dict) for k in r] or ["x"]
        options["mapping"] = ColumnMapping(user=rnd.choice(keys), assistant=rnd.choice(keys))
        options["format"] = None
    if kind == "hf" and rnd.random() < 0.2:
        options["split"] = "train"
    target = first.split("/")[0]
    delete = draw(st.sampled_from([None] * 8 + [0.0, 0.5]))
    return files, target, first, options, delete


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def check_import(path: Path, dest: Path, victim: Path | None = None, delete_at: float | None = None, **options):
    """Import, then check the outcome (or the error) as the property says."""
    deleted = []

    def progress(fraction: float, message: str) -> None:
        if victim is not None and delete_at is not None and fraction >= delete_at and not deleted:
            deleted.append(True)
            victim.unlink(missing_ok=True)

    unpacked = Path(tempfile.gettempdir()) / "workbench-import"
    before = set(unpacked.glob(".partial-*")) if unpacked.exists() else set()
    try:
        outcome = import_file(path, dest_dir=dest, progress=progress, **options)
    except DataImportError as exc:
        assert (set(unpacked.glob(".partial-*")) if unpacked.exists() else set()) <= before
        assert isinstance(exc, WorkbenchError) and exc.user_message.strip() and str(exc).strip()
        assert _entries(dest) == [], f"left behind after {exc.user_message!r}: {_entries(dest)}"
        return None
    assert (set(unpacked.glob(".partial-*")) if unpacked.exists() else set()) <= before
    assert _entries(dest) == [outcome.parquet_path.name]
    assert count_rows(outcome.parquet_path) == outcome.row_count > 0
    assert sum(1 for _ in iter_messages(outcome.parquet_path)) == outcome.row_count
    rows = read_rows(outcome.parquet_path, 0, outcome.row_count)
    assert [r["index"] for r in rows] == list(range(outcome.row_count))
    for row in rows:  # every stored conversation passes validation again
        turns = [Turn(m["role"], m["content"], "content") for m in row["messages"]]
        assert not check_turns(turns, assistant_only=True)
    return outcome


@settings(max_examples=1500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_any_input_ends_in_a_clear_error_or_a_valid_version(tmp_path_factory, case):
    files, target, victim, options, delete_at = case
    root = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp()))
    try:
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        outcome = check_import(root / target, root / "dest", victim=root / victim, delete_at=delete_at, **options)
        event(f"{Path(target).suffix or 'folder'}: {'imported' if outcome else 'refused'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def huge_line(tmp_path_factory) -> Path:
    """One ~50 MB line: a single JSON string (written fast, once)."""
    path = tmp_path_factory.mktemp("huge") / "huge.jsonl"
    with open(path, "wb") as f:
        f.write(b'"' + b"x" * 50_000_000 + b'"\n')
    return path


@pytest.mark.parametrize("name,options,valid", [
    ("huge.jsonl", {}, False),  # a string, not an object
    ("huge.json", {}, False),  # a JSON document that is not a list of records
    ("huge.txt", {"text_mode": "line"}, True),  # one 50 MB example
])
def test_a_50_mb_single_line(huge_line, tmp_path, name, options, valid):
    path = huge_line if name == "huge.jsonl" else huge_line.with_name(name)
    if path != huge_line and not path.exists():
        os.link(huge_line, path)
    outcome = check_import(path, tmp_path / "dest", **options)
    assert (outcome is not None) == valid
    if valid:
        assert len(read_rows(outcome.parquet_path, 0, 1)[0]["messages"][0]["content"]) == 50_000_002
