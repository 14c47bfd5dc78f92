"""Every input type end to end, from real files the tests write: Parquet, Arrow IPC, Hugging Face
save_to_disk folders, plain text in its three modes, folders of text files, gzip of each, and
text in other encodings."""

from __future__ import annotations

import datetime
import gzip
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.core.errors import DataImportError
from workbench.data import import_file, preview_file, read_rows
from workbench.data.formats.problems import ProblemKind

CHAT = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]


def gz(path):
    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as f, gzip.open(target, "wb") as g:
        shutil.copyfileobj(f, g)
    return target


def contents(outcome):
    return [[m["content"] for m in row["messages"]] for row in read_rows(outcome.parquet_path, 0, 10_000)]


# -- Parquet -------------------------------------------------------------------------------------
def test_parquet_with_format_columns_in_batches(tmp_path, dest):
    rows = [{"instruction": f"q{i}", "input": "", "output": f"a{i}", "n": i} for i in range(2500)]
    rows[1200]["output"] = None  # a problem in the second batch
    path = tmp_path / "alpaca.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=700)
    outcome = import_file(path, dest_dir=dest, on_invalid="skip")
    assert (outcome.file_kind, outcome.format, outcome.row_count, outcome.encoding) == ("parquet", "alpaca", 2499, "")
    assert [(p.index, p.kind, p.field) for p in outcome.problems] == [(1200, ProblemKind.MISSING_FIELD, "output")]
    assert "alpaca.parquet, record 1200" in str(outcome.problems[0])
    first = read_rows(outcome.parquet_path, 0, 1)[0]
    assert first["messages"] == [{"role": "user", "content": "q0"}, {"role": "assistant", "content": "a0"}]
    assert first["source"] == rows[0] and first["source_row"] == 0
    assert read_rows(outcome.parquet_path, 2498, 1)[0]["source_row"] == 2499  # order kept across batches
    # Behind gzip: the same rows, the hash of the gzip bytes.
    zipped = import_file(gz(path), dest_dir=dest, on_invalid="skip")
    assert zipped.content_hash == outcome.content_hash and zipped.source_hash != outcome.source_hash


def test_parquet_messages_column_and_unusual_types(tmp_path, dest):
    table = pa.table({
        "messages": [CHAT, CHAT],
        "when": pa.array([datetime.datetime(2024, 5, 1, 12, 0), None], pa.timestamp("s")),
        "blob": pa.array([b"\x00\x01", b""], pa.binary()),
    })
    path = tmp_path / "chats.parquet"
    pq.write_table(table, path)
    outcome = import_file(path, dest_dir=dest)
    assert outcome.format == "openai_messages" and outcome.row_count == 2
    source = read_rows(outcome.parquet_path, 0, 1)[0]["source"]
    assert source["when"] == "2024-05-01 12:00:00" and source["messages"] == CHAT  # JSON-less types as text


def test_damaged_parquet_is_a_clear_error(tmp_path, dest):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"text": ["x"] * 100}), good)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-40])  # footer cut off
    with pytest.raises(DataImportError, match="bad.parquet cannot be read as a Parquet file"):
        import_file(bad, dest_dir=dest)
    (tmp_path / "bad2.parquet.gz").write_bytes(b"\x1f\x8b\x08\x00not gzip at all")
    with pytest.raises(DataImportError, match="not a valid gzip"):
        import_file(tmp_path / "bad2.parquet.gz", dest_dir=dest)
    assert not dest.exists() or not list(dest.iterdir())


# -- Arrow and Hugging Face folders --------------------------------------------------------------
def write_stream(path, table, file_format=False):
    with pa.OSFile(str(path), "wb") as sink:
        writer = pa.ipc.new_file(sink, table.schema) if file_format else pa.ipc.new_stream(sink, table.schema)
        with writer:
            for batch in table.to_batches(max_chunksize=2):
                writer.write_batch(batch)


