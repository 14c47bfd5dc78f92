"""Tool-calling turns in the source formats -> the stored shape (workbench.core.tool_calls).

    OpenAI:   {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}]}
              {"role": "tool", "tool_call_id": "c1", "content": "18 °C"}
              (and the older "function_call" / role "function"); definitions in "tools" (or "functions")
    ShareGPT: {"from": "function_call", "value": "{\\"name\\": \\"get_weather\\", \\"arguments\\": {...}}"}
              {"from": "observation", "value": "18 °C"}; definitions in "tools" (a JSON string or list)

Arguments given as a JSON string are parsed to an object; text that is not a JSON object is a
problem of that row, named by its field.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from workbench.core.tool_calls import TOOL_CALLS_KEY, TOOL_MESSAGE_KEYS
from workbench.data.formats.problems import Issue, ProblemKind

# A source role whose text is a tool call (ShareGPT's function_call): an assistant turn.
CALL_ROLE = "tool_call"
# The record fields that hold tool definitions, in the order they are looked for.
TOOLS_FIELDS = ("tools", "functions")
_CALL_SHAPE = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
_TOOL_SHAPE = '{"type": "function", "function": {"name": "get_weather", "parameters": {...}}}'


def _json(value: Any) -> tuple[Any, Optional[str]]:
    """A JSON text parsed (other values as they are), or the parse error."""
    if not isinstance(value, str):
        return value, None
    try:
        return json.loads(value), None
    except (ValueError, RecursionError) as exc:
        return None, getattr(exc, "msg", None) or str(exc)


def _bad_call(where: str, message: str) -> Issue:
    return Issue(ProblemKind.BAD_TOOL_CALL, where, message,
                 f"A tool call names its function and gives its arguments as a JSON object, e.g. {_CALL_SHAPE}.")


def parse_call(value: Any, where: str) -> tuple[Optional[dict[str, Any]], Optional[Issue]]:
    """One call ({name, arguments} or OpenAI's {id, type, function: {name, arguments}}) -> the
    stored {"type": "function", "function": {"name", "arguments": {...}}} (keeping an id)."""
    if not isinstance(value, dict):
        return None, _bad_call(where, "The tool call is not an object.")
    fn = value.get("function") if isinstance(value.get("function"), dict) else value
    name = fn.get("name")
    if not isinstance(name, str) or not name.strip():
        return None, _bad_call(where, "The tool call has no function name.")
    raw = fn.get("arguments", fn.get("parameters", {}))
    if isinstance(raw, str) and not raw.strip():
        raw = "{}"  # an empty string: a call without arguments
    arguments, error = _json(raw)
    if error is not None:
        return None, _bad_call(where, f"The arguments of the call to {name!r} are not valid JSON ({error}).")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return None, _bad_call(where, f"The arguments of the call to {name!r} are not a JSON object.")
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if isinstance(value.get("id"), str) and value["id"]:
        call["id"] = value["id"]
    return call, None


def parse_calls(value: Any, where: str) -> tuple[list[dict[str, Any]], Optional[Issue]]:
    """A list of calls, one call, or JSON text of either (ShareGPT's function_call value)."""
    parsed, error = _json(value)
    if error is not None:
        return [], _bad_call(where, f"The tool call is not valid JSON ({error}).")
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items:
        return [], _bad_call(where, "The list of tool calls is empty.")
    calls = []
    for i, item in enumerate(items):
        call, issue = parse_call(item, f"{where}[{i}]" if isinstance(parsed, list) else where)
        if issue:
            return [], issue
        calls.append(call)
    return calls, None


def assistant_calls(item: dict[str, Any], where: str) -> tuple[Optional[list], Optional[Issue]]:
    """The tool calls an OpenAI assistant message makes (None when it makes none)."""
    if item.get("tool_calls") not in (None, []):
        calls, issue = parse_calls(item["tool_calls"], f"{where}.tool_calls")
        return (None, issue) if issue else (calls, None)
    if item.get("function_call") not in (None, {}):
        calls, issue = parse_calls(item["function_call"], f"{where}.function_call")
        return (None, issue) if issue else (calls, None)
    return None, None


def tool_message_keys(item: dict[str, Any]) -> dict[str, Any]:
    """What a tool result keeps besides its text: the tool's name, the id of the call it answers."""
    return {k: item[k] for k in TOOL_MESSAGE_KEYS if isinstance(item.get(k), str) and item[k]}


def call_extra(calls: list) -> dict[str, Any]:
    return {TOOL_CALLS_KEY: calls}


def _bad_tools(field: str, message: str) -> Issue:
    return Issue(ProblemKind.BAD_TOOLS, field, message,
                 f"Tool definitions are a list of function specs, e.g. [{_TOOL_SHAPE}] (a JSON list, or text holding one).")


def parse_tools(record: dict[str, Any]) -> tuple[Optional[list[dict[str, Any]]], Optional[Issue]]:
    """The record's tool definitions as [{"type": "function", "function": {...}}] (a bare
    function spec is wrapped), None when it has none."""
    field = next((k for k in TOOLS_FIELDS if record.get(k) not in (None, "", [])), None)
    if field is None:
        return None, None
    value, error = _json(record[field])
    if error is not None:
        return None, _bad_tools(field, f"The tool definitions are not valid JSON ({error}).")
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None, _bad_tools(field, "The tool definitions are not a list.")
    tools = []
    for i, spec in enumerate(value):
        fn = spec.get("function") if isinstance(spec, dict) and isinstance(spec.get("function"), dict) else spec
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"].strip():
            return None, _bad_tools(f"{field}[{i}]", f"Tool definition {i} has no function name.")
        tools.append(spec if fn is not spec else {"type": "function", "function": spec})
    return tools or None, None
