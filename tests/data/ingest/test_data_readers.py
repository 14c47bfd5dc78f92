"""Readers: each file type streams its records with the right location; encodings; gzip."""

from __future__ import annotations

import codecs
import json

import pytest

from workbench.core.errors import DataImportError
from workbench.data.formats.problems import ProblemKind
from workbench.data.ingest.readers import file_kind, open_reader, sniff_delimiter
from workbench.data.ingest.textsource import TextSource

RECORDS = [{"text": "alpha"}, {"text": "béta ✓"}, {"text": "line\u2028sep"}]


def read_all(path, chunk_bytes=None):
    with TextSource(path, chunk_bytes or 1 << 16) as source:
        reader = open_reader(source)
        return reader.kind, list(reader.records()), source


def values(records):
    return [r.value for r in records]


def test_jsonl_locations_skip_blank_lines_and_flag_malformed(write):
    path = write("d.jsonl", '{"text": "a"}\n\n  \n{"text": "b"}\r\n{oops\n{"text": "c"}')
    kind, records, _ = read_all(path)
    assert kind == "jsonl"
    assert [(r.location.index, r.location.line) for r in records] == [(0, 1), (1, 4), (2, 5), (3, 6)]
    assert records[2].issue.kind == ProblemKind.MALFORMED_JSON
    assert values(records)[:2] == [{"text": "a"}, {"text": "b"}]
    assert records[3].value == {"text": "c"}  # no trailing newline still yields the record
    assert records[1].location.number == 4


@pytest.mark.parametrize("encoding,bom", [
    ("utf-8", b""),
    ("utf-8", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE),
])
def test_encodings_with_bom(write, encoding, bom):
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)
    path = write("e.jsonl", bom + text.encode(encoding))
    # Tiny chunks: multi-byte characters and UTF-16 code units split across reads.
    kind, records, source = read_all(path, chunk_bytes=7)
    assert values(records) == RECORDS
    assert source.encoding == encoding


def test_gzip_is_read_by_magic_and_hash_covers_raw_bytes(write):
    import hashlib

    text = "".join(json.dumps(r) + "\n" for r in RECORDS)
    path = write("g.jsonl.gz", text, gz=True)
    with TextSource(path) as source:
        records = list(open_reader(source).records())
        assert source.compressed
        assert source.source_hash() == hashlib.sha256(path.read_bytes()).hexdigest()
        assert source.bytes_read == path.stat().st_size
    assert values(records) == RECORDS


def test_undecodable_bytes_name_file_offset_and_line(write):
    data = '{"text": "ok"}\n{"text": "caf'.encode() + b"\xe9" + b'"}\n'  # latin-1 é
    path = write("latin.jsonl", data)
    with pytest.raises(DataImportError) as err:
        read_all(path, chunk_bytes=5)
    message = err.value.user_message
    offset = data.index(b"\xe9")
    assert "latin.jsonl" in message
    assert f"byte offset {offset} " in message
    assert "line 2" in message
    assert "UTF-8" in err.value.advice


def test_nul_bytes_mean_binary_or_utf16_without_bom(write):
    path = write("u16.jsonl", '{"text": "a"}\n'.encode("utf-16-le"))
    with pytest.raises(DataImportError, match="NUL byte"):
        read_all(path)


def test_bad_gzip_is_a_clear_error(write):
    path = write("bad.jsonl.gz", b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataImportError, match="not a valid gzip"):
        read_all(path)


def test_json_array_streams_with_index_and_line(write):
    text = '[\n  {"text": "a"},\n  {"text": "b"},\n\n  {"text": "c"}\n]\n'
    kind, records, _ = read_all(write("a.json", text), chunk_bytes=4)
    assert kind == "json"
    assert [(r.location.index, r.location.line) for r in records] == [(0, 2), (1, 3), (2, 5)]
    assert values(records) == [{"text": "a"}, {"text": "b"}, {"text": "c"}]
    assert records[2].location.number == 2  # JSON: the array index


def test_json_object_holding_one_list_of_records(write):
    text = json.dumps({"version": 2, "tags": ["x", "y"], "data": RECORDS, "note": "n"})
    kind, records, _ = read_all(write("o.json", text), chunk_bytes=9)
    assert values(records) == RECORDS


def test_json_single_record_object_is_one_record(write):
    record = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    text = json.dumps(record, indent=2)  # multi-line, so it is not taken for JSON Lines
    kind, records, _ = read_all(write("one.json", text))
    assert kind == "json"
    assert values(records) == [record]


def test_json_two_record_lists_are_ambiguous(write):
    text = json.dumps({"train": RECORDS, "test": RECORDS}, indent=1)
    with pytest.raises(DataImportError, match="more than one list of records"):
        read_all(write("two.json", text))


def test_broken_json_document_reports_line(write):
    text = '[\n {"text": "a"},\n {"text": "b" "oops": 1}\n]'
    with pytest.raises(DataImportError, match="line 3") as err:
        read_all(write("broken.json", text))
    assert "JSON Lines" in err.value.advice


def test_jsonl_saved_as_json_is_detected(write):
    path = write("really_lines.json", "".join(json.dumps(r) + "\n" for r in RECORDS))
    kind, records, _ = read_all(path)
    assert kind == "jsonl" and values(records) == RECORDS


def test_csv_quoted_newlines_bom_and_rows(write):
    text = 'prompt,completion\r\n"multi\nline, with comma","said ""hi"""\r\n\r\nshort\r\nx,y\r\n'
    kind, records, source = read_all(write("d.csv", codecs.BOM_UTF8 + text.encode()))
    assert kind == "csv"
    assert records[0].value == {"prompt": "multi\nline, with comma", "completion": 'said "hi"'}
    assert (records[0].location.row, records[0].location.line) == (2, 2)
    assert records[1].issue.kind == ProblemKind.RAGGED_ROW
    assert (records[1].location.row, records[1].location.line) == (3, 5)
    assert records[2].value == {"prompt": "x", "completion": "y"}
    assert records[2].location.row == 4 and records[2].location.number == 4


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_csv_delimiter_is_sniffed(write, delimiter):
    text = f'instruction{delimiter}output\n"A, b"{delimiter}C\n'
    kind, records, _ = read_all(write("s.csv", text))
    assert values(records) == [{"instruction": "A, b", "output": "C"}]


def test_tsv_by_extension_and_gz(write):
    text = "text\tother\nhello, world\t1\n"
    kind, records, _ = read_all(write("t.tsv.gz", text, gz=True))
    assert kind == "tsv"
    assert values(records) == [{"text": "hello, world", "other": "1"}]


def test_csv_header_without_name_is_refused(write):
    with pytest.raises(DataImportError, match="column 2 has no name"):
        read_all(write("h.csv", "prompt,,completion\na,b,c\n"))


def test_unknown_extension_is_sniffed():
    assert file_kind("x.txt", '{"a": 1}\n{"a": 2}\n') == "jsonl"
    assert file_kind("x.dat", '[{"a": 1}]') == "json"
    assert file_kind("x.data.gz", "a,b\n1,2\n") == "csv"
    assert sniff_delimiter("a;b;c\n1,2;3;4") == ";"
