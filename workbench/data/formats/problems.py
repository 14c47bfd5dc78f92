"""Where a record sits in its file, and the typed problems found while importing it.

Every problem names the file, the place (line, row or index), the field, what is wrong and
what to do, so the UI can list them in a table and the CLI can print them one per line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any, Callable, Iterable, Optional

from workbench.core.errors import DataImportError

# The most problems kept in memory; beyond it only the count grows (memory must not grow
# with the file size).
MAX_KEPT_PROBLEMS = 1000
# How many problems an abort message lists before "... and N more".
ABORT_LISTED = 10
# The raw text of a kept problem's record is cut to this many characters in memory (a report
# streamed to a file during the import gets it whole).
RAW_KEPT_CHARS = 65_536


class ProblemKind(StrEnum):
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    RAGGED_ROW = "ragged_row"
    MISSING_FIELD = "missing_field"
    EMPTY_MESSAGE = "empty_message"
    EMPTY_CONVERSATION = "empty_conversation"
    UNKNOWN_ROLE = "unknown_role"
    ROLE_ORDER = "role_order"
    NON_TEXT = "non_text"
    INVALID_TEXT = "invalid_text"
    PREFERENCE_PAIR = "preference_pair"  # a pair that cannot be read or stored (or one in a file of conversations)
    BAD_TOOL_CALL = "bad_tool_call"  # a tool call without a name, or arguments that are not a JSON object
    BAD_TOOLS = "bad_tools"  # tool definitions that are not a list of function specs


@dataclass(frozen=True)
class Location:
    """Where a record starts in its source file.

    index: 0-based position among the file's records (always set).
    line: 1-based physical line where the record starts (JSONL, CSV/TSV, JSON, text).
    row: CSV/TSV only: 1-based row as a spreadsheet shows it (the header is row 1).
    name: the file inside a folder the record comes from (folder imports).
    """

    index: int
    line: Optional[int] = None
    row: Optional[int] = None
    kind: str = "jsonl"  # the reader kind: jsonl, json, csv, tsv, text, parquet, arrow, folder
    name: Optional[str] = None

    @property
    def number(self) -> int:
        """The number a user looks for in the file: line (JSONL, text), row (CSV), else the
        index (JSON, Parquet, Arrow, folders)."""
        if self.kind in ("csv", "tsv") and self.row is not None:
            return self.row
        if self.kind in ("jsonl", "text") and self.line is not None:
            return self.line
        return self.index

    def describe(self) -> str:
        prefix = f"{self.name}, " if self.name else ""
        if self.row is not None:
            return prefix + f"row {self.row}" + (f" (line {self.line})" if self.line else "")
        if self.kind == "json":
            return prefix + f"record {self.index}" + (f" (line {self.line})" if self.line else "")
        if self.line is not None:
            return prefix + f"line {self.line}"
        return prefix + f"record {self.index}"


@dataclass(frozen=True)
class Issue:
    """A problem found in one record before we know which file and place it came from."""

    kind: ProblemKind
    field: Optional[str]
    message: str
    advice: str = ""


@dataclass(frozen=True)
class Problem:
    """One typed problem in one record of one file."""

    file: str
    kind: ProblemKind
    message: str
    advice: str = ""
    field: Optional[str] = None
    index: int = 0
    line: Optional[int] = None
    row: Optional[int] = None
    raw: Optional[str] = None  # the record's original text, where the reader has it

    @classmethod
    def at(cls, issue: Issue, file: str, location: Location, raw: Optional[str] = None) -> "Problem":
        return cls(
            file=f"{file}/{location.name}" if location.name else file,
            kind=issue.kind,
            message=issue.message,
            advice=issue.advice,
            field=issue.field,
            index=location.index,
            line=location.line,
            row=location.row,
            raw=raw,
        )

    def where(self) -> str:
        if self.row is not None:
            return f"row {self.row}"
        if self.line is not None:
            return f"line {self.line}"
        return f"record {self.index}"

    def __str__(self) -> str:
        place = f"{self.file}, {self.where()}"
        if self.field:
            place += f", field '{self.field}'"
        text = f"{place}: {self.message}"
        return f"{text} {self.advice}" if self.advice else text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        return data


class ProblemLog:
    """Collects problems: keeps the first MAX_KEPT_PROBLEMS (their raw text cut to
    RAW_KEPT_CHARS), counts all of them, and hands every one to `sink` (a report file)."""

    def __init__(self, limit: Optional[int] = None, sink: Optional[Callable[[Problem], None]] = None) -> None:
        self.limit = MAX_KEPT_PROBLEMS if limit is None else limit
        self.kept: list[Problem] = []
        self.total = 0
        self._sink = sink

    def add(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.total += 1
            if self._sink is not None:
                self._sink(problem)
            if len(self.kept) < self.limit:
                if problem.raw is not None and len(problem.raw) > RAW_KEPT_CHARS:
                    cut = len(problem.raw) - RAW_KEPT_CHARS
                    problem = replace(problem, raw=problem.raw[:RAW_KEPT_CHARS] + f" [... {cut:,} more characters]")
                self.kept.append(problem)

    def abort_error(self, file: str, records_with_problems: int) -> DataImportError:
        listed = "\n".join(f"  - {p}" for p in self.kept[:ABORT_LISTED])
        more = self.total - min(self.total, ABORT_LISTED)
        if more:
            listed += f"\n  ... and {more} more"
        noun = "record has" if records_with_problems == 1 else "records have"
        first = self.kept[0] if self.kept else None
        example = f" First: {first.where()}: {first.message}" if first else ""
        return DataImportError(
            f"{file}: {records_with_problems} {noun} problems "
            f"({self.total} problem{'s' if self.total != 1 else ''} in all); nothing was imported."
            + example,
            details=listed,
            advice="Fix the listed rows, or import again skipping invalid rows.",
        )
