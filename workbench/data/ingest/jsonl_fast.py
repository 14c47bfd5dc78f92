"""The fast path for JSON Lines in the built-in formats: a block of lines at a time, in Arrow.

Most JSONL datasets are clean records of one format (OpenAI messages, ShareGPT, Alpaca,
prompt/completion, plain text). For a block of such lines pyarrow parses the JSON, the turns
are taken (or, for the column formats, built by fast_columns), the checks of
`validation.check_turns` run as array operations, and the normalised `messages` JSON is
assembled with string kernels, so no Python object is built per record. The output is byte-for-byte what the Python path (json.loads → normalise → dumps)
produces, so which path handled a block never changes the content hash.

The fast path only ever *accepts* records; it never decides a record is bad. Records that fail
its checks are handed back as RawRecords for the Python path, which reports their problems (and
if the Python path finds such a record valid after all, the caller redoes the whole block in
Python). A block the fast path cannot take as a whole (not all lines start with '{' and end with
'}', a parse error, invalid UTF-8, another type than text) returns None: the caller falls back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from workbench.core.records import ROLES
from workbench.data.ingest.fast_columns import FIELD_TYPES, column_builder
from workbench.data.formats.detect import OpenAIMessages, RecordFormat, ShareGPT
from workbench.data.formats.problems import Location
from workbench.data.ingest.readers import RawRecord

# Every character Python's str.strip() / isspace() treats as whitespace (tested against
# str.isspace), so "empty after strip" means the same here as in validation.check_turns.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# What json.dumps(ensure_ascii=False) escapes besides other control characters (< 0x20).
_SHORT_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                  ("\b", "\\b"), ("\f", "\\f"))
_OTHER_CONTROL = r"[\x00-\x07\x0b\x0e-\x1f]"
_ROLE_CODES = ROLES  # a role's code is its index here
# Parse threads: pyarrow splits a block into these and parses them in parallel.
_PARSE_BLOCK = 1 << 18


@dataclass(frozen=True)
class FastSpec:
    """What the fast path needs to know about a format: the fields to parse, how to make the
    list of turns from them, and the turns' role names."""

    role_key: str
    content_key: str
    source_roles: tuple[str, ...]  # lower-case role names as written in files
    target_codes: np.ndarray  # per source role: 0 system, 1 user, 2 assistant
    schema: pa.Schema
    # The rows' turns, and the rows whose texts need JSON escapes though their line has no
    # backslash (None: no such rows).
    conversations: Callable[[pa.Table], tuple[pa.ListArray, Optional[np.ndarray]]]
    assistant_only: bool = False  # a lone assistant turn is a valid conversation (plain text)


def spec_for(fmt: RecordFormat) -> Optional[FastSpec]:
    """A FastSpec for the built-in formats; None for any other (a column mapping, plugins)."""
    columns = column_builder(fmt, PY_WHITESPACE)
    if columns is not None:
        fields, build = columns
        return FastSpec("role", "content", _ROLE_CODES, np.arange(3, dtype=np.int8),
                        pa.schema([(name, FIELD_TYPES.get(name, pa.string())) for name in fields]), build,
                        fmt.assistant_only)
    if type(fmt) not in (OpenAIMessages, ShareGPT):
        return None
    list_key = fmt.list_keys[0]
    role_key, content_key = fmt.key_pairs[0]
    roles = tuple(r for r in fmt.role_map if fmt.role_map[r] in ROLES)  # tool turns: the Python path
    codes = np.array([_ROLE_CODES.index(fmt.role_map[r]) for r in roles], dtype=np.int8)
    item = pa.struct([(role_key, pa.string()), (content_key, pa.string())])
    return FastSpec(role_key, content_key, roles, codes, pa.schema([(list_key, pa.list_(item))]),
                    lambda table: (table.column(list_key).combine_chunks(), None))


