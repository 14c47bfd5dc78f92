"""Fast-path builders for the formats that keep each turn in its own field: plain text,
prompt/completion and Alpaca. From the parsed fields of a block they build the same list of
{role, content} turns the Python path's normalise() builds, as one Arrow ListArray, so the
checks and the JSON assembly of jsonl_fast apply unchanged.

A missing required field becomes a null text (the row is then rejected and the Python path
reports it); a value of another type than text makes pyarrow refuse the whole block (Python
path too)."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.data.formats.detect import Alpaca, PlainText, PromptCompletion, RecordFormat

# Canonical role codes: the index into ("system", "user", "assistant").
SYSTEM, USER, ASSISTANT = 0, 1, 2
_ROLE_NAMES = pa.array(["system", "user", "assistant"])

# (the rows' turns, the rows whose texts were joined here: they hold newlines, so need JSON
# escapes even when their line holds no backslash)
Builder = Callable[[pa.Table], tuple[pa.ListArray, Optional[np.ndarray]]]


# Fields parsed as another type than text.
FIELD_TYPES = {"history": pa.list_(pa.list_(pa.string()))}


def column_builder(fmt: RecordFormat, whitespace: str) -> tuple[tuple[str, ...], Builder] | None:
    """(fields to parse, builder) for a column format; None for other formats. The fields are
    parsed as text, except those in FIELD_TYPES."""
    if type(fmt) is PlainText:
        return ("text",), lambda table: (_conversations([(ASSISTANT, _text(table, "text"))], None), None)
    if type(fmt) is PromptCompletion:
        return ("prompt", "completion"), lambda table: (_conversations(
            [(USER, _text(table, "prompt")), (ASSISTANT, _text(table, "completion"))], None), None)
    if type(fmt) is Alpaca:
        return ("system", "instruction", "input", "output", "history"), lambda table: _alpaca(table, whitespace)
    return None


def _text(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def _blank(values: pa.Array, whitespace: str) -> np.ndarray:
    """True where a text is null or only whitespace (as str.strip() sees it)."""
    length = pc.binary_length(pc.utf8_trim(values, whitespace))
    return pc.cast(pc.fill_null(pc.equal(length, 0), True), pa.uint8()).to_numpy().view(np.bool_)


def _alpaca(table: pa.Table, whitespace: str) -> tuple[pa.ListArray, np.ndarray]:
    """formats.Alpaca.normalise, vectorised: an optional system turn (left out when blank),
    the instruction (and the input after a blank line, or the input alone when the
    instruction is blank), then the output. Rows with earlier turns (`history`) are left to
    the Python path (their instruction made null, so the row is not accepted)."""
    instruction, output = _text(table, "instruction"), _text(table, "output")
    history = table.column("history").combine_chunks()
    with_history = pc.fill_null(pc.greater(pc.list_value_length(history), 0), False)
    instruction = pc.if_else(with_history, pa.nulls(len(instruction), pa.string()), instruction)
    extra = pc.fill_null(_text(table, "input"), "")
    system = pc.fill_null(_text(table, "system"), "")
    count = len(instruction)
    joined = pc.binary_join_element_wise(instruction, pa.repeat(pa.scalar("\n\n"), count), extra, "")
    extra_given, instruction_given = ~_blank(extra, whitespace), ~_blank(instruction, whitespace)
    has_extra, has_instruction = pa.array(extra_given), pa.array(instruction_given)
    # A null instruction stays null (the Python path reports it missing).
    prompt = pc.if_else(has_extra, pc.if_else(has_instruction, joined, pc.if_else(pc.is_null(instruction), instruction, extra)), instruction)
    conversations = _conversations([(SYSTEM, system), (USER, prompt), (ASSISTANT, output)], ~_blank(system, whitespace))
    return conversations, extra_given & instruction_given


def _conversations(turns: list[tuple[int, pa.Array]], first_present: np.ndarray | None) -> pa.ListArray:
    """Rows of turns from one array per turn position; `first_present` (optional) says per row
    whether the first turn is there at all."""
    count = len(turns[0][1])
    width = len(turns)
    present = np.ones((count, width), dtype=bool)
    if first_present is not None:
        present[:, 0] = first_present
    index = (np.arange(width) * count)[None, :] + np.arange(count)[:, None]  # [row, turn] -> value
    index = index[present]
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    contents = pa.concat_arrays([values.cast(pa.string()) for _, values in turns]).take(pa.array(index))
    codes = np.repeat(np.array([code for code, _ in turns], dtype=np.int32)[None, :], count, axis=0)[present]
    roles = _ROLE_NAMES.take(pa.array(codes))
    items = pa.StructArray.from_arrays([roles, contents], names=["role", "content"])
    return pa.ListArray.from_arrays(pa.array(offsets), items)
