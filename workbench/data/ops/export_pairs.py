"""A preference pair as an export record, in the shapes the import reads (preference_formats):

- "trl": TRL's conversational preference shape, `prompt` / `chosen` / `rejected` as lists of
  {role, content} messages (the system message, if any, first in the prompt).
- "trl_text": TRL's standard shape, `prompt` / `chosen` / `rejected` as text, plus `system`
  ("" when none). Only a single-turn pair has this form.
- "sharegpt_pairs": LLaMA-Factory's ShareGPT preference shape, `conversations` (the prompt turns,
  from/value), `chosen` and `rejected` as {from, value} messages, `system` ("" when none).
  Only pairs whose replies are one assistant turn each have this form.

Every row has every field, so `datasets` infers one schema. A pair without a form in the style
comes back as None (the export counts it as skipped).
"""

from __future__ import annotations

from typing import Any, Optional

import pyarrow as pa

from workbench.data.formats.preference import split_pair

Message = dict[str, Any]
PAIR_STYLES = ("trl", "trl_text", "sharegpt_pairs")
_MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
_SHAREGPT_TURN = pa.struct([("from", pa.string()), ("value", pa.string())])
PAIR_SCHEMAS = {
    "trl": pa.schema([("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES)]),
    "trl_text": pa.schema([("system", pa.string()), ("prompt", pa.string()), ("chosen", pa.string()),
                           ("rejected", pa.string())]),
    "sharegpt_pairs": pa.schema([("system", pa.string()), ("conversations", pa.list_(_SHAREGPT_TURN)),
                           ("chosen", _SHAREGPT_TURN), ("rejected", _SHAREGPT_TURN)]),
}
_SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}


def _plain(messages: list[Message]) -> list[Message]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _one_text(reply: list[Message]) -> Optional[str]:
    """The text of a reply that is one plain assistant turn (None otherwise)."""
    if len(reply) != 1 or reply[0].get("role") != "assistant" or reply[0].get("tool_calls"):
        return None
    return reply[0]["content"]


def to_pair_record(messages: list[Message], rejected: list[Message], style: str) -> Optional[dict[str, Any]]:
    """One stored pair (messages = prompt + chosen, rejected) as a record of `style`."""
    prompt, chosen = split_pair(messages)
    if style == "trl":
        return {"prompt": _plain(prompt), "chosen": _plain(chosen), "rejected": _plain(rejected)}
    system = prompt[0]["content"] if prompt and prompt[0]["role"] == "system" else ""
    turns = prompt[1:] if prompt and prompt[0]["role"] == "system" else prompt
    good, bad = _one_text(chosen), _one_text(rejected)
    if good is None or bad is None or any(m["role"] not in _SHAREGPT_ROLES or m.get("tool_calls") for m in turns):
        return None
    if style == "trl_text":
        if len(turns) != 1:
            return None
        return {"system": system, "prompt": turns[0]["content"], "chosen": good, "rejected": bad}
    return {"system": system,
            "conversations": [{"from": _SHAREGPT_ROLES[m["role"]], "value": m["content"]} for m in turns],
            "chosen": {"from": "gpt", "value": good}, "rejected": {"from": "gpt", "value": bad}}
