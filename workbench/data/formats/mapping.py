"""Column mapping: the user says which of a file's columns (or keys) hold which role.

For files whose format is not detected (or detected wrongly): e.g. a CSV with question /
answer columns, or a JSONL whose turns live under "dialog" with "speaker" / "text" keys.

    ColumnMapping(user="question", assistant="answer")
    ColumnMapping(system="persona", user=("instruction", "input"), assistant="output")
    ColumnMapping(messages="dialog", role_key="speaker", content_key="text",
                  role_values={"customer": "user", "agent": "assistant"})
    ColumnMapping(text="body")   # plain text: the whole value is learned
    ColumnMapping(user=("instruction", "input"), assistant="output", history="history")
                                 # earlier turns: a column of [user, assistant] pairs
    ColumnMapping(user="question", assistant="good", rejected="bad")
                                 # preference pairs: the assistant column is the chosen reply

A key may name a nested field with dots ("meta.prompt") when no column has that exact name.
For a role mapped to several columns, the first is required and the others are optional;
their non-empty values are joined with a blank line. role_values may also be given as text,
"customer=user, agent=assistant".

A mapping to start from: `ColumnMapping.from_detected(format, fields)` (what a detected format
reads, as a mapping) or `ColumnMapping.guess(fields, nested, samples)` (from the field names);
`mapping_choices` gathers both for a mapping UI (see mapping_guess).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

from workbench.core.errors import DataImportError
from workbench.core.records import MESSAGE_ROLES, ROLES
from workbench.data.formats.detect import (
    FORMATS,
    RecordFormat,
    Turn,
    kind_of,
    field_text,
    turn_list,
    history_turns,
    parse_turn,
)
from workbench.data.formats.problems import Issue, ProblemKind
from workbench.data.formats.tool_turns import CALL_ROLE

Columns = Union[str, Sequence[str], None]
# Role names understood in a mapped list of turns, on top of the user's role_values.
DEFAULT_ROLE_VALUES = {**FORMATS["openai_messages"].role_map, **FORMATS["sharegpt"].role_map}  # type: ignore[attr-defined]
_ROLES = ROLES
_ROLE_MEANINGS = {"system": "the system prompt", "user": "the user message", "assistant": "the assistant reply"}
# What a role value in a list of turns may map to: a message role, or tool_call (the text is a call).
_ROLE_TARGETS = (*MESSAGE_ROLES, CALL_ROLE)


def _as_tuple(columns: Columns) -> tuple[str, ...]:
    if columns is None:
        return ()
    if isinstance(columns, str):
        return (columns,)
    return tuple(columns)


@dataclass(frozen=True)
class ColumnMapping:
    """Which source columns/keys hold which role (see the module docstring)."""

    user: Columns = None
    assistant: Columns = None
    system: Columns = None
    messages: Optional[str] = None
    role_key: str = "role"
    content_key: str = "content"
    role_values: dict[str, str] = field(default_factory=dict)
    text: Optional[str] = None
    history: Optional[str] = None  # one column of earlier [user, assistant] pairs (columns mode)
    rejected: Optional[str] = None  # the rejected reply (columns mode): the import makes preference pairs

    def __post_init__(self) -> None:
        for name in _ROLES:  # lists from JSON or a UI become tuples: hashable, comparable
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                object.__setattr__(self, name, tuple(value))
        if isinstance(self.role_values, str):
            object.__setattr__(self, "role_values", parse_role_values(self.role_values))

    @classmethod
    def from_detected(cls, format: str, fields: Sequence[str],
                      nested: Optional[dict[str, list[str]]] = None) -> Optional["ColumnMapping"]:
        """The mapping that reads what the detected `format` reads (None for a format without
        one, e.g. a plugin's)."""
        from workbench.data.formats.mapping_guess import from_detected

        return from_detected(cls, format, fields, nested or {})

    @classmethod
    def guess(cls, fields: Sequence[str], nested: Optional[dict[str, list[str]]] = None,
              samples: Sequence[Any] = ()) -> Optional["ColumnMapping"]:
        """A mapping guessed from the field names (None when there is no field to map)."""
        from workbench.data.formats.mapping_guess import guess_mapping

        return guess_mapping(cls, fields, nested or {}, samples)

    # -- shape -----------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """'messages' (a list of turns), 'columns' (one column per role) or 'text'."""
        if self.messages:
            return "messages"
        return "text" if self.text else "columns"

    def columns(self) -> list[str]:
        """Every source key the mapping reads, in the order given."""
        if self.mode == "messages":
            return [self.messages or ""]
        if self.mode == "text":
            return [self.text or ""]
        columns = [c for name in _ROLES for c in _as_tuple(getattr(self, name))]
        columns += [self.history] if self.history else []
        return columns + [self.rejected] if self.rejected else columns

    def reads(self) -> dict[str, str]:
        """{source key: what it holds}, as RecordFormat.reads."""
        if self.mode == "messages":
            return {self.messages or "": "the conversation's turns"}
        if self.mode == "text":
            return {self.text or "": "the text to learn"}
        out = {c: _ROLE_MEANINGS[name] for name in _ROLES for c in _as_tuple(getattr(self, name))}
        if self.history:
            out[self.history] = "earlier turns"
        if self.rejected:
            out[self.rejected] = "the rejected reply"
        return out

    def check(self) -> None:
        """Raise DataImportError when the mapping cannot work for any file."""
        roles = [name for name in _ROLES if getattr(self, name)]
        chosen = [bool(self.messages), bool(self.text), bool(roles)]
        problem = ""
        if sum(chosen) == 0:
            problem = "The column mapping maps no column."
        elif sum(chosen) > 1:
            problem = "Map either a list of turns (messages), a text column, or one column per role, not several."
        elif roles and not self.assistant:
            problem = "The column mapping has no assistant column, so there is nothing to learn."
        elif roles and not self.user:
            problem = "The column mapping has no user column."
        elif any(not c for c in self.columns()):
            problem = "The column mapping names an empty column."
        elif self.history and not roles:
            problem = "Earlier turns (history) go with one column per role, not with a list of turns or text."
        elif self.rejected and not roles:
            problem = "A rejected reply goes with one column per role, not with a list of turns or text."
        elif self.rejected and self.rejected in _as_tuple(self.assistant):
            problem = "The rejected reply needs a column of its own, not the assistant (chosen) reply's."
        bad_roles = {k: v for k, v in self.role_values.items() if v not in _ROLE_TARGETS}
        if bad_roles and not problem:
            problem = ("Role values must map to system, user, assistant, tool (a tool's result) or tool_call "
                       f"(the text is a tool call), not {bad_roles}.")
        if problem:
            raise DataImportError(problem, details=repr(self.to_dict()),
                                  advice="Choose columns for user and assistant (system optional), "
                                  "or the field holding the list of turns.")

    # -- storage ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, only what is set (for a dataset version's options)."""
        data: dict[str, Any] = {}
        for name in _ROLES:
            value = getattr(self, name)
            if value:
                data[name] = value if isinstance(value, str) else list(value)
        if self.messages:
            data.update(messages=self.messages, role_key=self.role_key, content_key=self.content_key)
            if self.role_values:
                data["role_values"] = dict(self.role_values)
        if self.text:
            data["text"] = self.text
        if self.history:
            data["history"] = self.history
        if self.rejected:
            data["rejected"] = self.rejected
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ColumnMapping":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def as_format(self) -> "MappedFormat":
        self.check()
        return MappedFormat(self)


def parse_role_values(text: str) -> dict[str, str]:
    """'customer=user, agent=assistant' -> {"customer": "user", "agent": "assistant"}."""
    out: dict[str, str] = {}
    for part in re.split(r"[,;\n]", text):
        if "=" in part:
            key, value = part.split("=", 1)
            if key.strip() and value.strip():
                out[key.strip()] = value.strip().lower()
    return out


def lookup(record: dict[str, Any], key: str) -> Any:
    """record[key], or a dotted path into nested objects when no key has that exact name."""
    if key in record:
        return record[key]
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def has_key(record: dict[str, Any], key: str) -> bool:
    if key in record:
        return True
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


class MappedFormat(RecordFormat):
    """A RecordFormat that reads records through a ColumnMapping."""

    name = "mapped"
    label = "column mapping"

    def __init__(self, mapping: ColumnMapping) -> None:
        self.mapping = mapping
        self.assistant_only = mapping.mode == "text"
        self.example = f"a record with the mapped fields {', '.join(mapping.columns())}."
        self.reads = mapping.reads()
        self._roles = {**DEFAULT_ROLE_VALUES, **{k.strip().lower(): v for k, v in mapping.role_values.items()}}
        self.preference = bool(mapping.rejected)  # then pair() reads the record

    def pair(self, record: dict[str, Any]) -> tuple[list[Turn], list[Turn], list[Turn], list[Issue]]:
        """(prompt, chosen, rejected, problems): the mapped turns, their assistant reply being the
        chosen one, and the rejected column's text as the rejected reply."""
        turns, issues = self.normalise(record)
        key = self.mapping.rejected or ""
        text, issue = field_text(lookup(record, key), key, self)
        issues = issues + ([issue] if issue else [])
        if issues:
            return [], [], [], issues
        return turns[:-1], turns[-1:], [Turn("assistant", text or "", key)], []

    def score(self, record: dict[str, Any]) -> int:
        return 2 if all(has_key(record, c) for c in self.mapping.columns()) else 0

    def advice(self) -> str:
        return f"The column mapping reads {', '.join(self.mapping.columns())}; check it fits the file."

    def list_field(self, record: dict[str, Any]) -> str:
        return self.mapping.messages or self.mapping.text or "messages"

    def normalise(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:
        mode = self.mapping.mode
        if mode == "messages":
            return self._turns(record)
        if mode == "text":
            key = self.mapping.text or ""
            text, issue = field_text(lookup(record, key), key, self)
            return ([], [issue]) if issue else ([Turn("assistant", text or "", key)], [])
        turns: list[Turn] = []
        issues: list[Issue] = []
        for role in _ROLES:
            columns = _as_tuple(getattr(self.mapping, role))
            parts: list[str] = []
            for position, column in enumerate(columns):
                value = lookup(record, column)
                if value is None and (position > 0 or role == "system"):
                    continue  # optional columns may be missing
                text, issue = field_text(value, column, self)
                if issue:
                    issues.append(issue)
                else:
                    parts.append(text or "")
            content = "\n\n".join(p for p in parts if p.strip())
            if role == "user" and self.mapping.history:
                history, issue = history_turns(lookup(record, self.mapping.history), self.mapping.history, self)
                if issue:
                    issues.append(issue)
                turns.extend(history)  # after the system prompt, before this record's question
            if role == "system" and not content:
                continue  # no system prompt in this record
            if columns:
                turns.append(Turn(role, content, columns[0]))  # empty: validation names it
        return ([], issues) if issues else (turns, [])

    def _turns(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:
        key = self.mapping.messages or ""
        items, issue = turn_list({key: lookup(record, key)}, key, self)
        if issue:
            return [], [issue]
        role_key, content_key = self.mapping.role_key, self.mapping.content_key
        turns: list[Turn] = []
        issues: list[Issue] = []
        for i, item in enumerate(items or []):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                issues.append(Issue(ProblemKind.NOT_AN_OBJECT, where,
                                    f"Turn {i} is {kind_of(item)}, not an object.", self.advice()))
                continue
            turn, issue = parse_turn(item, where, role_key, content_key, self._roles, self,
                                     "Map the role value to system, user, assistant or tool in the "
                                     "column mapping (role values), or remove the turn.")
            if issue:
                issues.append(issue)
            else:
                turns.append(turn)
        return turns, issues
