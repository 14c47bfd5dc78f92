"""Nothing is dropped without a word: the mapping starts from the detected format (Alpaca's
input, system and history included), every field an import does not keep is listed with what
it means and how many records hold it, preference pairs and unanswered user turns are refused."""

from __future__ import annotations

import json

import pytest

from workbench.core.errors import DataImportError
from workbench.data import ColumnMapping, ProblemKind, import_file, preview_file, read_rows
from workbench.data.ingest import text_inputs


def jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def alpaca_records(n=30):
    """Rows with and without input; some with a system prompt, some with earlier turns."""
    out = []
    for i in range(n):
        r = {"instruction": f"Find the perimeter of triangle {i}.", "output": f"It is {3 * i + 12} cm."}
        if i % 3 != 2:
            r["input"] = f"The sides are {i + 3}, {i + 4} and {i + 5} cm."
        if i % 5 == 0:
            r["system"] = "You are a maths tutor."
        if i % 7 == 1:
            r["history"] = [[f"Hello {i}", "Hello! What shall we solve?"]]
        out.append(r)
    return out


def messages(outcome, index):
    return read_rows(outcome.parquet_path, index, 1)[0]["messages"]


def test_alpaca_keeps_input_system_and_history(write, dest):
    path = write("alpaca.jsonl", jsonl(alpaca_records()))
    outcome = import_file(path, dest_dir=dest)
    assert outcome.format == "alpaca" and outcome.row_count == 30 and outcome.unused_fields == ()
    assert messages(outcome, 0) == [
        {"role": "system", "content": "You are a maths tutor."},
        {"role": "user", "content": "Find the perimeter of triangle 0.\n\nThe sides are 3, 4 and 5 cm."},
        {"role": "assistant", "content": "It is 12 cm."}]
    assert messages(outcome, 1) == [
        {"role": "user", "content": "Hello 1"}, {"role": "assistant", "content": "Hello! What shall we solve?"},
        {"role": "user", "content": "Find the perimeter of triangle 1.\n\nThe sides are 4, 5 and 6 cm."},
        {"role": "assistant", "content": "It is 15 cm."}]
    assert messages(outcome, 2)[0] == {"role": "user", "content": "Find the perimeter of triangle 2."}


def test_alpaca_history_fast_and_python_paths_agree(write, tmp_path, monkeypatch):
    records = alpaca_records(200) + [{"instruction": "q", "output": "a", "history": []},
                                     {"instruction": "q", "output": "a", "history": [["only one"]]}]
    path = write("alpaca.jsonl", jsonl(records))
    fast = import_file(path, dest_dir=tmp_path / "fast", on_invalid="skip")
    monkeypatch.setattr(text_inputs, "spec_for", lambda fmt: None)
    slow = import_file(path, dest_dir=tmp_path / "slow", on_invalid="skip")
    assert fast.content_hash == slow.content_hash and fast.row_count == 201
    assert [(p.line, p.field) for p in fast.problems] == [(202, "history[0]")]


def test_mapping_starts_from_the_detected_format(write):
    path = write("alpaca.jsonl", jsonl(alpaca_records()))
    preview = preview_file(path)
    choices = preview.mapping_choices
    assert preview.format == "alpaca" and choices.suggested_from == "alpaca"
    assert choices.suggested == {"system": "system", "user": ["instruction", "input"], "assistant": "output",
                                 "history": "history"}
    assert ColumnMapping.from_dict(choices.suggested) == ColumnMapping.from_detected("alpaca", preview.fields)
    # Without input, system or history in the file the mapping leaves them out.
    assert ColumnMapping.from_detected("alpaca", ["instruction", "output"]) == ColumnMapping(
        user="instruction", assistant="output")
    assert ColumnMapping.from_detected("prompt_completion", ["prompt", "completion"]) == ColumnMapping(
        user="prompt", assistant="completion")
    assert ColumnMapping.from_detected("sharegpt", ["conversations"], {"conversations": ["from", "value"]}) == \
        ColumnMapping(messages="conversations", role_key="from", content_key="value")
    assert ColumnMapping.from_detected("openai_messages", ["messages"], {"messages": ["role", "content"]}) == \
        ColumnMapping(messages="messages")


def test_the_suggested_mapping_imports_what_the_format_does(write, tmp_path):
    path = write("alpaca.jsonl", jsonl(alpaca_records()))
    detected = import_file(path, dest_dir=tmp_path / "a")
    mapped = import_file(path, dest_dir=tmp_path / "b",
                         mapping=ColumnMapping.from_dict(preview_file(path).mapping_choices.suggested))
    assert mapped.format == "mapped" and mapped.content_hash == detected.content_hash
    assert mapped.unused_fields == ()


def test_guess_from_field_names():
    guess = ColumnMapping.guess(["Instruction", "Input", "Response", "persona", "id"])
    assert guess == ColumnMapping(system="persona", user=("Instruction", "Input"), assistant="Response")
    turns = ColumnMapping.guess(["ticket", "dialog"], {"dialog": ["speaker", "text"]})
    assert turns == ColumnMapping(messages="dialog", role_key="speaker", content_key="text")
    assert ColumnMapping.guess(["body"]) == ColumnMapping(text="body")
    assert ColumnMapping.guess([]) is None


