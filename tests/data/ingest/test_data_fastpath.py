"""The JSONL fast path (Arrow) and the Python path give byte-identical versions; the fast path
really runs on clean blocks and hands every doubtful record to the Python path."""

from __future__ import annotations

import json
import random

import pytest

from workbench.data import import_file, read_rows
from workbench.data.ingest import jsonl_fast, text_inputs
from workbench.data.formats.problems import ProblemKind


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of ~2 KiB, so a small file spans many blocks (and block boundaries)."""
    monkeypatch.setattr(text_inputs, "_MIN_BLOCK", 2048)


@pytest.fixture
def converted(monkeypatch):
    """Counts the blocks the fast path took (FastRows) and gave back (None)."""
    counts = {"fast": 0, "fallback": 0, "rejected": 0}
    original = text_inputs.convert_block

    def counting(block, spec, threads=True):
        rows = original(block, spec, threads)
        counts["fast" if rows is not None else "fallback"] += 1
        counts["rejected"] += len(rows.unaccepted) if rows is not None else 0
        return rows

    monkeypatch.setattr(text_inputs, "convert_block", counting)
    return counts


def python_only(monkeypatch):
    monkeypatch.setattr(text_inputs, "spec_for", lambda fmt: None)


def import_both(path, tmp_path, monkeypatch, **kwargs):
    fast = import_file(path, dest_dir=tmp_path / "fast", **kwargs)
    with monkeypatch.context() as m:
        python_only(m)
        slow = import_file(path, dest_dir=tmp_path / "slow", **kwargs)
    return fast, slow


def assert_same(fast, slow):
    assert fast.content_hash == slow.content_hash
    assert fast.parquet_path.read_bytes() == slow.parquet_path.read_bytes()
    assert (fast.row_count, fast.skipped_count, fast.problem_count) == (slow.row_count, slow.skipped_count, slow.problem_count)
    assert fast.problems == slow.problems


TRICKY = ['say "hi"', "back\\slash", "two\nlines", "cr\r\nlf", "tab\there", "bell\x07", "unit\x1f",
          "del\x7f", "line\u2028sep", "emoji 😀", "café", "  padded  ", "\b\f", "nul\x00byte", "/slash"]


def test_tricky_text_is_identical_to_python_path(tmp_path, monkeypatch, converted, small_blocks):
    records = []
    for i, text in enumerate(TRICKY * 4):
        messages = [{"role": "user", "content": f"{i} {text}"}, {"role": "assistant", "content": text, "weight": 1}]
        if i % 3 == 0:
            messages.insert(0, {"role": ["system", "developer", " System "][i % 9 // 3], "content": text})
        records.append({"id": i, "messages": messages, "meta": {"n": [i, None, 1.5]}})
    path = tmp_path / "tricky.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=i % 2 == 0) + "\n" for i, r in enumerate(records)),
                    encoding="utf-8")
    fast, slow = import_both(path, tmp_path, monkeypatch)
    assert_same(fast, slow)
    assert fast.row_count == len(records) and converted["fast"] >= 3 and converted["fallback"] == 0
    row = read_rows(fast.parquet_path, 1, 1)[0]
    assert row["messages"][1] == {"role": "assistant", "content": TRICKY[1]}
    assert row["source"] == records[1] and row["source_row"] == 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_conversations_match_python_path(tmp_path, monkeypatch, converted, small_blocks, seed):
    rnd = random.Random(seed)
    alphabet = ["a", "é", '"', "\\", "\n", "\t", "\x01", " ", "\x1c", "\u3000", "😀", "{", "}"]

    def text():
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6)))

    lines = []
    for i in range(400):
        turns = []
        if rnd.random() < 0.3:
            turns.append({"role": rnd.choice(["system", "developer", "System "]), "content": text() or "s"})
        for _ in range(rnd.randint(0, 3)):
            turns.append({"role": rnd.choice(["user", "USER", "user"]), "content": text()})
            turns.append({"role": rnd.choice(["assistant", "assistant", "tool", "gpt"]), "content": text()})
        if rnd.random() < 0.1:
            rnd.shuffle(turns)
        line = json.dumps({"messages": turns, "i": i}, ensure_ascii=rnd.random() < 0.5)
        lines.append(("  " + line + " \r") if rnd.random() < 0.05 else line)
    path = tmp_path / "random.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, slow = import_both(path, tmp_path, monkeypatch, on_invalid="skip")
    assert_same(fast, slow)
    assert fast.skipped_count > 0 and fast.row_count > 0
    assert converted["fast"] > 0 and converted["rejected"] > 0  # bad rows inside fast blocks


def test_rejected_rows_are_reported_with_their_lines(tmp_path, converted):
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    records = [good] * 10
    records[3] = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": " "}]}
    records[7] = {"messages": [{"role": "assistant", "content": "a"}]}
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    outcome = import_file(path, dest_dir=tmp_path / "out", on_invalid="skip")
    assert converted == {"fast": 1, "fallback": 0, "rejected": 2}
    assert [(p.line, p.kind) for p in outcome.problems] == [
        (4, ProblemKind.EMPTY_MESSAGE), (8, ProblemKind.ROLE_ORDER)]
    assert outcome.problems[0].raw == json.dumps(records[3])
    assert [r["source_row"] for r in read_rows(outcome.parquet_path, 0, 10)] == [1, 2, 3, 5, 6, 7, 9, 10]


def test_a_record_only_python_accepts_makes_python_redo_the_block(tmp_path, monkeypatch, converted):
    # from/value turns in an OpenAI file: the Python path accepts that key pair, the fast path
    # does not read it; the block must come out exactly as the Python path writes it.
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    other = {"messages": [{"from": "user", "value": "q2"}, {"from": "assistant", "value": "a2"}]}
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [good, good, other, good]), encoding="utf-8")
    fast, slow = import_both(path, tmp_path, monkeypatch, format="openai_messages")
    assert_same(fast, slow)
    assert fast.row_count == 4 and converted["rejected"] == 1
    assert read_rows(fast.parquet_path, 2, 1)[0]["messages"][1] == {"role": "assistant", "content": "a2"}


@pytest.mark.parametrize("text,expected_rows,bad_lines", [
    ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}'
     ' {"messages": []}\n', 0, [1]),  # two objects on one line
    ('{"messages": [\n{"role": "user", "content": "q"}]}\n', 0, [1, 2]),  # a record over two lines
    ('\ufeff{"text": "bom"}\n\n\r\n{"text": "x"}', 2, []),  # BOM, blank and CRLF lines, no final newline
    ('{"text": "dup", "text": "last wins"}\n', 1, []),
    ('{"text": "\\ud800 lone surrogate"}\n{"text": "ok"}\n', 1, [1]),
])
def test_lines_the_fast_path_cannot_pair_up_fall_back(tmp_path, monkeypatch, text, expected_rows, bad_lines):
    path = tmp_path / "odd.jsonl"
    path.write_text(text, encoding="utf-8")
    fmt = "text" if '"text"' in text else "openai_messages"
    kwargs = {"on_invalid": "skip", "format": fmt}
    if expected_rows == 0:
        with pytest.raises(Exception) as err:
            import_file(path, dest_dir=tmp_path / "out", **kwargs)
        assert "none of its" in str(err.value)
        return
    fast, slow = import_both(path, tmp_path, monkeypatch, **kwargs)
    assert_same(fast, slow)
    assert fast.row_count == expected_rows
    assert [p.line for p in fast.problems] == bad_lines


def test_sharegpt_takes_the_fast_path(tmp_path, monkeypatch, converted):
    record = {"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": 'q "1"'},
                                {"from": "gpt", "value": "a\n1"}]}
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    fast, slow = import_both(path, tmp_path, monkeypatch)
    assert_same(fast, slow)
    assert fast.format == "sharegpt" and converted["fast"] == 1
    assert read_rows(fast.parquet_path, 0, 1)[0]["messages"][2] == {"role": "assistant", "content": "a\n1"}


def test_one_or_two_converter_threads_give_the_same_file(tmp_path, monkeypatch, small_blocks):
    good = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
            for i in range(300)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in good), encoding="utf-8")
    monkeypatch.setattr(text_inputs, "converter_threads", lambda: 1)
    one = import_file(path, dest_dir=tmp_path / "one")
    monkeypatch.setattr(text_inputs, "converter_threads", lambda: 2)
    two = import_file(path, dest_dir=tmp_path / "two")
    assert one.parquet_path.read_bytes() == two.parquet_path.read_bytes()


def test_python_whitespace_set_is_exactly_str_isspace():
    expected = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(jsonl_fast.PY_WHITESPACE) == expected


COLUMN_FIELDS = {
    "text": ("text",),
    "prompt_completion": ("prompt", "completion"),
    "alpaca": ("instruction", "input", "output", "system"),
}


@pytest.mark.parametrize("fmt", list(COLUMN_FIELDS))
def test_column_formats_match_python_path(tmp_path, monkeypatch, converted, small_blocks, fmt):
    rnd = random.Random(fmt)
    texts = ["", " ", "\u3000", "\x1c", "plain", 'say "hi"\nbye', "tab\t", "é😀", "\x01ctl", "  pad  "]
    lines = []
    for i in range(300):
        record = {"id": i}
        for field in COLUMN_FIELDS[fmt]:
            roll = rnd.random()
            if roll < 0.08:
                continue  # missing
            record[field] = None if roll < 0.12 else rnd.choice(texts) + (f" {i}" if roll > 0.5 else "")
        lines.append(json.dumps(record, ensure_ascii=rnd.random() < 0.5))
    path = tmp_path / f"{fmt}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, slow = import_both(path, tmp_path, monkeypatch, on_invalid="skip", format=fmt)
    assert_same(fast, slow)
    assert fast.row_count > 50 and fast.skipped_count > 10
    assert converted["fast"] >= 3 and converted["fallback"] == 0 and converted["rejected"] == fast.skipped_count


def test_a_number_where_text_belongs_sends_the_block_to_python(tmp_path, monkeypatch, converted):
    path = tmp_path / "pc.jsonl"
    path.write_text('{"prompt": "2+2?", "completion": 4}\n{"prompt": "q", "completion": "a"}\n', encoding="utf-8")
    fast, slow = import_both(path, tmp_path, monkeypatch, on_invalid="skip")
    assert_same(fast, slow)
    assert converted == {"fast": 0, "fallback": 1, "rejected": 0}
    assert fast.problems[0].kind == ProblemKind.NON_TEXT and fast.row_count == 1
