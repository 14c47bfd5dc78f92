"""Tool-calling conversations: the one message shape every layer stores, trains and shows.

It is the shape Hugging Face chat templates take (transformers' tool-use convention):

    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]}
    {"role": "tool", "content": "18 °C, sunny", "name": "get_weather"}   # name, tool_call_id optional

`arguments` is always an object (a JSON string in the source is parsed on import); a call may
keep its source `id`. The conversation's tool definitions (JSON-schema function specs, as
`apply_chat_template(..., tools=...)` takes them) are stored on its first message under
TOOLS_KEY, so the whole conversation stays one JSON value in the `messages` column: every
operation that copies, splits, cleans or tokenises rows carries the tools along, and versions
stored before tool calling load unchanged. Renderers take them off with split_tools().
"""

from __future__ import annotations

import json
from typing import Any, Optional, Sequence

from workbench.core.records import TOOL_ROLE

TOOLS_KEY = "tools"
TOOL_CALLS_KEY = "tool_calls"
# Keys a tool message may carry besides role and content.
TOOL_MESSAGE_KEYS = ("name", "tool_call_id")
# What a span of a rendered conversation is ("what the model sees"): an assistant reply or an
# assistant's tool call (both trained on), a tool's result (read, not trained on); "" is the
# template's own text (role markers, prompts).
REPLY, TOOL_CALL, TOOL_RESULT = "reply", "tool_call", "tool_result"


def split_tools(messages: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], Optional[list]]:
    """(the messages without the tools key, the tools or None), leaving `messages` unchanged."""
    if not messages or TOOLS_KEY not in messages[0]:
        return [dict(m) for m in messages], None
    first = {k: v for k, v in messages[0].items() if k != TOOLS_KEY}
    tools = messages[0][TOOLS_KEY]
    return [first, *(dict(m) for m in messages[1:])], (list(tools) if tools else None)


def with_tools(messages: list[dict[str, Any]], tools: Optional[list]) -> list[dict[str, Any]]:
    """The messages with `tools` stored on the first one (unchanged when there are none)."""
    if not tools or not messages:
        return messages
    return [{**messages[0], TOOLS_KEY: list(tools)}, *messages[1:]]


def has_tool_turns(messages: Sequence[dict[str, Any]]) -> bool:
    """True for a conversation with a tool call, a tool result or tool definitions."""
    return any(m.get(TOOL_CALLS_KEY) or m.get("role") == TOOL_ROLE or m.get(TOOLS_KEY) for m in messages)


def call_function(call: Any) -> dict[str, Any]:
    """The {name, arguments} of one tool call (the function part of the stored shape)."""
    if isinstance(call, dict) and isinstance(call.get("function"), dict):
        return call["function"]
    return call if isinstance(call, dict) else {}


def call_text(call: Any) -> str:
    """One tool call as a person reads it: get_weather({"city": "Paris"})."""
    fn = call_function(call)
    args = fn.get("arguments", {})
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return f"{fn.get('name', '?')}({text})"


def readable_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """{role, content} messages for a transcript view: tool calls written out as calls under
    the assistant's text, the tool definitions left out (they are not a turn)."""
    out = []
    for m in messages:
        content = str(m.get("content") or "")
        calls = m.get(TOOL_CALLS_KEY) or []
        if calls:
            lines = "\n".join(f"→ calls {call_text(c)}" for c in calls)
            content = f"{content}\n{lines}" if content.strip() else lines
        out.append({"role": str(m.get("role", "")), "content": content})
    return out
