"""Readers: stream a file's records with their location, one reader per file type.

A reader yields RawRecord items: a parsed record (normally a dict) or, for a record that
cannot be parsed on its own (a malformed JSON line, a ragged CSV row), an Issue; with the
record's original text where it is at hand (`raw`, for problem reports). Problems that make
the rest of the file unreadable (bad encoding, broken JSON document) raise DataImportError.
New text file types register a reader class with `register_reader`; Parquet, Arrow and folders
are read by workbench.data.ingest.inputs.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, NamedTuple, Optional

from workbench.core.errors import DataImportError
from workbench.data.ingest.json_stream import JsonStream
from workbench.data.formats.problems import Issue, Location, ProblemKind
from workbench.data.ingest.textsource import TextSource

# Columnar files opened by workbench.data.ingest.inputs (not through a text reader).
BINARY_SUFFIXES = (".parquet", ".arrow", ".feather", ".ipc")
CSV_DELIMITERS = ",\t;|"
TEXT_MODES = ("file", "paragraph", "line")
DEFAULT_TEXT_MODE = "paragraph"
# Characters around a JSON value that json.loads ignores (JSON whitespace, not str.strip()'s).
JSON_SPACE = " \t\r\n"


class RawRecord(NamedTuple):
    """One record as read (a NamedTuple: built once per record, so cheap to create).

    raw: the record's original text where the reader has it. For JSON Lines it is the line
    itself (without surrounding whitespace), which is also stored as the record's source.
    """

    location: Location
    value: Any = None
    issue: Optional[Issue] = None
    raw: Optional[str] = None


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
        return jsonl_records(self.source.lines())


def jsonl_records(lines: Iterable[tuple[int, str]], index: int = 0) -> Iterator[RawRecord]:
    """JSON Lines records from (line number, line) pairs; `index` numbers the first record."""
    loads = json.loads
    for line_no, line in lines:
        if not line.strip():
            continue  # blank lines (often a trailing one) are not records
        location = Location(index, line_no, None, "jsonl")
        index += 1
        text = line.strip(JSON_SPACE)
        try:
            value = loads(text)
        except json.JSONDecodeError as exc:
            yield RawRecord(location, issue=Issue(
                ProblemKind.MALFORMED_JSON, None,
                f"Not valid JSON: {exc.msg} at column {exc.colno + len(line) - len(line.lstrip(JSON_SPACE))}.",
                "Fix or remove the line; each line must hold one complete JSON object.",
            ), raw=text)
            continue
        except ValueError as exc:  # e.g. an integer with more than 4300 digits
            yield RawRecord(location, issue=Issue(
                ProblemKind.MALFORMED_JSON, None, f"Not readable JSON: {exc}.",
                "Fix or remove the line; store very long numbers as strings.",
            ), raw=text)
            continue
        except RecursionError:
            yield RawRecord(location, issue=Issue(
                ProblemKind.MALFORMED_JSON, None, "The JSON is nested too deeply to read.",
                "Flatten the record: a conversation needs only a list of turn objects.",
            ), raw=text)
            continue
        yield RawRecord(location, value, raw=text)


class JsonReader(RecordReader):
    kind = "json"

    def records(self) -> Iterator[RawRecord]:
        stream = JsonStream(self.source.chunks(), self.source.name)
        for index, line, value in stream.records():
            yield RawRecord(Location(index=index, line=line, kind=self.kind), value)


class PlainTextReader(RecordReader):
    """Plain text (.txt, .md): one record {"text": ...} per file, per paragraph (lines
    separated by blank lines) or per non-blank line."""

    kind = "text"

    def __init__(self, source: TextSource, mode: Optional[str] = None) -> None:
        super().__init__(source)
        self.mode = check_text_mode(mode) or DEFAULT_TEXT_MODE

    def records(self) -> Iterator[RawRecord]:
        if self.mode == "file":
            text = "".join(self.source.chunks())
            if text:  # whitespace only: a record validation reports as empty
                yield self._record(0, 1, text)
            return
        index = 0
        paragraph: list[str] = []
        start = 0
        for line_no, line in self.source.lines():
            if self.mode == "line":
                if line.strip():
                    yield self._record(index, line_no, line)
                    index += 1
                continue
            if line.strip():
                if not paragraph:
                    start = line_no
                paragraph.append(line)
            elif paragraph:
                yield self._record(index, start, "\n".join(paragraph))
                index += 1
                paragraph = []
        if paragraph:
            yield self._record(index, start, "\n".join(paragraph))

    def _record(self, index: int, line: int, text: str) -> RawRecord:
        return RawRecord(Location(index, line, None, self.kind), {"text": text}, raw=text)


def check_text_mode(mode: Optional[str]) -> Optional[str]:
    if mode is None or mode in TEXT_MODES:
        return mode
    raise DataImportError(
        f"Unknown text mode '{mode}'.",
        advice="Choose 'file' (one example per file), 'paragraph' (per blank-line separated "
        "paragraph) or 'line' (per line).",
    )


class CsvReader(RecordReader):
    """CSV or TSV with a header row. Quoted fields may hold newlines and delimiters."""

    kind = "csv"

    def __init__(self, source: TextSource, delimiter: Optional[str] = None) -> None:
        super().__init__(source)
        self.delimiter = delimiter

    def records(self) -> Iterator[RawRecord]:
        # Long conversations exceed the csv module's default 128 KiB field limit.
        csv.field_size_limit(2**31 - 1)
        taken: list[str] = []  # the lines of the row being parsed (for problem reports)
        lines = _recording(self.source.raw_lines(), taken)
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
            taken.clear()
            for cells in reader:
                start_line, consumed = consumed + 1, reader.line_num
                raw = "".join(taken).rstrip("\r\n")
                taken.clear()
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # blank line
                row_no += 1
                location = Location(index, start_line, row_no, self.kind)
                index += 1
                if len(cells) != len(header):
                    yield RawRecord(location, issue=Issue(
                        ProblemKind.RAGGED_ROW, None,
                        f"Row {row_no} has {len(cells)} fields, the header has {len(header)}.",
                        "Quote fields that contain the delimiter or a newline, and give every "
                        "row one value per header column.",
                    ), raw=raw)
                    continue
                yield RawRecord(location, dict(zip(header, cells)), raw=raw)
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


def _recording(lines: Iterator[str], taken: list[str]) -> Iterator[str]:
    for line in lines:
        taken.append(line)
        yield line


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
    "text": PlainTextReader,
}
_SUFFIX_KIND = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
                ".txt": "text", ".md": "text", ".markdown": "text"}


def register_reader(kind: str, factory: Callable[[TextSource], RecordReader], *suffixes: str) -> None:
    """Add a reader for a new file type (plugins, later issues)."""
    READERS[kind] = factory
    for suffix in suffixes:
        _SUFFIX_KIND[suffix.lower()] = kind


def unregister_reader(kind: str) -> None:
    """Remove a reader and its suffixes (a plugin being disabled)."""
    READERS.pop(kind, None)
    for suffix in [s for s, k in _SUFFIX_KIND.items() if k == kind]:
        del _SUFFIX_KIND[suffix]


def supported_extensions() -> tuple[str, ...]:
    """Every file extension an import reads (any may also end in .gz), from the reader registry:
    a reader registered later (a plugin) is offered by the open dialog and drag-and-drop too.
    Folders (of text files, or a Hugging Face `save_to_disk` dataset) are imported as well."""
    return tuple(_SUFFIX_KIND) + BINARY_SUFFIXES


def file_kind(path: str | Path, head: str) -> str:
    """The reader kind for a file: from its extension (ignoring .gz), checked against the
    content for the common mix-ups (JSON Lines saved as .json or .txt); sniffed when unknown."""
    kind = _SUFFIX_KIND.get(Path(strip_gz(Path(path).name.lower())).suffix)
    if kind == "text":
        stripped = head.lstrip()
        markdown = Path(strip_gz(Path(path).name.lower())).suffix in (".md", ".markdown")
        return "jsonl" if not markdown and stripped.startswith("{") and _looks_like_jsonl(stripped) else "text"
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
    except (ValueError, RecursionError):
        return False
    return rest.lstrip().startswith("{") or not rest.strip()


def strip_gz(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def open_reader(source: TextSource, kind: Optional[str] = None, text_mode: Optional[str] = None) -> RecordReader:
    """The reader for a text file. A text_mode makes it plain text whatever the extension."""
    if text_mode is not None:
        return PlainTextReader(source, text_mode)
    kind = kind or file_kind(source.path, source.head_text())
    try:
        factory = READERS[kind]
    except KeyError:
        raise DataImportError(
            f"{source.name}: no reader for file type '{kind}'.",
            advice=f"Supported: {', '.join(supported_extensions())} (optionally .gz).",
        ) from None
    return factory(source)
