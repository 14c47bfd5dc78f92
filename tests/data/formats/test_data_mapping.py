"""Column mapping: files whose format is not detected (or detected wrongly) are read through a
user's mapping of columns/keys to roles; previews show the fields to map."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.core.errors import DataImportError
from workbench.data import ColumnMapping, import_file, preview_file, read_rows
from workbench.data.formats.problems import ProblemKind


def messages(outcome, index=0):
    return read_rows(outcome.parquet_path, index, 1)[0]["messages"]


def test_one_column_per_role_from_csv(write, dest):
    path = write("qa.csv", "persona,question,answer\nYou are terse.,What is 2+2?,4\n,Capital of France?,Paris\n")
    with pytest.raises(DataImportError, match="not recognised .*question, answer"):
        import_file(path, dest_dir=dest)
    mapping = ColumnMapping(system="persona", user="question", assistant="answer")
    outcome = import_file(path, dest_dir=dest, mapping=mapping)
    assert outcome.format == "mapped" and outcome.row_count == 2
    assert messages(outcome) == [{"role": "system", "content": "You are terse."},
                                 {"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
    assert messages(outcome, 1) == [{"role": "user", "content": "Capital of France?"},
                                    {"role": "assistant", "content": "Paris"}]  # empty system left out
    expected = {"system": "persona", "user": "question", "assistant": "answer"}
    assert outcome.mapping == expected and outcome.options == {"mapping": expected}
    assert ColumnMapping.from_dict(json.loads(json.dumps(outcome.options["mapping"]))) == mapping


def test_several_columns_for_a_role_and_nested_keys(write, dest):
    records = [
        {"task": {"instruction": "Translate", "input": "bonjour"}, "reply": "hello"},
        {"task": {"instruction": "Say hi"}, "reply": "hi"},  # optional second column missing
        {"task": {"instruction": "", "input": "only input"}, "reply": "ok"},
        {"task": {"input": "no instruction"}, "reply": "x"},  # the first column is required
    ]
    path = write("nested.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    mapping = ColumnMapping(user=["task.instruction", "task.input"], assistant="reply")
    assert mapping.user == ("task.instruction", "task.input")
    outcome = import_file(path, dest_dir=dest, mapping=mapping, on_invalid="skip")
    assert outcome.row_count == 3
    assert [messages(outcome, i)[0]["content"] for i in range(3)] == ["Translate\n\nbonjour", "Say hi", "only input"]
    (problem,) = outcome.problems
    assert (problem.line, problem.kind, problem.field) == (4, ProblemKind.MISSING_FIELD, "task.instruction")
    assert outcome.mapping == {"user": ["task.instruction", "task.input"], "assistant": "reply"}


def test_list_of_turns_with_custom_keys_and_role_values(write, dest):
    records = [
        {"dialog": [{"speaker": "customer", "text": "Where is my order?"},
                    {"speaker": "agent", "text": "It ships today."}]},
        {"dialog": [{"speaker": "SYSTEM", "text": "Be kind."}, {"speaker": "Customer", "text": "Hi"},
                    {"speaker": "bot", "text": "Hello"}]},
    ]
    path = write("dialog.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    mapping = ColumnMapping(messages="dialog", role_key="speaker", content_key="text",
                            role_values={"customer": "user", "agent": "assistant"})
    outcome = import_file(path, dest_dir=dest, mapping=mapping, on_invalid="skip")
    assert outcome.row_count == 1
    assert messages(outcome) == [{"role": "user", "content": "Where is my order?"},
                                 {"role": "assistant", "content": "It ships today."}]
    (problem,) = outcome.problems
    assert (problem.line, problem.kind, problem.field) == (2, ProblemKind.UNKNOWN_ROLE, "dialog[2].speaker")
    assert "role values" in problem.advice
    fixed = ColumnMapping(**{**mapping.__dict__, "role_values": {**mapping.role_values, "bot": "assistant"}})
    assert import_file(path, dest_dir=dest, mapping=fixed).row_count == 2


def test_text_column_and_parquet_input(tmp_path, dest):
    path = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"body": ["Plain text one.", "Plain text two."], "id": [1, 2]}), path)
    outcome = import_file(path, dest_dir=dest, mapping=ColumnMapping(text="body"))
    assert messages(outcome, 1) == [{"role": "assistant", "content": "Plain text two."}]


def test_mapping_overrides_a_detected_format(write, dest):
    # Detected as prompt/completion, but the user wants the 'answer' column as the reply.
    record = {"prompt": "Q?", "completion": "draft", "answer": "final"}
    path = write("pc.jsonl", json.dumps(record) + "\n")
    assert import_file(path, dest_dir=dest).format == "prompt_completion"
    outcome = import_file(path, dest_dir=dest, mapping=ColumnMapping(user="prompt", assistant="answer"))
    assert messages(outcome)[1]["content"] == "final"


@pytest.mark.parametrize("mapping,message", [
    (ColumnMapping(), "maps no column"),
    (ColumnMapping(user="q"), "no assistant column"),
    (ColumnMapping(assistant="a"), "no user column"),
    (ColumnMapping(user="q", assistant="a", messages="m"), "not several"),
    (ColumnMapping(messages="m", role_values={"x": "robot"}), "must map to system, user, assistant, tool"),
    (ColumnMapping(user="nope", assistant="answer"), "names 'nope', which the first records do not have"),
])
def test_unusable_mappings_are_refused_before_reading(write, dest, mapping, message):
    path = write("qa.csv", "question,answer\nq,a\n")
    with pytest.raises(DataImportError, match=message):
        import_file(path, dest_dir=dest, mapping=mapping)
    assert not dest.exists() or not list(dest.iterdir())


def test_format_and_mapping_together_are_refused(write, dest):
    path = write("qa.csv", "question,answer\nq,a\n")
    with pytest.raises(DataImportError, match="not both"):
        import_file(path, dest_dir=dest, format="alpaca", mapping=ColumnMapping(user="question", assistant="answer"))


def test_preview_offers_fields_when_detection_fails_and_applies_a_mapping(write):
    records = [{"id": 1, "dialog": [{"speaker": "customer", "text": "hi"}, {"speaker": "agent", "text": "yo"}],
                "meta": {"lang": "en", "score": 3}}]
    path = write("unknown.jsonl", json.dumps(records[0]) + "\n")
    preview = preview_file(path)
    assert preview.format == "" and "not recognised" in preview.detection_error
    assert preview.fields == ["id", "dialog", "meta"]
    assert preview.nested_fields == {"dialog": ["speaker", "text"], "meta": ["lang", "score"]}
    assert preview.records[0].source == records[0] and preview.records[0].messages == []
    mapping = ColumnMapping(messages="dialog", role_key="speaker", content_key="text",
                            role_values={"customer": "user", "agent": "assistant"})
    mapped = preview_file(path, mapping=mapping)
    assert mapped.format == "mapped" and mapped.mapping == mapping.to_dict()
    assert mapped.records[0].messages == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    wrong = preview_file(path, mapping=ColumnMapping(user="id", assistant="meta"))
    assert [p.kind for p in wrong.records[0].problems] == [ProblemKind.NON_TEXT, ProblemKind.NON_TEXT]


def test_preview_lists_turn_keys_inside_a_csv_cell(write):
    turns = json.dumps([{"from": "human", "value": "a,b"}, {"from": "gpt", "value": "c"}]).replace('"', '""')
    preview = preview_file(write("cell.csv", f'chat,id\n"{turns}",1\n'))
    assert preview.nested_fields == {"chat": ["from", "value"]}