def hf_folder(folder, tables, split_name=None):
    """A folder laid out as datasets' save_to_disk writes it (one or more stream .arrow files)."""
    folder.mkdir(parents=True)
    names = []
    for i, table in enumerate(tables):
        name = f"data-{i:05d}-of-{len(tables):05d}.arrow"
        write_stream(folder / name, table)
        names.append({"filename": name})
    (folder / "state.json").write_text(json.dumps({"_data_files": names, "_split": split_name}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}))
    return folder


def test_arrow_files_stream_and_file_format(tmp_path, dest):
    table = pa.table({"prompt": ["p1", "p2", "p3"], "completion": ["c1", "c2", "c3"]})
    write_stream(tmp_path / "s.arrow", table)
    write_stream(tmp_path / "f.arrow", table, file_format=True)
    a = import_file(tmp_path / "s.arrow", dest_dir=dest)
    b = import_file(tmp_path / "f.arrow", dest_dir=dest)
    c = import_file(gz(tmp_path / "s.arrow"), dest_dir=dest)
    assert a.file_kind == "arrow" and a.format == "prompt_completion" and a.row_count == 3
    assert a.content_hash == b.content_hash == c.content_hash
    assert contents(a)[2] == ["p3", "c3"]


def test_hf_dataset_folder_is_read_without_datasets(tmp_path, dest):
    first = pa.table({"messages": [CHAT] * 3})
    second = pa.table({"messages": [[{"role": "user", "content": "2nd"}, {"role": "assistant", "content": "file"}]]})
    folder = hf_folder(tmp_path / "saved", [first, second])
    preview = preview_file(folder)
    assert (preview.file_kind, preview.format, preview.splits) == ("hf_dataset", "openai_messages", ())
    outcome = import_file(folder, dest_dir=dest)
    assert (outcome.file_kind, outcome.row_count, outcome.source_name) == ("hf_dataset", 4, "saved")
    assert contents(outcome)[3] == ["2nd", "file"]
    with pytest.raises(DataImportError, match="single dataset, not a dict of splits"):
        import_file(folder, dest_dir=dest, split="test")
    (folder / "data-00001-of-00002.arrow").unlink()
    with pytest.raises(DataImportError, match="data-00001-of-00002.arrow"):
        import_file(folder, dest_dir=dest)


def test_hf_dataset_dict_picks_train_or_the_chosen_split(tmp_path, dest):
    root = tmp_path / "dd"
    hf_folder(root / "train", [pa.table({"text": ["t1", "t2"]})], "train")
    hf_folder(root / "test", [pa.table({"text": ["x1"]})], "test")
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    preview = preview_file(root)
    assert preview.splits == ("train", "test") and preview.split == "train"
    train = import_file(root, dest_dir=dest)
    assert (train.row_count, train.source_name, train.options) == (2, "dd[train]", {"split": "train"})
    test = import_file(root, dest_dir=dest, split="test")
    assert contents(test) == [["x1"]] and test.options == {"split": "test"}
    with pytest.raises(DataImportError, match="no split 'dev' .*train, test"):
        import_file(root, dest_dir=dest, split="dev")


def test_real_save_to_disk_folder(tmp_path, dest):
    datasets = pytest.importorskip("datasets")
    records = [{"instruction": f"i{n}", "output": f"o{n}"} for n in range(5)]
    datasets.Dataset.from_list(records).save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict({"validation": datasets.Dataset.from_list(records[:2])}).save_to_disk(str(tmp_path / "dd"))
    outcome = import_file(tmp_path / "ds", dest_dir=dest)
    assert (outcome.format, outcome.row_count) == ("alpaca", 5)
    assert contents(outcome)[4] == ["i4", "o4"]
    only = import_file(tmp_path / "dd", dest_dir=dest)  # no train split, but only one split
    assert only.row_count == 2 and only.options == {"split": "validation"}


