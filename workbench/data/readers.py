"""Readers: stream a file's records with their location, one reader per file type.

A reader yields RawRecord items: a parsed record (normally a dict) or, for a record that
cannot be parsed on its own (a malformed JSON line, a ragged CSV row), an Issue. Problems
that make the rest of the file unreadable (bad encoding, broken JSON document) raise
DataImportError. New file types register a reader class with `register_reader`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Optional

from workbench.core.errors import DataImportError
from workbench.data.json_stream import JsonStream
from workbench.data.problems import Issue, Location, ProblemKind
from workbench.data.textsource import TextSource

# What the import dialog offers; any of them may also end in .gz.
SUPPORTED_EXTENSIONS = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")
CSV_DELIMITERS = ",\t;|"


@dataclass(frozen=True)
class RawRecord:
    location: Location
    value: Any = None
    issue: Optional[Issue] = None


class RecordReader:
    """Base class: `records()` streams the file's records once."""

    kind: ClassVar[str] = ""

    def __init__(self, source: TextSource) -> None:
        self.source = source

    def records(self) -> Iterator[RawRecord]:  # pragma: no cover - abstract
        raise NotImplementedError


class JsonlReader(RecordReader):
    kind = "jsonl"

    def records(self) -> Iterator[RawRecord]:
        index = 0
        for line_no, line in self.source.lines():
            if not line.strip():
                continue  # blank lines (often a trailing one) are not records
            location = Location(index=index, line=line_no, kind=self.kind)
            index += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield RawRecord(location, issue=Issue(
                    ProblemKind.MALFORMED_JSON, None,
                    f"Not valid JSON: {exc.msg} at column {exc.colno}.",
                    "Fix or remove the line; each line must hold one complete JSON object.",
                ))
                continue
            yield RawRecord(location, value)


class JsonReader(RecordReader):
    kind = "json"

    def records(self) -> Iterator[RawRecord]:
        stream = JsonStream(self.source.chunks(), self.source.name)
        for index, line, value in stream.records():
            yield RawRecord(Location(index=index, line=line, kind=self.kind), value)


class CsvReader(RecordReader):
    """CSV or TSV with a header row. Quoted fields may hold newlines and delimiters."""

    kind = "csv"

    def __init__(self, source: TextSource, delimiter: Optional[str] = None) -> None:
        super().__init__(source)
        self.delimiter = delimiter

    def records(self) -> Iterator[RawRecord]:
        # Long conversations exceed the csv module's default 128 KiB field limit.
        csv.field_size_limit(2**31 - 1)
        lines = self.source.raw_lines()
        delimiter = self.delimiter or sniff_delimiter(self.source.head_text())
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        try:
            header = next(reader, None)
            while header is not None and not any(cell.strip() for cell in header):
                header = next(reader, None)  # blank lines before the header
            if header is None:
                return
            header = [cell.strip() for cell in header]
            self._check_header(header)
            row_no, index = 1, 0
            consumed = reader.line_num
            for cells in reader:
                start_line, consumed = consumed + 1, reader.line_num
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # blank line
                row_no += 1
                location = Location(index=index, line=start_line, row=row_no, kind=self.kind)
                index += 1
                if len(cells) != len(header):
                    yield RawRecord(location, issue=Issue(
                        ProblemKind.RAGGED_ROW, None,
                        f"Row {row_no} has {len(cells)} fields, the header has {len(header)}.",
                        "Quote fields that contain the delimiter or a newline, and give every "
                        "row one value per header column.",
                    ))
                    continue
                yield RawRecord(location, dict(zip(header, cells)))
        except csv.Error as exc:
            raise DataImportError(
                f"{self.source.name} cannot be read as CSV near line {reader.line_num}.",
                details=str(exc),
                advice="Check the quoting around that line (a quote opened and never closed?).",
            ) from exc

    def _check_header(self, header: list[str]) -> None:
        seen: set[str] = set()
        for position, name in enumerate(header, start=1):
            if not name:
                raise DataImportError(
                    f"{self.source.name}: header column {position} has no name.",
                    details=f"Header: {header!r}",
                    advice="The first row must name every column (e.g. instruction, input, output).",
                )
            if name in seen:
                raise DataImportError(
                    f"{self.source.name}: the header names column '{name}' twice.",
                    details=f"Header: {header!r}",
                    advice="Give every column a distinct name.",
                )
            seen.add(name)


class TsvReader(CsvReader):
    kind = "tsv"

    def __init__(self, source: TextSource, delimiter: Optional[str] = None) -> None:
        super().__init__(source, delimiter or "\t")


def sniff_delimiter(head: str) -> str:
    """The delimiter most used in the header line (header lines rarely quote delimiters)."""
    header = head.split("\n", 1)[0]
    counts = {d: header.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


READERS: dict[str, Callable[[TextSource], RecordReader]] = {
    "jsonl": JsonlReader,
    "json": JsonReader,
    "csv": CsvReader,
    "tsv": TsvReader,
}
_SUFFIX_KIND = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv"}


def register_reader(kind: str, factory: Callable[[TextSource], RecordReader], *suffixes: str) -> None:
    """Add a reader for a new file type (plugins, later issues)."""
    READERS[kind] = factory
    for suffix in suffixes:
        _SUFFIX_KIND[suffix.lower()] = kind


def file_kind(path: str | Path, head: str) -> str:
    """The reader kind for a file: from its extension (ignoring .gz), checked against the
    content for the common mix-up of JSON Lines saved as .json; sniffed when unknown."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    kind = _SUFFIX_KIND.get(Path(name).suffix)
    if kind in (None, "json"):
        stripped = head.lstrip()
        if stripped.startswith("{") and _looks_like_jsonl(stripped):
            return "jsonl"
        if kind is None:
            return "json" if stripped.startswith(("{", "[")) else "csv"
    return kind


def _looks_like_jsonl(text: str) -> bool:
    first, _, rest = text.partition("\n")
    try:
        json.loads(first)
    except json.JSONDecodeError:
        return False
    return rest.lstrip().startswith("{") or not rest.strip()


def open_reader(source: TextSource, kind: Optional[str] = None) -> RecordReader:
    kind = kind or file_kind(source.path, source.head_text())
    try:
        factory = READERS[kind]
    except KeyError:
        raise DataImportError(
            f"{source.name}: no reader for file type '{kind}'.",
            advice=f"Supported: {', '.join(SUPPORTED_EXTENSIONS)} (optionally .gz).",
        ) from None
    return factory(source)
