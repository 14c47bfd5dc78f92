"""Formats are detected and normalised to chat messages; each validation problem is reported
with the right place and field."""

from __future__ import annotations

import json

import pytest

from workbench.core.errors import DataImportError
from workbench.data import ProblemKind, get_format, import_file, preview_file, read_rows

SYS = "You are a helpful shop assistant."


def jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def imported(path, dest, **kw):
    outcome = import_file(path, dest_dir=dest, **kw)
    return outcome, [row["messages"] for row in read_rows(outcome.parquet_path, 0, 100)]


FORMAT_CASES = {
    "openai_messages": (
        {"messages": [{"role": "system", "content": SYS}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello!"}]},
        [("system", SYS), ("user", "Hi"), ("assistant", "Hello!")],
    ),
    "sharegpt": (
        {"conversations": [{"from": "system", "value": SYS}, {"from": "human", "value": "Hi"},
                           {"from": "gpt", "value": "Hello!"}, {"from": "human", "value": "Bye"},
                           {"from": "gpt", "value": "Bye!"}]},
        [("system", SYS), ("user", "Hi"), ("assistant", "Hello!"), ("user", "Bye"), ("assistant", "Bye!")],
    ),
    "alpaca": (
        {"instruction": "Translate", "input": "bonjour", "output": "hello", "system": SYS},
        [("system", SYS), ("user", "Translate\n\nbonjour"), ("assistant", "hello")],
    ),
    "prompt_completion": (
        {"prompt": "2+2?", "completion": "4"},
        [("user", "2+2?"), ("assistant", "4")],
    ),
    "text": (
        {"text": "Once upon a time."},
        [("assistant", "Once upon a time.")],
    ),
}


@pytest.mark.parametrize("name", list(FORMAT_CASES))
def test_each_format_is_detected_and_normalised(write, dest, name):
    record, expected = FORMAT_CASES[name]
    outcome, rows = imported(write(f"{name}.jsonl", jsonl([record, record])), dest)
    assert outcome.format == name
    assert outcome.row_count == 2
    assert rows[0] == [{"role": r, "content": c} for r, c in expected]
    source = read_rows(outcome.parquet_path, 0, 1)[0]["source"]
    assert source == record  # the original record is kept for lineage


def test_alpaca_without_input_and_csv_messages_column(write, dest):
    outcome, rows = imported(write("a.csv", 'instruction,input,output\nSay hi,,Hi!\n'), dest)
    assert outcome.format == "alpaca"
    assert rows == [[{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}]]

    turns = json.dumps([{"role": "user", "content": "a,b"}, {"role": "assistant", "content": "c"}])
    csv_text = 'messages\n"' + turns.replace('"', '""') + '"\n'
    outcome, rows = imported(write("m.csv", csv_text), dest)
    assert outcome.format == "openai_messages"
    assert rows[0][0] == {"role": "user", "content": "a,b"}


def test_openai_content_parts_and_developer_role(write, dest):
    record = {"messages": [{"role": "developer", "content": SYS},
                           {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                           {"role": "assistant", "content": "Yo", "weight": 1}]}
    _, rows = imported(write("p.jsonl", jsonl([record])), dest)
    assert rows[0] == [{"role": "system", "content": SYS}, {"role": "user", "content": "Hi"},
                       {"role": "assistant", "content": "Yo"}]


def test_sharegpt_turns_under_messages_key(write, dest):
    record = {"messages": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}]}
    outcome, rows = imported(write("s.jsonl", jsonl([record])), dest)
    assert outcome.format == "sharegpt"
    assert rows[0][1] == {"role": "assistant", "content": "Yo"}


def test_detection_follows_the_majority_and_can_be_overridden(write, dest):
    records = [{"prompt": "p", "completion": "c", "text": "t"}] * 3
    path = write("mixed.jsonl", jsonl(records))
    assert import_file(path, dest_dir=dest).format == "prompt_completion"
    outcome, rows = imported(path, dest, format="text")
    assert outcome.format == "text" and rows[0] == [{"role": "assistant", "content": "t"}]
    assert get_format("openai").name == "openai_messages"
    with pytest.raises(DataImportError, match="Unknown dataset format 'nope'"):
        import_file(path, dest_dir=dest, format="nope")


def test_unrecognised_format_lists_the_fields_seen(write, dest):
    with pytest.raises(DataImportError, match="fields seen: question, answer"):
        import_file(write("q.jsonl", jsonl([{"question": "q", "answer": "a"}])), dest_dir=dest)


def test_preview_shows_first_records_and_fields(write):
    path = write("pv.jsonl", jsonl([{"instruction": "i", "output": "o"}, {"instruction": "", "output": "o"}]))
    preview = preview_file(path, limit=5)
    assert (preview.file_kind, preview.format, preview.detected_format) == ("jsonl", "alpaca", "alpaca")
    assert preview.fields == ["instruction", "output"]
    assert preview.records[0].messages[1] == {"role": "assistant", "content": "o"}
    assert preview.records[1].problems[0].kind == ProblemKind.EMPTY_MESSAGE


# One bad record per case: (record, kind, field). The good record first so detection works.
GOOD = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
BAD_CASES = [
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "  "}]},
     ProblemKind.EMPTY_MESSAGE, "messages[1].content"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": 42}]},
     ProblemKind.NON_TEXT, "messages[1].content"),
    ({"messages": [{"role": "user", "content": "q"},
                   {"role": "assistant", "content": [{"type": "image_url", "image_url": "x"}]}]},
     ProblemKind.NON_TEXT, "messages[1].content"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "robot", "content": "a"}]},
     ProblemKind.UNKNOWN_ROLE, "messages[1].role"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "a"}]},
     ProblemKind.ROLE_ORDER, "messages[1].content"),  # a tool result with no call before it
    ({"messages": [{"content": "q"}, {"role": "assistant", "content": "a"}]},
     ProblemKind.MISSING_FIELD, "messages[0].role"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                   {"role": "assistant", "content": "b"}]},
     ProblemKind.ROLE_ORDER, "messages[2].content"),
    ({"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]},
     ProblemKind.ROLE_ORDER, "messages[0].content"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                   {"role": "system", "content": "s"}]},
     ProblemKind.ROLE_ORDER, "messages[2].content"),
    ({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]},
     ProblemKind.ROLE_ORDER, "messages"),
    ({"messages": []}, ProblemKind.EMPTY_CONVERSATION, "messages"),
    ({"messages": "not a list"}, ProblemKind.MALFORMED_JSON, "messages"),
    ({"messages": ["hi", {"role": "assistant", "content": "a"}]}, ProblemKind.NOT_AN_OBJECT, "messages[0]"),
    ({"conversation": "missing the messages key"}, ProblemKind.MISSING_FIELD, "messages"),
    (["a list, not an object"], ProblemKind.NOT_AN_OBJECT, None),
]