@dataclass
class FastRows:
    """A block handled by the fast path: the accepted rows as Arrow arrays, plus the rows it
    did not accept (to be normalised in Python, in order). Converted with block-relative line
    numbers (blocks convert in parallel); `place()` makes them absolute, in file order."""

    messages: pa.Array  # normalised messages JSON of the accepted rows
    source: pa.Array  # the accepted rows' lines, without surrounding whitespace
    accepted: np.ndarray  # 0-based positions of the accepted rows in the block
    unaccepted: list[tuple[int, str, Any]]  # (position, line, parsed value) of the others
    line_count: int
    source_row: Optional[pa.Array] = None  # line numbers, once placed
    rejected: list[RawRecord] = field(default_factory=list)  # the others, once placed
    # The whole block as RawRecords, for when the Python path must take it after all.
    fallback: Optional[Callable[[], list[RawRecord]]] = None

    def place(self, first_line: int, first_index: int) -> None:
        self.source_row = pa.array(self.accepted + first_line, type=pa.int64())
        self.rejected = [
            RawRecord(Location(first_index + i, first_line + i, None, "jsonl"), value, raw=line)
            for i, line, value in self.unaccepted
        ]


def convert_block(block: bytes | memoryview, spec: FastSpec, threads: bool = True) -> Optional[FastRows]:
    """Normalise a block of complete JSONL lines (no blank lines), or None to fall back.
    Thread-safe: blocks may convert in parallel (then pass threads=False)."""
    split = _split_lines(block)
    if split is None:
        return None
    lines, escapes = split
    count = len(lines)
    source = pc.utf8_trim(lines, " \t\r\n")
    if not (pc.all(pc.starts_with(source, "{")).as_py() and pc.all(pc.ends_with(source, "}")).as_py()):
        return None  # blank lines, non-object lines or pretty-printed records: Python path
    try:
        table = pj.read_json(
            pa.BufferReader(block),
            read_options=pj.ReadOptions(block_size=_PARSE_BLOCK if threads else len(block) + 1, use_threads=threads),
            parse_options=pj.ParseOptions(explicit_schema=spec.schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != count:  # e.g. two objects on one line: rows and lines must pair up
        return None
    conversations, joined = spec.conversations(table)
    if joined is not None:
        escapes = escapes | joined
    good, item_codes = _accepted(conversations, spec)
    bad_rows = np.flatnonzero(~good)
    unaccepted = []
    for i in bad_rows:
        line = source[int(i)].as_py()
        try:
            value = json.loads(line)
        except (ValueError, RecursionError):
            return None
        unaccepted.append((int(i), line, value))
    if len(bad_rows):
        keep = pa.array(good)
        item_codes = item_codes[np.repeat(good, _lengths(conversations))]
        conversations = conversations.filter(keep)
        source = source.filter(keep)
        escapes = escapes[good]
    messages = _messages_json(conversations, item_codes, spec, escapes)
    return FastRows(messages, source, np.flatnonzero(good), unaccepted, count)


def _split_lines(block: bytes | memoryview) -> Optional[tuple[pa.Array, np.ndarray]]:
    """The block's lines (each with its '\\n') as a StringArray over the block's own buffer,
    and which lines hold a backslash: only their texts can need JSON escapes (JSON itself
    escapes quotes, backslashes and control characters in strings)."""
    raw = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10) + 1
    if not len(ends) or ends[-1] != len(block):
        ends = np.append(ends, len(block))
    offsets = np.zeros(len(ends) + 1, dtype=np.int32)
    offsets[1:] = ends
    lines = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(block))
    try:
        lines.validate(full=True)  # UTF-8; the Python path reports where it breaks
    except pa.ArrowInvalid:
        return None
    escapes = np.zeros(len(ends), dtype=bool)
    escapes[np.searchsorted(ends, np.flatnonzero(raw == 92), side="right")] = True
    return lines, escapes


def _lengths(lists: pa.ListArray) -> np.ndarray:
    offsets = lists.offsets.to_numpy()
    return np.diff(offsets)


