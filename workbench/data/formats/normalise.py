"""One raw record → chat messages (or the problems that keep it out), and the text stored
as the record's source."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Optional

from workbench.core.tool_calls import with_tools
from workbench.data.formats.detect import RecordFormat, Turn
from workbench.data.storage.parquet_io import dumps
from workbench.data.formats.problems import Issue, Location, Problem, ProblemKind
from workbench.data.ingest.readers import RawRecord
from workbench.data.formats.preference import pair_issues
from workbench.data.formats.unused import preference_issue
from workbench.data.formats.validation import check_turns


@dataclass(frozen=True)
class NormalisedRecord:
    location: Location
    messages: list[dict[str, Any]]  # empty when problems is not (tools on the first: core.tool_calls)
    source: Any
    problems: list[Problem]
    # A preference pair's rejected reply (messages then holds the prompt and the chosen reply).
    rejected: Optional[list[dict[str, Any]]] = None


def source_json(raw: RawRecord) -> str:
    """What the `source` column stores: a JSON Lines record's own line (as written, so the
    JSONL fast path and this path agree byte for byte), else the record as compact JSON."""
    if raw.location.kind == "jsonl" and raw.raw is not None:
        return raw.raw
    return dumps(raw.value)


def raw_text(raw: RawRecord) -> Optional[str]:
    """The record's original text for a problem report (re-serialised when the reader has no
    text of its own, e.g. a JSON array element or a Parquet row)."""
    if raw.raw is not None:
        return raw.raw
    if raw.value is None:
        return None
    try:
        return dumps(raw.value)
    except (TypeError, ValueError, RecursionError):
        return repr(raw.value)


def normalise_record(raw: RawRecord, fmt: RecordFormat, file_name: str) -> NormalisedRecord:
    """One raw record → chat messages, or the problems that keep it out."""
    if raw.issue is not None:
        return NormalisedRecord(raw.location, [], None, [Problem.at(raw.issue, file_name, raw.location, raw.raw)])
    if not isinstance(raw.value, dict):
        issue = Issue(ProblemKind.NOT_AN_OBJECT, None,
                      f"The record is {type(raw.value).__name__}, not an object with fields.",
                      fmt.advice())
        return NormalisedRecord(raw.location, [], raw.value,
                                [Problem.at(issue, file_name, raw.location, raw_text(raw))])
    if fmt.preference:
        return _normalise_pair(raw, fmt, file_name)
    preference = preference_issue(raw.value, fmt)
    turns, issues = ([], [preference]) if preference is not None else fmt.normalise(raw.value)
    tools, tools_issue = fmt.tools(raw.value) if not issues else (None, None)
    if tools_issue is not None:
        issues = [tools_issue]
    if not issues:
        issues = check_turns(turns, assistant_only=fmt.assistant_only, list_field=fmt.list_field(raw.value))
    if issues:
        return _refused(raw, file_name, issues)
    return NormalisedRecord(raw.location, with_tools([message(t) for t in turns], tools), raw.value, [])


def _refused(raw: RawRecord, file_name: str, issues: list[Issue]) -> NormalisedRecord:
    text = raw_text(raw)
    return NormalisedRecord(raw.location, [], raw.value,
                            [Problem.at(issue, file_name, raw.location, text) for issue in issues])


def _field_of(turns: list[Turn], default: str) -> str:
    """The user's field a side came from ("chosen" of "chosen[0].content"; a mapped column)."""
    if not turns:
        return default
    return re.sub(r"(\[\d+\].*|\.(content|value))$", "", turns[0].field) or default


def _normalise_pair(raw: RawRecord, fmt: RecordFormat, file_name: str) -> NormalisedRecord:
    """A preference record: the rules of preference.pair_issues (those of SFT data for each
    side, plus the pair's own)."""
    prompt, chosen, rejected, issues = fmt.pair(raw.value)  # type: ignore[attr-defined]
    tools, tools_issue = fmt.tools(raw.value) if not issues else (None, None)
    if tools_issue is not None:
        issues = [tools_issue]
    if not issues:
        issues = pair_issues(prompt, chosen, rejected, prompt_field=fmt.list_field(raw.value),
                             chosen_field=_field_of(chosen, "chosen"), rejected_field=_field_of(rejected, "rejected"))
    if issues:
        return _refused(raw, file_name, issues)
    return NormalisedRecord(raw.location, with_tools([message(t) for t in prompt + chosen], tools), raw.value, [],
                            [message(t) for t in rejected])


def message(turn: Turn) -> dict[str, Any]:
    """The stored message of a turn: role, content, then a tool-calling turn's keys."""
    out: dict[str, Any] = {"role": turn.role, "content": turn.content}
    return {**out, **turn.extra} if turn.extra else out


def record_fields(records: list[RawRecord]) -> tuple[list[str], dict[str, list[str]]]:
    """The top-level fields of the records, and the keys found inside fields that hold a list
    of objects (turns) or an object, for a column-mapping UI."""
    fields: list[str] = []
    nested: dict[str, list[str]] = {}
    for raw in records:
        if not isinstance(raw.value, dict):
            continue
        for key, value in raw.value.items():
            if key not in fields:
                fields.append(key)
            if isinstance(value, str) and value[:1] == "[":  # a list of turns in a CSV cell
                try:
                    value = json.loads(value)
                except (ValueError, RecursionError):
                    continue
            inner = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
            for item in inner[:50]:
                if isinstance(item, dict):
                    keys = nested.setdefault(key, [])
                    keys.extend(k for k in item if k not in keys)
    return fields, nested
