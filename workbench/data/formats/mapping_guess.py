"""A column mapping to start from: what a detected format reads (Alpaca: instruction followed
by input, output, system and history where the file has them; ShareGPT: the turns with their
from/value keys; ...), or a guess from the field names when no format was detected, plus the
choices a mapping UI offers (the columns, dotted paths into objects, the fields holding lists
of turns and their role/text keys). Used by the import preview, so the dialog and the CLI
start from the same mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from workbench.data.formats.mapping import ColumnMapping

GUESSES = {
    "system": ("system", "system_prompt", "persona", "context"),
    "user": ("user", "prompt", "question", "instruction", "input", "query", "human", "customer", "q"),
    "assistant": ("assistant", "response", "answer", "output", "completion", "reply", "agent", "bot", "gpt", "a"),
    "text": ("text", "content", "body", "document"),
    "history": ("history",),
}
ROLE_KEYS = ("role", "from", "speaker", "author")
CONTENT_KEYS = ("content", "value", "text", "message")
# The second user column that goes with a first one (Alpaca's input after its instruction).
_FOLLOWERS = {"instruction": ("input",)}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_column(fields: Sequence[str], role: str, taken: frozenset[str] | set[str] = frozenset()) -> Optional[str]:
    """The field whose name best says it holds `role` (exact word first, then containing it)."""
    words = GUESSES[role]
    for word in words:
        for f in fields:
            if f not in taken and _norm(f) == word:
                return f
    for word in words:
        if len(word) < 3:
            continue
        for f in fields:
            if f not in taken and word in _norm(f):
                return f
    return None


def turn_keys(keys: Sequence[str]) -> tuple[Optional[str], Optional[str]]:
    """(role key, text key) among the keys of a list's turn objects."""
    def pick(wanted: Sequence[str]) -> Optional[str]:
        return next((k for w in wanted for k in keys if k.lower() == w), None)

    return pick(ROLE_KEYS), pick(CONTENT_KEYS)


def column_fields(fields: Sequence[str], nested: dict[str, list[str]], samples: Sequence[Any]) -> tuple[list[str], list[str]]:
    """(columns a role can map to: the plain fields and dotted paths into object fields,
    fields holding a list of turns)."""
    objects = [f for f in fields if any(isinstance(s, dict) and isinstance(s.get(f), dict) for s in samples)]
    flat = [f for f in fields if f not in objects]
    flat += [f"{f}.{k}" for f in objects for k in nested.get(f, [])]
    lists = [f for f in fields if f in nested and f not in objects]
    return flat, lists


def from_detected(cls: type["ColumnMapping"], format: str, fields: Sequence[str],
                  nested: dict[str, list[str]]) -> Optional["ColumnMapping"]:
    have = set(fields)
    if format == "alpaca":
        user = tuple(k for k in ("instruction", "input") if k in have)
        return cls(system="system" if "system" in have else None,
                   user=user if len(user) > 1 else "instruction", assistant="output",
                   history="history" if "history" in have else None)
    if format == "prompt_completion":
        return cls(user="prompt", assistant="completion")
    if format == "text":
        return cls(text="text")
    if format in ("openai_messages", "sharegpt"):
        from workbench.data.formats.detect import FORMATS

        fmt = FORMATS[format]
        key = next((k for k in fmt.list_keys if k in have), fmt.list_keys[0])  # type: ignore[attr-defined]
        role_key, content_key = turn_keys(nested.get(key, []))
        default_role, default_content = fmt.key_pairs[0]  # type: ignore[attr-defined]
        return cls(messages=key, role_key=role_key or default_role, content_key=content_key or default_content)
    return None


def guess_mapping(cls: type["ColumnMapping"], fields: Sequence[str], nested: dict[str, list[str]],
                  samples: Sequence[Any]) -> Optional["ColumnMapping"]:
    flat, lists = column_fields(fields, nested, samples)
    if not flat and not lists:
        return None
    user, assistant = guess_column(flat, "user"), None
    if user is not None:
        assistant = guess_column(flat, "assistant", {user})
    if lists and not (user and assistant):
        role_key, content_key = turn_keys(nested.get(lists[0], []))
        return cls(messages=lists[0], role_key=role_key or "role", content_key=content_key or "content")
    if len(flat) == 1:
        return cls(text=flat[0])
    user = user or flat[0]
    assistant = assistant or guess_column(flat, "assistant", {user}) or next(f for f in flat if f != user)
    taken = {user, assistant}
    system = guess_column(flat, "system", taken)
    second = next((f for f in flat if _norm(f) in _FOLLOWERS.get(_norm(user), ()) and f not in taken), None)
    history = guess_column(flat, "history", taken | {system})
    return cls(system=system, user=(user, second) if second else user, assistant=assistant, history=history)


@dataclass(frozen=True)
class MappingChoices:
    """What a mapping UI offers and where it starts."""

    columns: list[str]  # fields a role can map to (dotted paths into objects included)
    lists: list[str]  # fields holding a list of turns
    turn_keys: dict[str, tuple[Optional[str], Optional[str]]]  # list field -> (role key, text key)
    suggested: dict[str, Any] = field(default_factory=dict)  # ColumnMapping.to_dict() to start from
    suggested_from: str = ""  # the detected format it follows, "" when guessed from the names
    known_role_values: tuple[str, ...] = ()  # role names a list of turns may use without mapping


def mapping_choices(fields: Sequence[str], nested: dict[str, list[str]], samples: Sequence[Any],
                    detected: str = "") -> MappingChoices:
    from workbench.data.formats.mapping import DEFAULT_ROLE_VALUES, ColumnMapping

    flat, lists = column_fields(fields, nested, samples)
    suggested = ColumnMapping.from_detected(detected, fields, nested) if detected else None
    from_format = detected if suggested is not None else ""
    if suggested is not None and not all(c in flat or c in lists for c in suggested.columns()):
        suggested, from_format = None, ""  # e.g. a list key the records do not have after all
    if suggested is None:
        suggested = ColumnMapping.guess(fields, nested, samples)
    return MappingChoices(
        columns=flat, lists=lists, turn_keys={f: turn_keys(nested.get(f, [])) for f in lists},
        suggested=suggested.to_dict() if suggested is not None else {}, suggested_from=from_format,
        known_role_values=tuple(DEFAULT_ROLE_VALUES),
    )
