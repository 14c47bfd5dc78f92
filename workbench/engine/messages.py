"""Reading conversations (lists of {role, content}) from engine inputs, with row-exact errors."""

from __future__ import annotations

import json
from typing import Any

from workbench.core.records import ROLES as CHAT_ROLES
from workbench.engine.errors import BadDataError

# "tool" turns pass through to chat templates that render them (tool calling is not imported yet).
ROLES = (*CHAT_ROLES, "tool")

Message = dict[str, str]


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
        out.append({"role": role, "content": content})
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
