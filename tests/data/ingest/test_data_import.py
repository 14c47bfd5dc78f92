"""import_file end to end: abort vs skip, cancel, atomic writes, content hash, paging, memory."""

from __future__ import annotations

import gzip
import hashlib
import json
import tracemalloc

import pyarrow.parquet as pq
import pytest

from workbench.core.errors import DataImportError
from workbench.core.progress import CancelToken, Cancelled
from workbench.data import count_rows, import_file, iter_messages, read_rows
from workbench.data.storage.parquet_io import SCHEMA


def record(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Question {i}: where is order A-{i:05d}?"},
                         {"role": "assistant", "content": f"Order A-{i:05d} ships in {i % 5 + 1} days."}]}


def jsonl(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """25,000 records: three row groups (10,000 rows each) of the written Parquet."""
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    path.write_text(jsonl(record(i) for i in range(25_000)), encoding="utf-8")
    return path


def leftovers(dest):
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_outcome_fields_and_atomic_content_addressed_file(write, dest):
    path = write("d.jsonl", jsonl(record(i) for i in range(5)))
    outcome = import_file(path, dest_dir=dest)
    assert outcome.parquet_path == dest / f"{outcome.content_hash}.parquet"
    assert leftovers(dest) == [outcome.parquet_path.name]  # no temp file left
    assert (outcome.row_count, outcome.format, outcome.source_name) == (5, "openai_messages", "d.jsonl")
    assert outcome.source_size == path.stat().st_size
    assert outcome.source_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (outcome.problems, outcome.skipped_count, outcome.file_kind) == ([], 0, "jsonl")
    assert pq.read_schema(outcome.parquet_path).equals(SCHEMA)


def test_identical_input_gives_identical_hash_whatever_the_wrapping(write, tmp_path):
    text = jsonl(record(i) for i in range(50))
    a = import_file(write("a.jsonl", text), dest_dir=tmp_path / "one")
    b = import_file(write("b.jsonl", text), dest_dir=tmp_path / "two")
    assert a.content_hash == b.content_hash
    assert a.parquet_path.read_bytes() == b.parquet_path.read_bytes()
    # Same rows behind gzip: same content, different raw file.
    c = import_file(write("c.jsonl.gz", text, gz=True), dest_dir=tmp_path / "three")
    assert c.content_hash == a.content_hash and c.source_hash != a.source_hash
    # One changed character changes the hash.
    d = import_file(write("d.jsonl", text.replace("Question 7:", "Question 7?")), dest_dir=tmp_path / "four")
    assert d.content_hash != a.content_hash


def test_abort_lists_first_problems_and_total_and_writes_nothing(write, dest):
    lines = [json.dumps(record(i)) for i in range(30)]
    for i in range(3, 30, 2):  # 14 bad records on lines 4, 6, ...
        lines[i] = '{"messages": [{"role": "user", "content": ""}]}'
    with pytest.raises(DataImportError) as err:
        import_file(write("bad.jsonl", "\n".join(lines)), dest_dir=dest)
    error = err.value
    assert "14 records have problems" in error.user_message
    assert "28 problems in all" in error.user_message  # empty message + no assistant turn each
    assert "line 4" in error.user_message
    assert error.details.count("\n  - ") == 9 and "... and 18 more" in error.details
    assert leftovers(dest) == []


def test_skip_imports_valid_rows_and_returns_problems(write, dest):
    lines = [json.dumps(record(i)) for i in range(10)]
    lines[2] = "{not json"
    lines[7] = json.dumps({"messages": [{"role": "user", "content": "q"}]})
    outcome = import_file(write("s.jsonl", "\n".join(lines)), dest_dir=dest, on_invalid="skip")
    assert (outcome.row_count, outcome.skipped_count, outcome.problem_count) == (8, 2, 2)
    assert [p.line for p in outcome.problems] == [3, 8]
    assert [r["source_row"] for r in read_rows(outcome.parquet_path, 0, 3)] == [1, 2, 4]


def test_nothing_valid_or_nothing_at_all_is_an_error(write, dest):
    with pytest.raises(DataImportError, match="none of its 2 records is valid"):
        import_file(write("x.jsonl", "{bad\n{worse\n"), dest_dir=dest, on_invalid="skip", format="text")
    with pytest.raises(DataImportError, match="holds no records"):
        import_file(write("empty.jsonl", "\n\n"), dest_dir=dest)
    with pytest.raises(DataImportError, match="does not exist"):
        import_file(dest / "missing.jsonl", dest_dir=dest)
    with pytest.raises(ValueError):
        import_file(write("ok.jsonl", jsonl([record(1)])), dest_dir=dest, on_invalid="ignore")
    assert leftovers(dest) == []


def test_cancel_leaves_no_file(big, dest):
    token = CancelToken()
    seen = []

    def progress(fraction, message):
        seen.append(fraction)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        import_file(big, dest_dir=dest, progress=progress, cancel=token)
    assert leftovers(dest) == []


def test_error_midway_leaves_no_file(write, dest):
    # The file turns out not to be UTF-8 after more than one row group was written.
    data = jsonl(record(i) for i in range(3000)).encode() + b'{"text": "\xff"}\n'
    with pytest.raises(DataImportError, match="byte offset"):
        import_file(write("late.jsonl", data), dest_dir=dest, on_invalid="skip")
    assert leftovers(dest) == []


def test_progress_is_by_bytes_and_monotonic(big, dest):
    seen = []
    import_file(big, dest_dir=dest, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(fractions) >= 20  # reported while reading (about every 1%), not only at the ends
    assert "25,000" in seen[-1][1]


def test_read_rows_pages_and_reads_only_needed_row_groups(big, dest, monkeypatch):
    outcome = import_file(big, dest_dir=dest)
    assert count_rows(outcome.parquet_path) == 25_000
    meta = pq.ParquetFile(outcome.parquet_path).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [10_000, 10_000, 5_000]

    asked = []
    original = pq.ParquetFile.read_row_groups
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups",
                        lambda self, groups, *a, **k: asked.append(list(groups)) or original(self, groups, *a, **k))
    page = read_rows(outcome.parquet_path, 9995, 10)  # spans groups 0 and 1
    assert [r["index"] for r in page] == list(range(9995, 10005))
    assert page[5]["messages"] == record(10000)["messages"]
    assert page[5]["source"] == record(10000) and page[5]["source_row"] == 10001
    assert read_rows(outcome.parquet_path, 20_480, 5)[0]["messages"] == record(20_480)["messages"]
    assert asked == [[0, 1], [2]]
    assert len(read_rows(outcome.parquet_path, 24_990, 100)) == 10
    assert read_rows(outcome.parquet_path, 50_000, 10) == []
    assert sum(1 for _ in iter_messages(outcome.parquet_path)) == 25_000


def test_memory_does_not_grow_with_file_size(tmp_path, dest):
    # ~4 MB of JSON Lines (gzip keeps the file small on disk); peak stays ~1.4 MB at any size.
    path = tmp_path / "large.jsonl.gz"
    filler = "x" * 150
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for i in range(12000):
            f.write(json.dumps({"prompt": f"{i} {filler}", "completion": filler}) + "\n")
    tracemalloc.start()
    try:
        outcome = import_file(path, dest_dir=dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.row_count == 12000
    assert peak < 2_500_000, f"peak Python memory {peak:,} bytes for a 4 MB file"
