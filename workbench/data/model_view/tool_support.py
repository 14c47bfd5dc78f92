"""Does a chat template support tool calling? Render a probe conversation (a tool definition, an
assistant turn that calls the tool, the tool's result, a reply) and look for each part in the
text: a template that drops the call, the result or the definitions would train the model on a
conversation with holes in it, so such a run is refused before it starts.

One rule for every renderer: `probe(render)` takes the same `render(messages, add_generation_prompt)`
as template.assistant_spans (our jinja ChatTemplate for the dataset view and the services check,
transformers' apply_chat_template in the training engine). `usage_of` says which parts a dataset
uses; `problem` says what the template lacks for them, as a user message with advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from workbench.core.records import TOOL_ROLE
from workbench.core.tool_calls import TOOL_CALLS_KEY, TOOLS_KEY, with_tools

_NAME, _ARG, _RESULT, _DESCRIPTION = "wb_probe_lookup", "wb_probe_value", "wb_probe_result", "wb_probe_description"
# Ids of 9 letters and digits: the form the strictest templates (Mistral's) demand.
_CALL_ID = "wbprobe01"
PROBE_TOOLS = [{"type": "function", "function": {
    "name": _NAME, "description": _DESCRIPTION,
    "parameters": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}}}]
PROBE = with_tools([
    {"role": "user", "content": "wb probe question"},
    {"role": "assistant", "content": "", TOOL_CALLS_KEY: [
        {"id": _CALL_ID, "type": "function", "function": {"name": _NAME, "arguments": {"key": _ARG}}}]},
    {"role": TOOL_ROLE, "content": _RESULT, "tool_call_id": _CALL_ID},
    {"role": "assistant", "content": "wb probe answer"},
], PROBE_TOOLS)
ADVICE = ("Pick a base model whose chat template renders tool calls (e.g. Qwen2.5-Instruct, Llama 3.1 "
          "Instruct, Mistral Instruct v0.3), or leave the tool-calling rows out of this dataset version.")


@dataclass(frozen=True)
class ToolUsage:
    """Which tool-calling parts a dataset has, and the first row (0-based) with any of them."""

    calls: bool = False
    results: bool = False
    definitions: bool = False
    first_row: Optional[int] = None

    def __bool__(self) -> bool:
        return self.calls or self.results or self.definitions


@dataclass(frozen=True)
class ToolSupport:
    """What a template shows of the probe conversation."""

    calls: bool
    results: bool
    definitions: bool
    error: str = ""  # the template's own error when it refuses the probe

    def missing(self, usage: ToolUsage) -> list[str]:
        parts = [("tool calls", self.calls, usage.calls), ("tool results", self.results, usage.results),
                 ("tool definitions", self.definitions, usage.definitions)]
        return [name for name, shown, used in parts if used and not shown]


def probe(render: Callable[[list, bool], str]) -> ToolSupport:
    """What `render` shows of a conversation with a tool call (an error shows nothing)."""
    try:
        text = render(PROBE, False)
    except Exception as exc:  # a template's raise_exception, or jinja errors on unknown keys
        # Our renderer wraps the template's own error (in details); transformers raises it as is.
        return ToolSupport(False, False, False, f"The template refuses the probe: {getattr(exc, 'details', '') or exc}")
    # The argument's value is only in the call (the definitions name the tool too).
    return ToolSupport(calls=_ARG in text and _NAME in text, results=_RESULT in text,
                       definitions=_DESCRIPTION in text)


def usage_of(conversations: Iterable[list[dict[str, Any]]]) -> ToolUsage:
    calls = results = definitions = False
    first: Optional[int] = None
    for i, messages in enumerate(conversations):
        c = any(m.get(TOOL_CALLS_KEY) for m in messages)
        r = any(m.get("role") == TOOL_ROLE for m in messages)
        d = bool(messages and messages[0].get(TOOLS_KEY))
        if (c or r or d) and first is None:
            first = i
        calls, results, definitions = calls or c, results or r, definitions or d
    return ToolUsage(calls, results, definitions, first)


def problem(support: ToolSupport, usage: ToolUsage, model: str, dataset: str) -> Optional[tuple[str, str, str]]:
    """(message, details, advice) when the template lacks a part the dataset uses, else None."""
    missing = support.missing(usage)
    if not missing:
        return None
    row = f" (the first is row {usage.first_row + 1})" if usage.first_row is not None else ""
    message = (f"The chat template of {model} does not support tools, but {dataset} has tool-calling "
               f"conversations{row}: the template does not show the {' or the '.join(missing)}.")
    details = support.error or (f"A probe conversation rendered with the template shows: tool calls "
                                f"{_yes(support.calls)}, tool results {_yes(support.results)}, tool "
                                f"definitions {_yes(support.definitions)}.")
    return message, details, ADVICE


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# -- the stored version: which rows use tools (a text search of the messages column) -----------
_MARKERS = {"calls": '"tool_calls":', "results": '"role":"tool"', "definitions": '"tools":'}


def stored_usage(parquet_path: str | Path) -> ToolUsage:
    """ToolUsage of a stored version, read a row group at a time without parsing the JSON (a
    content that merely quotes a marker counts too: the template check then runs for nothing)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found = dict.fromkeys(_MARKERS, False)
    first: Optional[int] = None
    offset = 0
    pf = pq.ParquetFile(str(parquet_path))
    for group in range(pf.num_row_groups):
        column = pf.read_row_group(group, columns=["messages"]).column("messages")
        for key, marker in _MARKERS.items():
            hits = pc.fill_null(pc.match_substring(column, marker), False)
            if pc.any(hits).as_py():
                found[key] = True
                row = offset + int(pc.index(hits, True).as_py())
                first = row if first is None else min(first, row)
        offset += len(column)
    return ToolUsage(found["calls"], found["results"], found["definitions"], first)
