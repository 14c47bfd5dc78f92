"""Stream the records of a JSON document without loading it whole.

Accepts an array of records, or an object holding one list of records next to small metadata
(`{"version": 1, "data": [...]}`); an object that is itself one record (`{"messages": [...]}`)
yields that one record. Elements are parsed one at a time with json.raw_decode over a
sliding buffer, so memory stays bounded by the largest record.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from workbench.core.errors import DataImportError

# Keys whose list value is part of one record, never the list of records.
RECORD_LIST_KEYS = frozenset({"messages", "conversations", "conversation"})
_WS = " \t\r\n"
_decoder = json.JSONDecoder()


class JsonStream:
    """Yields (index, line, value) for each record of a JSON document read from text chunks."""

    def __init__(self, chunks: Iterator[str], file_name: str) -> None:
        self._chunks = chunks
        self._name = file_name
        self._buf = ""
        self._pos = 0
        self._eof = False
        # Line counting is incremental: newlines before _count_pos are already in _lines.
        self._lines = 0
        self._count_pos = 0

    # -- buffer ----------------------------------------------------------------------------
    def _fill(self, double: bool = False) -> bool:
        """Read the next chunk; with `double`, read until the unparsed text has doubled (a value
        that spans many chunks is then re-parsed log(n) times, not once per chunk)."""
        if self._eof:
            return False
        chunks = [next(self._chunks, None)]
        if chunks[0] is None:
            self._eof = True
            return False
        if double:
            wanted = len(self._buf) - self._pos
            got = len(chunks[0])
            while got < wanted:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                chunks.append(chunk)
                got += len(chunk)
        if self._pos > len(self._buf) // 2:  # drop what we consumed
            self._line_at(self._pos)
            self._buf = self._buf[self._pos :]
            self._count_pos -= self._pos
            self._pos = 0
        self._buf += "".join(chunks)
        return True

    def _line_at(self, pos: int) -> int:
        if pos > self._count_pos:
            self._lines += self._buf.count("\n", self._count_pos, pos)
            self._count_pos = pos
        return self._lines + 1

    def _peek(self) -> str:
        """The next non-whitespace character ('' at the end)."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WS:
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _error(self, what: str) -> DataImportError:
        line = self._line_at(self._pos)
        col = self._pos - (self._buf.rfind("\n", 0, self._pos) + 1) + 1
        return DataImportError(
            f"{self._name} is not valid JSON: {what} at line {line}, column {col}.",
            details=f"Text there: {self._buf[self._pos:self._pos + 60]!r}",
            advice="Fix the JSON (a validator or editor shows the spot), or save the records "
            "as JSON Lines (.jsonl): one record per line, so one bad line can be skipped.",
        )

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._error(f"expected '{char}'")
        self._pos += 1

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = _decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # Incomplete input fails near the buffer's end (or inside an unterminated
                # string); then read more and try again. Anything else is a real error.
                near_end = exc.pos >= len(self._buf) - 16
                if (near_end or exc.msg.startswith("Unterminated string")) and self._fill(double=True):
                    continue
                self._pos = exc.pos
                raise self._error(exc.msg.lower()) from exc
            except RecursionError as exc:
                raise self._error("a value nested too deeply to read") from exc
            except ValueError as exc:  # e.g. an integer with more than 4300 digits
                raise self._error(f"a value that cannot be read ({exc})") from exc
            if end == len(self._buf) and not isinstance(value, (dict, list, str)) and self._fill(double=True):
                continue  # a number or literal may go on in the next chunk
            self._pos = end
            return value

    # -- structure -------------------------------------------------------------------------
    def records(self) -> Iterator[tuple[int, int, Any]]:
        first = self._peek()
        if first == "[":
            yield from self._array_elements(start_index=0)
        elif first == "{":
            yield from self._object_records()
        elif first == "":
            return
        else:
            raise self._error("expected '[' (an array of records) or '{'")
        if self._peek() != "":
            raise self._error(
                "unexpected text after the JSON value (a JSON Lines file? name it .jsonl)"
            )

    def _array_elements(self, start_index: int, first: Any = ..., first_line: int = 0) -> Iterator[tuple[int, int, Any]]:
        """Elements of the array whose '[' is next (or, when `first` is given, already past it)."""
        index = start_index
        if first is ...:
            self._expect("[")
            if self._peek() == "]":
                self._pos += 1
                return
        else:
            yield index, first_line, first
            index += 1
            if not self._comma_or("]"):
                return
        while True:
            self._peek()
            line = self._line_at(self._pos)
            yield index, line, self._value()
            index += 1
            if not self._comma_or("]"):
                return

    def _comma_or(self, closing: str) -> bool:
        """Consume ',' (True: more follow) or the closing bracket (False)."""
        char = self._peek()
        if char == ",":
            self._pos += 1
            return True
        if char == closing:
            self._pos += 1
            return False
        raise self._error(f"expected ',' or '{closing}'")

    def _object_records(self) -> Iterator[tuple[int, int, Any]]:
        self._expect("{")
        top: dict[str, Any] = {}
        record_lists: list[str] = []
        if self._peek() == "}":
            self._pos += 1
        else:
            while True:
                if self._peek() != '"':
                    raise self._error("expected a key in double quotes")
                key = self._value()
                self._expect(":")
                if self._peek() == "[" and key not in RECORD_LIST_KEYS:
                    yield from self._maybe_record_list(key, top, record_lists)
                else:
                    top[key] = self._value()
                if not self._comma_or("}"):
                    break
        if not record_lists:
            # No list of records: the object is one record (or not a dataset at all, which
            # format detection reports with the keys it saw).
            yield 0, 1, top

    def _maybe_record_list(self, key: str, top: dict[str, Any], record_lists: list[str]) -> Iterator[tuple[int, int, Any]]:
        self._expect("[")
        if self._peek() == "]":
            self._pos += 1
            top[key] = []
            return
        line = self._line_at(self._pos)
        first = self._value()
        if not isinstance(first, dict):
            items = [first]
            while self._comma_or("]"):
                items.append(self._value())
            top[key] = items
            return
        record_lists.append(key)
        if len(record_lists) > 1:
            raise DataImportError(
                f"{self._name} holds more than one list of records "
                f"('{record_lists[0]}' and '{key}'); which one is the dataset is unclear.",
                advice="Keep one list of records in the file, or save each list to its own file.",
            )
        yield from self._array_elements(start_index=0, first=first, first_line=line)
