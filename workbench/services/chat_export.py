"""Export conversations: JSONL in OpenAI chat format (one {"messages": [...]} per conversation,
the branch shown, the system prompt first) or Markdown (for reading). Store reads and a file
write: call from a worker in the GUI.
"""

from __future__ import annotations

import json
import os
from typing import Iterable, Optional

from workbench.core.chat_records import Conversation, Turn
from workbench.core.errors import WorkbenchError
from workbench.store import ProjectStore

FORMATS = ("jsonl", "markdown")
_HEADINGS = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}


def format_for(path: str) -> str:
    """The export format a file name asks for (.jsonl or .md)."""
    ext = os.path.splitext(path)[1].lower()
    if ext in (".jsonl", ".json"):
        return "jsonl"
    if ext in (".md", ".markdown"):
        return "markdown"
    raise WorkbenchError(f"Cannot tell the export format from {os.path.basename(path)!r}.",
                         advice="Name the file .jsonl (OpenAI messages) or .md (Markdown).")


def conversation_messages(store: ProjectStore, conversation: Conversation) -> list[dict[str, str]]:
    """The branch shown, as OpenAI messages (system prompt first)."""
    out = [{"role": "system", "content": conversation.system_prompt}] if conversation.system_prompt else []
    return out + [{"role": t.role, "content": t.content} for t in store.branch(conversation.id)]


def _stats(turn: Turn) -> str:
    from workbench.services.chat import turn_tokens_per_s

    parts = []
    if turn.tokens:
        parts.append(f"{turn.tokens} tokens")
    rate = turn_tokens_per_s(turn)
    if rate:
        parts.append(f"{rate:.1f} tok/s")
    return f" _({', '.join(parts)})_" if parts else ""


def conversation_markdown(store: ProjectStore, conversation: Conversation) -> str:
    lines = [f"# {conversation.title}", "", f"_{conversation.created_at} · {conversation.target.key}_", ""]
    if conversation.system_prompt:
        lines += ["### System", "", conversation.system_prompt, ""]
    for turn in store.branch(conversation.id):
        heading = _HEADINGS.get(turn.role, turn.role.capitalize())
        lines += [f"### {heading}{_stats(turn) if turn.role == 'assistant' else ''}", "", turn.content, ""]
    return "\n".join(lines)


def export_conversations(store: ProjectStore, session_ids: Iterable[str], out_path: str,
                         fmt: Optional[str] = None) -> int:
    """Write the conversations to `out_path` (atomically); returns how many were written."""
    fmt = fmt or format_for(out_path)
    if fmt not in FORMATS:
        raise WorkbenchError(f"Unknown export format {fmt!r}.", advice=f"Use one of {', '.join(FORMATS)}.")
    conversations = [store.get_conversation(s) for s in session_ids]
    if not conversations:
        raise WorkbenchError("There is no conversation to export.")
    if fmt == "jsonl":
        text = "".join(json.dumps({"messages": conversation_messages(store, c)}, ensure_ascii=False) + "\n"
                       for c in conversations)
    else:
        text = "\n---\n\n".join(conversation_markdown(store, c) for c in conversations)
    tmp = f"{out_path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out_path)
    except OSError as exc:
        raise WorkbenchError(f"Cannot write {out_path}.", details=str(exc),
                             advice="Choose a folder you can write to.") from None
    return len(conversations)