# -- plain text ----------------------------------------------------------------------------------
TEXT = "First paragraph,\nsecond line.\r\n\n  \n\nSecond paragraph.\n\nThird\n"


@pytest.mark.parametrize("mode,expected,rows", [
    ("file", [TEXT.replace("\r\n", "\n")], [1]),
    ("paragraph", ["First paragraph,\nsecond line.", "Second paragraph.", "Third"], [1, 6, 8]),
    ("line", ["First paragraph,", "second line.", "Second paragraph.", "Third"], [1, 2, 6, 8]),
])
def test_text_modes(write, dest, mode, expected, rows):
    path = write("notes.txt", TEXT)
    outcome = import_file(path, dest_dir=dest, text_mode=mode)
    assert (outcome.file_kind, outcome.format, outcome.options) == ("text", "text", {"text_mode": mode})
    stored = read_rows(outcome.parquet_path, 0, 10)
    texts = [r["messages"][0]["content"] for r in stored]
    if mode == "file":
        texts = [t.replace("\r\n", "\n") for t in texts]
    assert texts == expected
    assert [r["messages"][0]["role"] for r in stored] == ["assistant"] * len(expected)
    assert [r["source_row"] for r in stored] == rows


def test_text_defaults_markdown_gzip_and_jsonl_named_txt(write, dest):
    md = import_file(write("doc.md", "# Title\n\nBody text.\n"), dest_dir=dest)
    assert md.row_count == 2 and md.options == {"text_mode": "paragraph"}
    zipped = import_file(write("doc.txt.gz", "one\n\ntwo\n", gz=True), dest_dir=dest, text_mode="line")
    assert zipped.file_kind == "text" and contents(zipped) == [["one"], ["two"]]
    lines = import_file(write("really.txt", json.dumps({"messages": CHAT}) + "\n"), dest_dir=dest)
    assert lines.file_kind == "jsonl"  # JSON Lines saved as .txt is still read as JSON Lines
    forced = import_file(write("really2.txt", json.dumps({"messages": CHAT}) + "\n"), dest_dir=dest, text_mode="file")
    assert forced.file_kind == "text"
    with pytest.raises(DataImportError, match="Unknown text mode 'words'"):
        import_file(write("x.txt", "a"), dest_dir=dest, text_mode="words")
    with pytest.raises(DataImportError, match="holds no records"):
        import_file(write("empty.txt", ""), dest_dir=dest)


def test_folder_of_text_files(tmp_path, dest):
    folder = tmp_path / "stories"
    folder.mkdir()
    (folder / "b.txt").write_text("Story B.\n\nPart two.", encoding="utf-8")
    (folder / "a.md").write_text("Story A.", encoding="utf-8")
    (folder / "c.txt").write_bytes(b"")
    with gzip.open(folder / "d.txt.gz", "wt", encoding="utf-8") as f:
        f.write("Story D.")
    (folder / ".hidden.txt").write_text("skip me")
    (folder / "notes.csv").write_text("not,text")
    (folder / "sub").mkdir()
    (folder / "sub" / "e.txt").write_text("not read: subfolder")
    outcome = import_file(folder, dest_dir=dest, on_invalid="skip")
    assert (outcome.file_kind, outcome.row_count, outcome.options) == ("folder", 3, {"text_mode": "file"})
    rows = read_rows(outcome.parquet_path, 0, 10)
    assert [r["source"]["file"] for r in rows] == ["a.md", "b.txt", "d.txt.gz"]
    assert rows[1]["messages"][0]["content"] == "Story B.\n\nPart two."
    assert [r["source_row"] for r in rows] == [0, 1, 3]
    (problem,) = outcome.problems
    assert problem.file == "stories/c.txt" and "holds no text" in problem.message
    paragraphs = import_file(folder, dest_dir=dest, text_mode="paragraph", on_invalid="skip")
    assert [r["messages"][0]["content"] for r in read_rows(paragraphs.parquet_path, 0, 10)] == [
        "Story A.", "Story B.", "Part two.", "Story D."]
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "x.csv").write_text("a,b")
    with pytest.raises(DataImportError, match="holds no .txt or .md files"):
        import_file(empty, dest_dir=dest)