def test_a_mapping_that_leaves_out_input_says_so(write, tmp_path):
    path = write("alpaca.jsonl", jsonl(alpaca_records()))
    mapping = ColumnMapping(user="instruction", assistant="output")
    with_input = sum(1 for r in alpaca_records() if r.get("input"))
    preview = preview_file(path, mapping=mapping)
    by_name = {u.name: u for u in preview.unused_fields}
    assert set(by_name) == {"input", "system", "history"}
    assert (by_name["input"].rows, by_name["input"].read) == (with_input, 30)
    assert "the detected Alpaca format reads it as the second part of the user message" in by_name["input"].message()
    outcome = import_file(path, dest_dir=tmp_path / "m", mapping=mapping)
    assert {u.name: u.rows for u in outcome.unused_fields} == {"input": with_input, "system": 6, "history": 5}
    assert "input (20 of 30 records): the detected Alpaca" in outcome.unused_fields[0].message()


def tool_records(n=60):
    out = []
    for i in range(n):
        r = {"conversations": [{"from": "human", "value": f"Weather in city {i}?"},
                               {"from": "gpt", "value": f"Sunny in city {i}."}]}
        if i % 3 == 0:
            r["tools"] = json.dumps([{"name": "get_weather", "parameters": {"city": "string"}}])
        elif i % 3 == 1:
            r["tools"] = ""  # empty: nothing is lost
        out.append(r)
    return out


def test_tool_definitions_are_kept_and_a_mapping_that_drops_them_says_so(write, tmp_path, monkeypatch):
    path = write("tools.jsonl", jsonl(tool_records()))
    assert preview_file(path).unused_fields == ()  # ShareGPT reads tools
    fast = import_file(path, dest_dir=tmp_path / "fast")
    monkeypatch.setattr(text_inputs, "spec_for", lambda fmt: None)
    slow = import_file(path, dest_dir=tmp_path / "slow")
    assert fast.content_hash == slow.content_hash and fast.unused_fields == slow.unused_fields == ()
    assert fast.row_count == 60
    stored = read_rows(fast.parquet_path, 0, 3)
    assert stored[0]["messages"][0]["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "parameters": {"city": "string"}}}]
    assert "tools" not in stored[1]["messages"][0] and "tools" not in stored[2]["messages"][0]
    mapping = ColumnMapping(messages="conversations", role_key="from", content_key="value")
    (tools,) = import_file(path, dest_dir=tmp_path / "mapped", mapping=mapping).unused_fields
    assert (tools.name, tools.rows, tools.read) == ("tools", 20, 60)
    assert "the detected ShareGPT format reads it as the tool definitions" in tools.message()


def preference_records():
    good = [{"conversations": [{"from": "human", "value": f"Hi {i}"}, {"from": "gpt", "value": f"Hello {i}"}]}
            for i in range(4)]
    pairs = [{"conversations": [{"from": "human", "value": f"Write a poem about {i}"}],
              "chosen": {"from": "gpt", "value": f"A fine poem {i}"},
              "rejected": {"from": "gpt", "value": "no"}} for i in range(6)]
    return good[:2] + pairs + good[2:]


def test_preference_pairs_are_refused_not_cut_in_half(write, dest):
    path = write("prefs.jsonl", jsonl(preference_records()))
    preview = preview_file(path)
    assert [u.name for u in preview.unused_fields] == ["chosen", "rejected"]
    assert "this looks like preference data" in preview.unused_fields[0].message()
    with pytest.raises(DataImportError, match="6 records have problems"):
        import_file(path, dest_dir=dest)
    outcome = import_file(path, dest_dir=dest, on_invalid="skip")
    assert outcome.row_count == 4 and outcome.skipped_count == 6
    assert {p.kind for p in outcome.problems} == {ProblemKind.PREFERENCE_PAIR}
    assert str(outcome.problems[0]).startswith(
        "prefs.jsonl, line 3, field 'chosen': A preference pair (chosen/rejected) in a file read as ShareGPT conversations.")
    assert all(m[-1]["role"] == "assistant" for m in (r["messages"] for r in read_rows(outcome.parquet_path, 0, 10)))


def test_a_complete_conversation_with_a_pair_is_refused_on_the_fast_path_too(write, tmp_path, monkeypatch):
    records = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
                **({"chosen": "better", "rejected": "worse"} if i == 5 else {})} for i in range(300)]
    path = write("pairs.jsonl", jsonl(records))
    fast = import_file(path, dest_dir=tmp_path / "fast", on_invalid="skip")
    monkeypatch.setattr(text_inputs, "spec_for", lambda fmt: None)
    slow = import_file(path, dest_dir=tmp_path / "slow", on_invalid="skip")
    assert fast.content_hash == slow.content_hash and fast.row_count == 299
    assert [(p.line, p.kind) for p in fast.problems] == [(6, ProblemKind.PREFERENCE_PAIR)]


def test_mapping_the_chosen_reply_is_the_users_choice(write, dest):
    records = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(5)]
    path = write("dpo.jsonl", jsonl(records))
    outcome = import_file(path, dest_dir=dest, mapping=ColumnMapping(user="prompt", assistant="chosen"))
    assert outcome.row_count == 5
    (rejected,) = outcome.unused_fields
    assert (rejected.name, rejected.rows) == ("rejected", 5)


def test_an_unanswered_user_turn_is_refused_on_both_paths(write, tmp_path, monkeypatch):
    records = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
                + ([{"role": "user", "content": "and then?"}] if i % 50 == 7 else [])} for i in range(300)]
    path = write("cut.jsonl", jsonl(records))
    fast = import_file(path, dest_dir=tmp_path / "fast", on_invalid="skip")
    monkeypatch.setattr(text_inputs, "spec_for", lambda fmt: None)
    slow = import_file(path, dest_dir=tmp_path / "slow", on_invalid="skip")
    assert fast.content_hash == slow.content_hash and fast.row_count == 294
    assert fast.problems == slow.problems
    first = fast.problems[0]
    assert (first.line, first.field, first.kind) == (8, "messages[2].content", ProblemKind.ROLE_ORDER)
    assert first.message == "The conversation ends with a user turn that has no reply."
