"""Tool-calling rows import as messages with tool calls (ShareGPT function_call / observation and a
tools field; OpenAI tool_calls / tool messages), in one stored shape, whichever reading path a
block takes; bad tool rows are refused with the row and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.core.errors import DataImportError
from workbench.core.tool_calls import readable_messages, split_tools
from workbench.data import ColumnMapping, ProblemKind, import_file, preview_file, read_rows
from workbench.data.ingest import text_inputs

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
TOOL = {"name": "get_weather", "description": "The weather in a city now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
STORED_TOOL = {"type": "function", "function": TOOL}


def jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def rows(outcome) -> list[list[dict]]:
    return [r["messages"] for r in read_rows(outcome.parquet_path, 0, 1000)]


def openai_row(city="Paris", arguments=None):
    return {"messages": [
        {"role": "system", "content": "You answer weather questions."},
        {"role": "user", "content": f"Weather in {city}?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": arguments or json.dumps({"city": city})}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        {"role": "assistant", "content": f"It is 18 C in {city}."}],
        "tools": [STORED_TOOL]}


def sharegpt_row(city="Paris"):
    return {"conversations": [
        {"from": "human", "value": f"Weather in {city}?"},
        {"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": {"city": city}})},
        {"from": "observation", "value": "18 C"},
        {"from": "gpt", "value": f"It is 18 C in {city}."}],
        "tools": json.dumps([TOOL])}


def expected(city="Paris", system=True, call_id=True):
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}
    tool = {"role": "tool", "content": "18 C"}
    out = [
        {"role": "user", "content": f"Weather in {city}?"},
        {"role": "assistant", "content": "", "tool_calls": [{**call, "id": "call_1"} if call_id else call]},
        {**tool, "tool_call_id": "call_1"} if call_id else tool,
        {"role": "assistant", "content": f"It is 18 C in {city}."},
    ]
    if system:
        out.insert(0, {"role": "system", "content": "You answer weather questions."})
    out[0] = {**out[0], "tools": [STORED_TOOL]}
    return out


def test_openai_tool_calls_become_the_stored_shape(write, dest):
    # Plain rows around the tool rows: the block starts on the fast path and must keep the calls.
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    path = write("tools.jsonl", jsonl([plain, openai_row(), plain, openai_row("Oslo")]))
    outcome = import_file(path, dest_dir=dest)
    assert outcome.format == "openai_messages" and outcome.row_count == 4
    assert outcome.unused_fields == ()  # tools are read, not left over
    got = rows(outcome)
    assert got[0] == plain["messages"] and got[1] == expected() and got[3] == expected("Oslo")
    messages, tools = split_tools(got[1])
    assert tools == [STORED_TOOL] and "tools" not in messages[0]


def test_fast_and_python_paths_store_the_same_bytes(write, tmp_path, monkeypatch):
    plain = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    # A tool call beside text, with no tool role in the row: only the tool_calls key marks it.
    text_and_call = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Let me look.",
                     "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]}]}
    path = write("mixed.jsonl", jsonl([plain, text_and_call] * 20))
    fast = import_file(path, dest_dir=tmp_path / "fast")
    monkeypatch.setattr(text_inputs, "spec_for", lambda fmt: None)
    slow = import_file(path, dest_dir=tmp_path / "slow")
    assert fast.content_hash == slow.content_hash
    assert rows(fast)[1][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Rome"}


def test_sharegpt_function_call_and_observation(write, dest):
    path = write("sharegpt.jsonl", jsonl([sharegpt_row(), sharegpt_row("Lima")]))
    outcome = import_file(path, dest_dir=dest)
    assert outcome.format == "sharegpt" and outcome.unused_fields == ()
    assert rows(outcome) == [expected(system=False, call_id=False), expected("Lima", system=False, call_id=False)]


def test_parallel_calls_and_legacy_function_call(write, dest):
    row = {"conversations": [
        {"from": "human", "value": "Paris and Oslo?"},
        {"from": "function_call", "value": json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}},
                                                       {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}])},
        {"from": "observation", "value": "18 C"}, {"from": "observation", "value": "4 C"},
        {"from": "gpt", "value": "Paris 18 C, Oslo 4 C."}]}
    legacy = {"messages": [{"role": "user", "content": "Paris?"},
                           {"role": "assistant", "content": None,
                            "function_call": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                           {"role": "function", "name": "get_weather", "content": "18 C"},
                           {"role": "assistant", "content": "18 C."}],
              "functions": [TOOL]}
    a = import_file(write("parallel.jsonl", jsonl([row])), dest_dir=dest / "a")
    b = import_file(write("legacy.jsonl", jsonl([legacy])), dest_dir=dest / "b")
    calls = rows(a)[0][1]["tool_calls"]
    assert [c["function"]["arguments"]["city"] for c in calls] == ["Paris", "Oslo"]
    assert [m["role"] for m in rows(a)[0]] == ["user", "assistant", "tool", "tool", "assistant"]
    got = rows(b)[0]
    assert got[0]["tools"] == [STORED_TOOL]
    assert got[1]["tool_calls"] == [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert got[2] == {"role": "tool", "content": "18 C", "name": "get_weather"}


BAD = [
    # arguments that are not JSON
    (openai_row(arguments='{"city": Paris}'), ProblemKind.BAD_TOOL_CALL, "messages[2].tool_calls[0]",
     "are not valid JSON"),
    (openai_row(arguments='["Paris"]'), ProblemKind.BAD_TOOL_CALL, "messages[2].tool_calls[0]", "not a JSON object"),
    ({"messages": [{"role": "user", "content": "q"},
                   {"role": "assistant", "content": "", "tool_calls": [{"function": {"arguments": "{}"}}]}]},
     ProblemKind.BAD_TOOL_CALL, "messages[1].tool_calls[0]", "no function name"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "get_weather(Paris)"}]},
     ProblemKind.BAD_TOOL_CALL, "conversations[1].value", "not valid JSON"),
    # a result that answers no call
    ({"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "18 C"},
                   {"role": "assistant", "content": "a"}]},
     ProblemKind.ROLE_ORDER, "messages[1].content", "answers no tool call"),
    ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"},
                        {"from": "observation", "value": "18 C"}, {"from": "gpt", "value": "b"}]},
     ProblemKind.ROLE_ORDER, "conversations[2].value", "answers no tool call"),
    # a call whose result is missing before the next turn, a result with no reply after it
    ({"conversations": [{"from": "human", "value": "q"},
                        {"from": "function_call", "value": '{"name": "f", "arguments": {}}'},
                        {"from": "gpt", "value": "a"}]},
     ProblemKind.ROLE_ORDER, "conversations[2].value", "has no result"),
    ({"conversations": [{"from": "human", "value": "q"},
                        {"from": "function_call", "value": '{"name": "f", "arguments": {}}'},
                        {"from": "observation", "value": "r"}]},
     ProblemKind.ROLE_ORDER, "conversations[2].value", "ends with a tool result"),
    ({"conversations": [{"from": "human", "value": "q"},
                        {"from": "function_call", "value": '{"name": "f", "arguments": {}}'},
                        {"from": "observation", "value": "r"}, {"from": "observation", "value": "s"},
                        {"from": "gpt", "value": "a"}]},
     ProblemKind.ROLE_ORDER, "conversations[3].value", "More tool results than"),
    # tool definitions that are not a list of function specs
    ({**sharegpt_row(), "tools": "[{\"name\": "}, ProblemKind.BAD_TOOLS, "tools", "not valid JSON"),
    ({**sharegpt_row(), "tools": [{"description": "no name"}]}, ProblemKind.BAD_TOOLS, "tools[0]", "no function name"),
]


@pytest.mark.parametrize("bad, kind, field, text", BAD)
def test_bad_tool_rows_name_the_row_and_what_is_wrong(write, dest, bad, kind, field, text):
    good = openai_row() if "messages" in bad else sharegpt_row()
    path = write("bad.jsonl", jsonl([good, bad]))
    with pytest.raises(DataImportError) as err:
        import_file(path, dest_dir=dest)
    assert "line 2" in err.value.user_message and text in err.value.user_message
    outcome = import_file(path, dest_dir=dest, on_invalid="skip")
    (problem,) = outcome.problems
    assert (problem.kind, problem.field, problem.line) == (kind, field, 2)
    assert text in problem.message and problem.advice
    assert outcome.row_count == 1


def test_a_call_may_end_the_conversation_and_a_mapping_reads_tool_roles(write, dest):
    # A conversation that teaches the call itself (no result yet) is something to learn.
    ends = {"conversations": [{"from": "human", "value": "Paris?"},
                              {"from": "function_call", "value": '{"name": "get_weather", "arguments": {"city": "Paris"}}'}]}
    assert rows(import_file(write("ends.jsonl", jsonl([ends])), dest_dir=dest / "e"))[0][1]["tool_calls"]
    dialog = {"dialog": [{"speaker": "customer", "text": "Paris?"},
                         {"speaker": "bot_call", "text": '{"name": "get_weather", "arguments": {"city": "Paris"}}'},
                         {"speaker": "api", "text": "18 C"}, {"speaker": "agent", "text": "18 C."}]}
    mapping = ColumnMapping(messages="dialog", role_key="speaker", content_key="text",
                            role_values="customer=user, agent=assistant, bot_call=tool_call, api=tool")
    got = rows(import_file(write("dialog.jsonl", jsonl([dialog])), dest_dir=dest / "m", mapping=mapping))[0]
    assert [m["role"] for m in got] == ["user", "assistant", "tool", "assistant"]
    assert got[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": {"city": "Paris"}}
    with pytest.raises(DataImportError, match="Role values must map to"):
        ColumnMapping(messages="dialog", role_values="api=function").check()


def test_the_sample_file_and_the_readable_transcript():
    outcome_path = SAMPLES / "tool_calls.jsonl"
    preview = preview_file(outcome_path)
    assert preview.format == "sharegpt" and all(not r.problems for r in preview.records)
    first = preview.records[0].messages
    assert any(m.get("tool_calls") for m in first) and first[0].get("tools")
    readable = readable_messages(first)
    assert any(m["content"].startswith("→ calls lookup_order({") for m in readable)
    assert all(set(m) == {"role", "content"} for m in readable)
    openai = preview_file(SAMPLES / "tool_calls_openai.jsonl")
    assert openai.format == "openai_messages" and all(not r.problems for r in openai.records)
    assert [len(m.get("tool_calls") or ()) for m in openai.records[0].messages] == [0, 0, 2, 0, 0, 0]