def test_bad_file_in_a_folder_names_it(tmp_path, dest):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine")
    (folder / "win.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(DataImportError, match=r"f/win.txt is not valid UTF-8 text: byte offset 3"):
        import_file(folder, dest_dir=dest)
    outcome = import_file(folder, dest_dir=dest, encoding="cp1252")
    assert contents(outcome) == [["fine"], ["café"]]


# -- encodings -----------------------------------------------------------------------------------
WINDOWS_TEXT = "prompt,completion\n“Smart quotes” and café,Naïve — fine\n"


def test_windows_1252_is_refused_with_where_and_what_to_do(write, dest):
    data = WINDOWS_TEXT.encode("cp1252")
    path = write("win.csv", data)
    with pytest.raises(DataImportError) as err:
        import_file(path, dest_dir=dest)
    message = err.value.user_message
    offset = data.index("“".encode("cp1252"))
    assert "win.csv" in message and f"byte offset {offset} " in message and "line 2" in message
    assert "Windows-1252" in message
    assert "UTF-8" in err.value.advice and "encoding set to cp1252" in err.value.advice
    outcome = import_file(path, dest_dir=dest, encoding="cp1252")
    assert contents(outcome) == [["“Smart quotes” and café", "Naïve — fine"]]
    assert (outcome.encoding, outcome.options) == ("cp1252", {"encoding": "cp1252"})
    preview = preview_file(path, encoding="cp1252")
    assert preview.encoding == "cp1252" and preview.records[0].messages[0]["content"].startswith("“")


def test_bytes_cp1252_leaves_undefined_suggest_latin1(write, dest):
    path = write("l1.jsonl", b'{"text": "ctrl \x81 here"}\n')
    with pytest.raises(DataImportError, match="Latin-1") as err:
        import_file(path, dest_dir=dest)
    assert "encoding set to latin-1" in err.value.advice
    outcome = import_file(path, dest_dir=dest, encoding="latin-1")
    assert contents(outcome) == [["ctrl \x81 here"]]


def test_explicit_utf16_without_bom_and_unknown_encodings(write, dest):
    text = json.dumps({"text": "ünï"}) + "\n"
    path = write("u16.jsonl", text.encode("utf-16-le"))
    with pytest.raises(DataImportError, match="NUL byte"):
        import_file(path, dest_dir=dest)
    assert contents(import_file(path, dest_dir=dest, encoding="utf-16-le")) == [["ünï"]]
    for name in ("klingon", "base64"):
        with pytest.raises(DataImportError, match=f"Unknown text encoding '{name}'"):
            import_file(path, dest_dir=dest, encoding=name)


def test_source_hash_before_import_matches_the_outcome(tmp_path, dest):
    from workbench.data import source_hash

    plain = tmp_path / "a.jsonl"
    plain.write_text(json.dumps({"messages": CHAT}) + "\n", encoding="utf-8")
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"messages": [CHAT]}), parquet)
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "x.txt").write_text("one")
    (folder / "y.md").write_text("two")
    root = tmp_path / "dd"
    hf_folder(root / "train", [pa.table({"text": ["t"]})])
    hf_folder(root / "test", [pa.table({"text": ["x"]})])
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    for path, split in [(plain, None), (gz(plain), None), (parquet, None), (gz(parquet), None),
                        (folder, None), (root, None), (root, "test")]:
        assert source_hash(path, split=split) == import_file(path, dest_dir=dest, split=split).source_hash, path
    assert source_hash(root, split="test") != source_hash(root)
    with pytest.raises(DataImportError, match="does not exist"):
        source_hash(tmp_path / "missing.jsonl")
