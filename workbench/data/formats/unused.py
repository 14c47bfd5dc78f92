"""Fields an import does not keep: which top-level keys of the source records the chosen format
(or column mapping) reads, which others hold values, and in how many records, so that a
preview and an import summary can name every field that will not be kept (tool definitions,
preference pairs, a column the mapping leaves out) instead of dropping it without a word.

Also the one rule for preference pairs in a file read as conversations: a record with both
`chosen` and `rejected` that the format does not read is refused as a whole (its conversation
alone would be a prompt with the reply cut off), with a problem that says so. (A file of pairs
is detected as a preference format: preference_formats.)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Optional

import pyarrow as pa
import pyarrow.compute as pc

from workbench.data.formats.detect import RecordFormat
from workbench.data.formats.problems import Issue, ProblemKind

PREFERENCE_KEYS = ("chosen", "rejected")
# Keys of tool-calling records: the JSONL fast path builds {role, content} only, so a block
# with any of them goes to the Python path (which keeps tool calls and definitions).
TOOL_KEYS = ("tools", "functions", "tool_calls", "function_call")
_PREFERENCE = ("this looks like preference data: chosen/rejected will not be kept in a file read as "
               "conversations; records holding a pair are refused (a file of pairs imports as a preference version)")
_TOOLS = ("tool definitions will not be kept (the OpenAI messages and ShareGPT formats read them; "
          "this column mapping does not)")
# What a field usually holds, for the fields most often left over.
KNOWN_MEANINGS = {
    "chosen": _PREFERENCE,
    "rejected": _PREFERENCE,
    "tools": _TOOLS,
    "functions": _TOOLS,
    "system": "a system prompt beside the turns will not be kept (put it in the turns, role system)",
    "history": "earlier turns will not be kept",
}
GENERIC_MEANING = "not part of the conversation: it will not be kept for training"
# The JSONL fast path looks for at most this many leftover keys per block (by text search).
MAX_FAST_KEYS = 64


@dataclass(frozen=True)
class UnusedField:
    """A top-level field with values that the import does not keep."""

    name: str
    rows: int  # records (of those read) with a value in it
    read: int  # records read
    meaning: str  # what it holds and why it is not kept

    def message(self) -> str:
        return f"{self.name} ({self.rows:,} of {self.read:,} records): {self.meaning}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "UnusedField":
        return cls(str(data["name"]), int(data["rows"]), int(data["read"]), str(data["meaning"]))


def has_value(value: Any) -> bool:
    """A value worth keeping: not missing, null, or an empty text, list or object."""
    return value is not None and not (isinstance(value, (str, list, dict)) and len(value) == 0)


def used_keys(fmt: RecordFormat) -> frozenset[str]:
    """The top-level keys `fmt` reads (for a mapped column "meta.prompt": "meta.prompt" and "meta")."""
    keys = set(fmt.reads)
    return frozenset(keys | {k.split(".", 1)[0] for k in keys})


def preference_issue(record: dict[str, Any], fmt: RecordFormat) -> Optional[Issue]:
    """The problem with a preference pair the format does not read (None for other records)."""
    if fmt.preference or any(k in fmt.reads for k in PREFERENCE_KEYS):
        return None  # a pair format, or a mapping that reads chosen (or rejected) as a reply: the user's choice
    if not all(has_value(record.get(k)) for k in PREFERENCE_KEYS):
        return None
    return Issue(ProblemKind.PREFERENCE_PAIR, "chosen",
                 f"A preference pair (chosen/rejected) in a file read as {fmt.label} conversations.",
                 "Import the pairs as a file of their own (it is read as preference pairs), or leave these "
                 "rows out, or make each one a conversation that ends with its chosen reply.")


def _re2_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in text)


def _key_pattern(key: str) -> str:
    """A regex for `"key":` as a JSON writer may spell the key (raw UTF-8 or \\u escapes)."""
    spellings = {json.dumps(key, ensure_ascii=False), json.dumps(key)}
    return "(?:" + "|".join(_re2_escape(s) for s in sorted(spellings)) + r")\s*:"


def has_tool_keys(lines: pa.Array) -> bool:
    """Whether any JSONL line may name a key of a tool-calling record (a superset: text search)."""
    return any(lines_with_keys(lines, (key,)) for key in TOOL_KEYS)


def lines_with_keys(lines: pa.Array, keys: Iterable[str]) -> int:
    """How many JSONL lines name every one of `keys` (anywhere in the line: a superset)."""
    mask = None
    for key in keys:
        hit = pc.fill_null(pc.match_substring_regex(lines, _key_pattern(key)), False)
        mask = hit if mask is None else pc.and_(mask, hit)
    return 0 if mask is None else int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


class FieldTally:
    """Counts, over the records read, the values in each top-level field the format does not read."""

    def __init__(self, fmt: RecordFormat, detected: Optional[RecordFormat] = None,
                 added: Iterable[str] = ()) -> None:
        """`added`: keys the input itself adds to each record (a text folder's file name)."""
        self.fmt, self.detected = fmt, detected
        self.used = used_keys(fmt) | frozenset(added)
        self.counts: dict[str, int] = {}  # leftover keys in the order first seen (0: seen, never a value)
        self.read = 0

    def seed(self, records: Iterable[Any]) -> None:
        """Learn the leftover keys of `records` without counting them (so that text search of the
        fast path looks for them)."""
        for record in records:
            if isinstance(record, dict):
                for key in record:
                    if key not in self.used:
                        self.counts.setdefault(key, 0)

    def add(self, record: Any) -> None:
        self.read += 1
        if isinstance(record, dict):
            for key, value in record.items():
                if key not in self.used:
                    self.counts[key] = self.counts.get(key, 0) + (1 if has_value(value) else 0)

    def add_lines(self, lines: pa.Array) -> None:
        """JSONL lines the fast path accepted (not parsed here): each known leftover key is found
        by text search, its empty values (null, "", [], {}) left out. A nested key of the same name
        also counts; a key first seen in such a block is not (seed() and the Python path learn keys)."""
        self.read += len(lines)
        for key in list(self.counts)[:MAX_FAST_KEYS]:
            pattern = _key_pattern(key)
            present = pc.fill_null(pc.match_substring_regex(lines, pattern), False)
            empty = pc.fill_null(pc.match_substring_regex(
                lines, pattern + r'\s*(?:null|""|\[\s*\]|\{\s*\})\s*[,}]'), False)
            self.counts[key] += int(pc.sum(pc.cast(pc.and_not(present, empty), pa.int64())).as_py() or 0)

    def meaning(self, key: str) -> str:
        detected = self.detected
        if detected is not None and detected.name != self.fmt.name and key in detected.reads:
            return (f"the detected {detected.label} format reads it as {detected.reads[key]}; "
                    "the column mapping leaves it out")
        return KNOWN_MEANINGS.get(key, GENERIC_MEANING)

    def result(self) -> tuple[UnusedField, ...]:
        return tuple(UnusedField(key, rows, self.read, self.meaning(key))
                     for key, rows in self.counts.items() if rows)
