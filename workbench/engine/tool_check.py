"""Refuse tool-calling data for a chat template that does not render tools, while the data is
prepared (before the model loads), with the rule of workbench.data.model_view.tool_support."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Callable

from workbench.data.model_view.tool_support import ToolSupport, probe, problem, usage_of
from workbench.engine.errors import BadConfigError

# Probe results per template (a run tokenises in chunks; the template never changes within it).
_PROBED: dict[str, ToolSupport] = {}


def check_tool_support(tokenizer: Any, conversations: list[list[dict[str, Any]]], source: str,
                       render: Callable[[list, bool], str], row_offset: int = 0) -> None:
    """Raise BadConfigError when `conversations` use tools and the tokenizer's template cannot
    show them. `render(messages, add_generation_prompt)` renders the way training does."""
    usage = usage_of(conversations)
    if not usage:
        return
    key = repr((tokenizer.chat_template, tokenizer.bos_token, tokenizer.eos_token))
    if key not in _PROBED:
        _PROBED[key] = probe(render)
    if usage.first_row is not None:
        usage = replace(usage, first_row=usage.first_row + row_offset)
    path = str(getattr(tokenizer, "name_or_path", "") or "")
    model = os.path.basename(os.path.normpath(path)) if path else "the base model"
    found = problem(_PROBED[key], usage, model, source)
    if found is not None:
        message, details, advice = found
        raise BadConfigError(message, details=details, advice=advice)
