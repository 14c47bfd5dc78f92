"""Problem reports: the rows an import skipped or refused, as a JSONL or CSV file a user can
open, fix and import again.

Each line/row holds: file, line, row, index, field, kind, message, advice, and raw (the
record's original text where the reader has it: the JSONL line, the CSV row's lines, the text
paragraph; for JSON, Parquet and Arrow the record re-serialised as JSON).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import IO, Iterable, Optional

from workbench.core.errors import DataImportError
from workbench.data.ingest.partials import partial_path
from workbench.data.formats.problems import Problem

REPORT_FIELDS = ("file", "line", "row", "index", "field", "kind", "message", "advice", "raw")


def report_format(path: str | Path) -> str:
    """'csv' for a .csv (or .tsv) path, else 'jsonl'."""
    suffix = Path(path).suffix.lower()
    return "csv" if suffix in (".csv", ".tsv") else "jsonl"


class ProblemReport:
    """Streams problems to `path` while an import runs: written under a `.partial-*` name,
    moved into place by `commit()`, removed by `discard()`. Use as a context manager for
    write_problems-style one-shot use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = report_format(self.path)
        self.count = 0
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._temp = partial_path(folder, self.path.suffix)
            # utf-8-sig for CSV: spreadsheet programs then read the text as UTF-8.
            self._file: Optional[IO[str]] = open(
                self._temp, "w", encoding="utf-8-sig" if self.format == "csv" else "utf-8", newline="",
                errors="backslashreplace",  # a lone surrogate in a record's text
            )
        except OSError as exc:
            raise DataImportError(
                f"The problem report {self.path} cannot be written.",
                details=str(exc),
                advice="Choose a folder you can write to.",
            ) from exc
        self._csv = None
        if self.format == "csv":
            delimiter = "\t" if self.path.suffix.lower() == ".tsv" else ","
            self._csv = csv.writer(self._file, delimiter=delimiter)
            self._csv.writerow(REPORT_FIELDS)

    def add(self, problem: Problem) -> None:
        assert self._file is not None, "the report is closed"
        data = problem.to_dict()
        row = {name: data.get(name) for name in REPORT_FIELDS}
        if self._csv is not None:
            self._csv.writerow(["" if row[name] is None else row[name] for name in REPORT_FIELDS])
        else:
            self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.count += 1

    def commit(self) -> Path:
        assert self._file is not None, "the report is closed"
        self._file.close()
        self._file = None
        os.replace(self._temp, self.path)
        return self.path

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._temp.unlink(missing_ok=True)

    def __enter__(self) -> "ProblemReport":
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def write_problems(problems: Iterable[Problem], path: str | Path) -> Path:
    """Write problems (e.g. ImportOutcome.problems) to a JSONL file, or CSV when `path` ends in
    .csv; the file appears complete or not at all. Returns the path."""
    with ProblemReport(path) as report:
        for problem in problems:
            report.add(problem)
    return report.path
