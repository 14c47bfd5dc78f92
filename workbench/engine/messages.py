"""Reading conversations (lists of {role, content}, with tool calls in the shape of
workbench.core.tool_calls) from engine inputs, with row-exact errors."""

from __future__ import annotations

import json
from typing import Any

from workbench.core.records import MESSAGE_ROLES as ROLES
from workbench.core.tool_calls import TOOL_CALLS_KEY, TOOL_MESSAGE_KEYS, TOOLS_KEY
from workbench.engine.errors import BadDataError

Message = dict[str, Any]


def check_messages(value: Any, where: str) -> list[Message]:
    """Validate one conversation; `where` names it in the error ("row 12 of x.parquet")."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise BadDataError(
                f"The messages in {where} are not valid JSON.",
                details=str(exc),
                advice="Re-import the dataset; each row must hold a JSON list of {role, content}.",
            ) from exc
    if isinstance(value, dict) and "messages" in value:
        value = value["messages"]
    if not isinstance(value, list) or not value:
        raise BadDataError(
            f"{where} has no list of messages.",
            advice="Each conversation must be a non-empty list of {role, content} objects.",
        )
    out: list[Message] = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise BadDataError(
                f"Message {i + 1} in {where} is not a {{role, content}} object.",
                details=repr(msg)[:500],
                advice="Fix or drop that row, then re-import the dataset.",
            )
        role, content = msg["role"], msg["content"]
        if role not in ROLES or not isinstance(content, str):
            raise BadDataError(
                f"Message {i + 1} in {where} has role {role!r} or non-text content.",
                details=repr(msg)[:500],
                advice=f"Roles must be one of {', '.join(ROLES)} and content must be text.",
            )
        out.append(_tool_keys(msg, {"role": role, "content": content}, i, where))
    return out


def _bad_tool(message: str, msg: Any) -> BadDataError:
    return BadDataError(message, details=repr(msg)[:500],
                        advice="Re-import the dataset: tool calls are stored as {type: function, function: "
                        "{name, arguments: {...}}} and tool definitions as a list of function specs.")


def _tool_keys(msg: dict[str, Any], out: Message, i: int, where: str) -> Message:
    """`out` plus the message's tool calls (assistant), tool keys (tool) and tool definitions
    (first message), checked: chat templates index into them."""
    calls = msg.get(TOOL_CALLS_KEY)
    if calls:
        ok = out["role"] == "assistant" and isinstance(calls, list) and all(
            isinstance(c, dict) and isinstance(c.get("function"), dict)
            and isinstance(c["function"].get("name"), str) and isinstance(c["function"].get("arguments"), dict)
            for c in calls)
        if not ok:
            raise _bad_tool(f"Message {i + 1} in {where} has tool calls that are not an assistant's list of "
                            "{type: function, function: {name, arguments}}.", msg)
        out[TOOL_CALLS_KEY] = calls
    if out["role"] == "tool":
        out.update({k: msg[k] for k in TOOL_MESSAGE_KEYS if isinstance(msg.get(k), str)})
    tools = msg.get(TOOLS_KEY)
    if tools:
        if i != 0 or not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise _bad_tool(f"Message {i + 1} in {where} holds tool definitions that are not a list of "
                            "objects on the first message.", msg)
        out[TOOLS_KEY] = tools
    return out


def read_jsonl_conversations(path: str) -> list[list[Message]]:
    """Conversations from a JSONL file with one {"messages": [...]} object per line."""
    conversations = []
    try:
        f = open(path, encoding="utf-8")
    except OSError as exc:
        raise BadDataError(
            f"Cannot read the corpus file {path}.", details=str(exc),
            advice="Check that the file exists and is readable.",
        ) from exc
    with f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            conversations.append(check_messages(line, f"line {lineno} of {path}"))
    if not conversations:
        raise BadDataError(
            f"The corpus file {path} holds no conversations.",
            advice='Add one {"messages": [...]} object per line.',
        )
    return conversations
