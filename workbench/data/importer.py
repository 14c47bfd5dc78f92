"""Import a dataset file: read → detect format → normalise → validate → write Parquet.

A pure function of its inputs (no Qt, no store): services call it in a worker thread with a
progress callback and a CancelToken, then record the outcome as a DatasetVersion.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Literal, Optional

from workbench.core.errors import DataImportError
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.data.formats import DETECT_SAMPLE, RecordFormat, detect_format, get_format
from workbench.data.parquet_io import DatasetWriter, dumps
from workbench.data.problems import Issue, Location, Problem, ProblemKind, ProblemLog
from workbench.data.readers import RawRecord, open_reader
from workbench.data.textsource import TextSource
from workbench.data.validation import check_turns

OnInvalid = Literal["abort", "skip"]
_PROGRESS_EVERY = 512  # records between progress reports (also every 1% of the bytes)


@dataclass(frozen=True)
class ImportOutcome:
    parquet_path: Path
    content_hash: str  # sha256 of the normalised rows; the file is <content_hash>.parquet
    row_count: int
    format: str
    source_name: str
    source_size: int
    source_hash: str  # sha256 of the raw file as it is on disk
    problems: list[Problem] = field(default_factory=list)  # the first ones (skip mode)
    skipped_count: int = 0  # records left out because of problems
    problem_count: int = 0  # all problems, also those beyond `problems`
    file_kind: str = ""  # reader used: jsonl, json, csv, tsv
    encoding: str = ""


@dataclass(frozen=True)
class NormalisedRecord:
    location: Location
    messages: list[dict[str, str]]  # empty when problems is not
    source: Any
    problems: list[Problem]


@dataclass(frozen=True)
class ImportPreview:
    """The first records of a file as they would be imported (for an import dialog)."""

    file_kind: str
    encoding: str
    format: str
    detected_format: str
    records: list[NormalisedRecord]
    fields: list[str]


def normalise_record(raw: RawRecord, fmt: RecordFormat, file_name: str) -> NormalisedRecord:
    """One raw record → chat messages, or the problems that keep it out."""
    if raw.issue is not None:
        return NormalisedRecord(raw.location, [], None, [Problem.at(raw.issue, file_name, raw.location)])
    if not isinstance(raw.value, dict):
        issue = Issue(ProblemKind.NOT_AN_OBJECT, None,
                      f"The record is {type(raw.value).__name__}, not an object with fields.",
                      fmt.advice())
        return NormalisedRecord(raw.location, [], raw.value, [Problem.at(issue, file_name, raw.location)])
    turns, issues = fmt.normalise(raw.value)
    if not issues:
        list_field = next((k for k in ("messages", "conversations", "conversation") if k in raw.value), "messages")
        issues = check_turns(turns, assistant_only=fmt.assistant_only, list_field=list_field)
    problems = [Problem.at(issue, file_name, raw.location) for issue in issues]
    messages = [] if problems else [{"role": t.role, "content": t.content} for t in turns]
    return NormalisedRecord(raw.location, messages, raw.value, problems)


def _no_records(file_name: str) -> DataImportError:
    return DataImportError(f"{file_name} holds no records.",
                           advice="Choose a file with at least one record.")


def _choose_format(records: Iterator[RawRecord], format: Optional[str], file_name: str) -> tuple[RecordFormat, Iterator[RawRecord]]:
    """The format (given, or detected from the first records) and all records again."""
    head = list(itertools.islice(records, DETECT_SAMPLE))
    if not head:
        raise _no_records(file_name)
    if format:
        fmt = get_format(format)
    else:
        fmt = detect_format((r.value for r in head if r.issue is None), file_name)
    return fmt, itertools.chain(head, records)


def import_file(
    path: str | Path,
    *,
    format: Optional[str] = None,
    on_invalid: OnInvalid = "abort",
    dest_dir: str | Path,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> ImportOutcome:
    """Import `path` into dest_dir as <content_hash>.parquet.

    on_invalid="abort": any problem raises DataImportError (first problems listed, total
    counted) and nothing is written. "skip": valid records are imported, the problems are
    returned. A cancel raises core.progress.Cancelled; any failure leaves nothing behind.
    """
    if on_invalid not in ("abort", "skip"):
        raise ValueError(f"on_invalid must be 'abort' or 'skip', not {on_invalid!r}")
    path = Path(path)
    if not path.is_file():
        raise DataImportError(f"{path} does not exist or is not a file.",
                              advice="Choose an existing dataset file.")
    log = ProblemLog()
    bad_records = 0
    writer = DatasetWriter(dest_dir)
    try:
        with TextSource(path) as source:
            reader = open_reader(source)
            report(progress, 0.0, f"Reading {source.name}")
            fmt, records = _choose_format(reader.records(), format, source.name)
            seen, reported = 0, 0.0
            for raw in records:
                seen += 1
                if cancel is not None:
                    cancel.raise_if_cancelled()  # an Event check: cheap enough per record
                fraction = source.fraction()
                if seen % _PROGRESS_EVERY == 0 or fraction - reported >= 0.01:
                    reported = fraction
                    report(progress, 0.99 * fraction, f"Read {seen:,} records")
                record = normalise_record(raw, fmt, source.name)
                if record.problems:
                    bad_records += 1
                    log.add(record.problems)
                    continue
                if bad_records and on_invalid == "abort":
                    continue  # keep counting problems, the file will not be written
                writer.add(dumps(record.messages), dumps(record.source), record.location.number)
            if cancel is not None:
                cancel.raise_if_cancelled()
            if bad_records and on_invalid == "abort":
                raise log.abort_error(source.name, bad_records)
            if writer.row_count == 0:
                raise DataImportError(
                    f"{source.name}: none of its {seen:,} records is valid; nothing was imported.",
                    details="\n".join(f"  - {p}" for p in log.kept[:10]),
                    advice=f"Check that the file is in {fmt.label} format: {fmt.example}",
                )
            source_hash = source.source_hash()
            parquet_path, content_hash = writer.commit()
            report(progress, 1.0, f"Imported {writer.row_count:,} records")
            return ImportOutcome(
                parquet_path=parquet_path,
                content_hash=content_hash,
                row_count=writer.row_count,
                format=fmt.name,
                source_name=source.name,
                source_size=source.size,
                source_hash=source_hash,
                problems=list(log.kept),
                skipped_count=bad_records,
                problem_count=log.total,
                file_kind=reader.kind,
                encoding=source.encoding,
            )
    except BaseException:
        writer.discard()
        raise


def preview_file(path: str | Path, *, format: Optional[str] = None, limit: int = 20) -> ImportPreview:
    """Detect the file type, encoding and format; normalise the first `limit` records."""
    path = Path(path)
    if not path.is_file():
        raise DataImportError(f"{path} does not exist or is not a file.",
                              advice="Choose an existing dataset file.")
    with TextSource(path) as source:
        reader = open_reader(source)
        records = reader.records()
        head = list(itertools.islice(records, max(limit, DETECT_SAMPLE)))
        if not head:
            raise _no_records(source.name)
        try:
            detected = detect_format((r.value for r in head if r.issue is None), source.name).name
        except DataImportError:
            if not format:
                raise
            detected = ""  # the user's choice stands even when detection finds nothing
        fmt = get_format(format or detected)
        fields: list[str] = []
        for raw in head:
            if isinstance(raw.value, dict):
                fields.extend(k for k in raw.value if k not in fields)
        return ImportPreview(
            file_kind=reader.kind,
            encoding=source.encoding,
            format=fmt.name,
            detected_format=detected,
            records=[normalise_record(raw, fmt, source.name) for raw in head[:limit]],
            fields=fields,
        )