def _accepted(conversations: pa.ListArray, spec: FastSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per row: does it pass every check of the Python path? Plus each item's role code."""
    rows = len(conversations)
    lengths = _lengths(conversations)
    offsets = conversations.offsets.to_numpy()
    items = conversations.values.slice(offsets[0], offsets[-1] - offsets[0])
    row_of_item = np.repeat(np.arange(rows), lengths)
    roles = items.field(spec.role_key)
    contents = items.field(spec.content_key)

    trimmed_role = pc.utf8_lower(pc.utf8_trim(roles, PY_WHITESPACE))
    role_index = pc.fill_null(pc.index_in(trimmed_role, pa.array(spec.source_roles)), -1).to_numpy()
    known = role_index >= 0
    codes = np.full(len(items), -1, dtype=np.int8)
    codes[known] = spec.target_codes[role_index[known]]
    item_ok = (
        _true(pc.is_valid(items))
        & _true(pc.is_valid(roles)) & _true(pc.string_is_ascii(roles))
        & known
        & _true(pc.greater(pc.binary_length(pc.utf8_trim(contents, PY_WHITESPACE)), 0))
    )
    # Role order: an optional system turn first, then user, assistant, user, ...
    position = np.arange(len(items)) - np.repeat(offsets[:-1] - offsets[0], lengths)
    first_code = np.full(rows, -1, dtype=np.int8)
    nonempty = lengths > 0
    first_code[nonempty] = codes[offsets[:-1][nonempty] - offsets[0]]
    shift = np.repeat((first_code == 0).astype(np.int64), lengths)
    expected = np.where((position - shift) % 2 == 0, 1, 2)
    in_order = np.where(codes == 0, position == 0, codes == expected)
    if spec.assistant_only:  # plain text: a lone assistant turn needs no user turn before it
        in_order |= np.repeat((lengths == 1) & (first_code == 2), lengths)
    item_ok &= in_order
    bad_items = np.bincount(row_of_item[~item_ok], minlength=rows)
    # The last turn must be an assistant reply (validation refuses an unanswered user turn).
    last_code = np.full(rows, -1, dtype=np.int8)
    last_code[nonempty] = codes[offsets[1:][nonempty] - 1 - offsets[0]]
    good = _true(pc.is_valid(conversations)) & nonempty & (bad_items == 0) & (last_code == 2)
    return good, codes


def _true(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls counted as False. (Via uint8: converting a
    boolean array directly makes pyarrow import pandas.)"""
    return pc.cast(pc.fill_null(mask, False), pa.uint8()).to_numpy().view(np.bool_)


def _messages_json(conversations: pa.ListArray, codes: np.ndarray, spec: FastSpec, escapes: np.ndarray) -> pa.Array:
    """`[{"role":"user","content":"..."},...]` per row, exactly as json.dumps writes it.
    `escapes`: the rows whose texts may need JSON escapes."""
    offsets = conversations.offsets.to_numpy()
    items = conversations.values.slice(offsets[0], offsets[-1] - offsets[0])
    contents = items.field(spec.content_key)
    lengths = np.diff(offsets)
    if escapes.any():
        contents = _escaped(contents, np.repeat(escapes, lengths))
    count = len(contents)
    first = np.zeros(count, dtype=bool)
    last = np.zeros(count, dtype=bool)
    starts = offsets[:-1] - offsets[0]
    first[starts[lengths > 0]] = True
    last[(starts + lengths - 1)[lengths > 0]] = True
    prefixes = pa.array([f'{"[" if opening else ""}{{"role":"{role}","content":"'
                         for opening in (False, True) for role in _ROLE_CODES])
    prefix = prefixes.take(pa.array(codes.astype(np.int32) + 3 * first))
    suffix = pa.array(['"},', '"}]']).take(pa.array(last.astype(np.int32)))
    pieces = pc.binary_join_element_wise(prefix, contents, suffix, "")
    rows = pa.ListArray.from_arrays(pa.array(offsets - offsets[0], type=pa.int32()), pieces)
    return pc.binary_join(rows, "")


def _escaped(contents: pa.Array, candidates: np.ndarray) -> pa.Array:
    """JSON-escape the candidate contents (as json.dumps with ensure_ascii=False does)."""
    needs = pa.array(candidates)
    subset = contents.filter(needs)
    escaped = subset
    for char, replacement in _SHORT_ESCAPES:
        escaped = pc.replace_substring(escaped, char, replacement)
    rare = pc.match_substring_regex(subset, _OTHER_CONTROL)
    if pc.any(rare).as_py():
        # Rare control characters (\u0001 ...): json.dumps itself, for these few strings.
        rare = pc.fill_null(rare, False)
        texts = [json.dumps(s, ensure_ascii=False)[1:-1] for s in subset.filter(rare).to_pylist()]
        escaped = pc.replace_with_mask(escaped, rare, pa.array(texts, pa.string()))
    return pc.replace_with_mask(contents, needs, escaped)