@pytest.mark.parametrize("bad,kind,field", BAD_CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(BAD_CASES)])
def test_each_problem_has_kind_line_and_field(write, dest, bad, kind, field):
    path = write("bad.jsonl", jsonl([GOOD, GOOD]) + "\n" + jsonl([bad]))  # bad record on line 4
    outcome = import_file(path, dest_dir=dest, on_invalid="skip", format="openai_messages")
    assert outcome.row_count == 2 and outcome.skipped_count == 1
    first = outcome.problems[0]
    assert (first.kind, first.line, first.field, first.file) == (kind, 4, field, "bad.jsonl")
    assert first.message and first.advice
    assert "bad.jsonl, line 4" in str(first)


def test_alpaca_missing_and_non_text_fields(write, dest):
    records = [{"instruction": "i", "output": "o"}, {"instruction": "i"},
               {"instruction": ["x"], "output": "o"}, {"instruction": "i", "output": None}]
    outcome = import_file(write("al.jsonl", jsonl(records)), dest_dir=dest, on_invalid="skip")
    got = [(p.line, p.kind, p.field) for p in outcome.problems]
    assert got == [(2, ProblemKind.MISSING_FIELD, "output"), (3, ProblemKind.NON_TEXT, "instruction"),
                   (4, ProblemKind.MISSING_FIELD, "output")]


def test_csv_problems_carry_row_numbers(write, dest):
    text = "prompt,completion\nq,a\nq2\n,a3\nq4,a4\n"
    outcome = import_file(write("pc.csv", text), dest_dir=dest, on_invalid="skip")
    got = [(p.row, p.kind, p.field) for p in outcome.problems]
    assert got == [(3, ProblemKind.RAGGED_ROW, None), (4, ProblemKind.EMPTY_MESSAGE, "prompt")]
    assert outcome.row_count == 2
    assert [r["source_row"] for r in read_rows(outcome.parquet_path, 0, 10)] == [2, 5]
    assert "pc.csv, row 4, field 'prompt'" in str(outcome.problems[1])


def test_malformed_json_line_is_reported_with_its_line(write, dest):
    path = write("m.jsonl", jsonl([GOOD]) + '{"messages": [}\n' + jsonl([GOOD]))
    outcome = import_file(path, dest_dir=dest, on_invalid="skip")
    assert [(p.line, p.kind) for p in outcome.problems] == [(2, ProblemKind.MALFORMED_JSON)]
    assert outcome.row_count == 2
