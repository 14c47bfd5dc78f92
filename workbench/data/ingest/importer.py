"""Import a dataset file or folder: read → detect the format (or apply a column mapping) →
normalise → validate → write Parquet.

A pure function of its inputs (no Qt, no store): services call it in a worker thread with a
progress callback and a CancelToken, then record the outcome as a DatasetVersion. Whatever
happens (cancel, a bad file, the source changing or vanishing mid-import, an exception), the
destination folder ends up with a complete `<content_hash>.parquet` or with nothing new.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Optional

import pyarrow as pa

from workbench.core.errors import DataImportError
from workbench.core.progress import CancelToken, Cancelled, ProgressCallback, report
from workbench.data.formats.detect import DETECT_SAMPLE, RecordFormat, detect_format, get_format
from workbench.data.ingest.input_base import DatasetInput, ReadOptions
from workbench.data.ingest.inputs import open_input
from workbench.data.ingest.jsonl_fast import FastRows
from workbench.data.formats.mapping import ColumnMapping, has_key
from workbench.data.formats.normalise import normalise_record, record_fields, source_json
from workbench.data.storage.parquet_io import DatasetWriter, dumps
from workbench.data.formats.problems import Issue, Problem, ProblemKind, ProblemLog
from workbench.data.ingest.readers import RawRecord
from workbench.data.formats.report import ProblemReport
from workbench.data.formats.unused import PREFERENCE_KEYS, FieldTally, UnusedField, has_tool_keys, lines_with_keys

OnInvalid = Literal["abort", "skip"]
# Failures of reading that are the file's fault, not ours: reported as DataImportError.
_READ_ERRORS = (OSError, EOFError, zlib.error, pa.ArrowException, UnicodeError)


@dataclass(frozen=True)
class ImportOutcome:
    parquet_path: Path
    content_hash: str  # sha256 of the normalised rows; the file is <content_hash>.parquet
    row_count: int
    format: str  # a format name, or "mapped" (a column mapping)
    source_name: str
    source_size: int
    source_hash: str  # sha256 of the raw file as it is on disk (of all files, for a folder)
    problems: list[Problem] = field(default_factory=list)  # the first ones (skip mode)
    skipped_count: int = 0  # records left out because of problems
    problem_count: int = 0  # all problems, also those beyond `problems`
    file_kind: str = ""  # jsonl, json, csv, tsv, text, parquet, arrow, hf_dataset, folder
    encoding: str = ""
    mapping: Optional[dict[str, Any]] = None  # ColumnMapping.to_dict() when one was used
    # What shaped the import besides format / on_invalid (text_mode, encoding, split, mapping),
    # JSON-ready for the dataset version's options.
    options: dict[str, Any] = field(default_factory=dict)
    problems_path: Optional[Path] = None  # the full problem report, when one was asked for
    # Top-level fields with values that the format or mapping does not read (not kept).
    unused_fields: tuple[UnusedField, ...] = ()
    kind: str = "sft"  # "preference" for a file of pairs (DatasetVersion.kind)


def no_records_error(name: str) -> DataImportError:
    return DataImportError(f"{name} holds no records.", advice="Choose a file with at least one record.")


def _read_failed(inp: Optional[DatasetInput], name: str, exc: BaseException) -> BaseException:
    """The error to raise for a failure while reading: 'the file changed' when it did (that
    explains any other error), a DataImportError for bad input, else the exception itself."""
    if inp is not None:
        try:
            inp.check_unchanged()
        except DataImportError as changed:
            return changed
    if isinstance(exc, _READ_ERRORS):
        return DataImportError(f"{name} cannot be read: {exc}", details=f"{type(exc).__name__}: {exc}",
                               advice="Check that the file is complete and not in use, then try again.")
    return exc


def read_head(path: Path, read: ReadOptions, count: int) -> tuple[list[RawRecord], DatasetInput]:
    """The first `count` records (the input is closed again; its attributes stay usable)."""
    inp = open_input(path, read)
    try:
        return list(itertools.islice(inp.records(), count)), inp
    except Exception as exc:
        error = _read_failed(inp, path.name, exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        inp.close()


def detected_or_none(head: list[RawRecord], name: str) -> Optional[RecordFormat]:
    try:
        return detect_format((r.value for r in head if r.issue is None), name)
    except DataImportError:
        return None


def _choose_format(head: list[RawRecord], name: str, format: Optional[str],
                   mapping: Optional[ColumnMapping]) -> RecordFormat:
    if not head:
        raise no_records_error(name)
    if mapping is not None:
        if format and format != "mapped":
            raise DataImportError("Choose a dataset format or a column mapping, not both.",
                                  advice="Leave the format empty when you map columns.")
        fmt = mapping.as_format()
        objects = [r.value for r in head if isinstance(r.value, dict)]
        absent = [c for c in mapping.columns() if not any(has_key(o, c) for o in objects)]
        if absent:
            fields, _ = record_fields(head)
            raise DataImportError(
                f"{name}: the column mapping names {', '.join(repr(c) for c in absent)}, which the "
                f"first records do not have (fields seen: {', '.join(fields[:20]) or 'none'}).",
                advice="Map the columns the file has.",
            )
        return fmt
    if format:
        return get_format(format)
    return detect_format((r.value for r in head if r.issue is None), name)


class _Run:
    """One import's running state: normalises blocks and feeds the writer."""

    def __init__(self, fmt: RecordFormat, name: str, abort: bool, writer: DatasetWriter, log: ProblemLog,
                 tally: FieldTally) -> None:
        self.fmt, self.name, self.abort, self.writer, self.log = fmt, name, abort, writer, log
        self.tally = tally
        self.seen = 0
        self.bad = 0

    def _reject(self, problems: list[Problem]) -> None:
        self.bad += 1
        self.log.add(problems)

    def python_block(self, records: Iterable[RawRecord]) -> None:
        messages: list[str] = []
        sources: list[str] = []
        rows: list[int] = []
        rejected: list[str] = []
        for raw in records:
            self.seen += 1
            self.tally.add(raw.value)
            record = normalise_record(raw, self.fmt, self.name)
            if record.problems:
                self._reject(record.problems)
                continue
            if self.bad and self.abort:
                continue  # keep counting problems; the file will not be written
            text, source = dumps(record.messages), source_json(raw)
            other = dumps(record.rejected) if record.rejected is not None else ""
            try:
                text.encode("utf-8")
                source.encode("utf-8")
                other.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate from a "\ud800" JSON escape
                self._reject([Problem.at(Issue(
                    ProblemKind.INVALID_TEXT, None,
                    f"The text holds an invalid character ({exc.object[exc.start:exc.end]!r}, half of a "
                    "UTF-16 surrogate pair).", "Remove the character or write it as a whole pair.",
                ), self.name, raw.location, raw.raw)])
                continue
            messages.append(text)
            sources.append(source)
            rows.append(raw.location.number)
            rejected.append(other)
        if messages and not (self.bad and self.abort):
            self.writer.add_rows(messages, sources, rows, rejected if self.fmt.preference else None)

    def fast_block(self, block: FastRows) -> None:
        if block.fallback is not None and (lines_with_keys(block.source, PREFERENCE_KEYS)
                                           or has_tool_keys(block.source)):
            # Maybe preference pairs (the Python path refuses them) or tool calls (it keeps them).
            self.python_block(block.fallback())
            return
        rejected = [normalise_record(raw, self.fmt, self.name) for raw in block.rejected]
        if any(not record.problems for record in rejected) and block.fallback is not None:
            self.python_block(block.fallback())  # the fast checks were stricter: redo in Python
            return
        self.seen += block.line_count
        self.tally.add_lines(block.source)
        for raw in block.rejected:
            self.tally.add(raw.value)
        for record in rejected:
            self._reject(record.problems)
        if not (self.bad and self.abort):
            self.writer.add_arrays(block.messages, block.source, block.source_row)


def import_file(
    path: str | Path,
    *,
    format: Optional[str] = None,
    on_invalid: OnInvalid = "abort",
    dest_dir: str | Path,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    mapping: Optional[ColumnMapping] = None,
    text_mode: Optional[str] = None,
    encoding: Optional[str] = None,
    split: Optional[str] = None,
    problems_path: Optional[str | Path] = None,
) -> ImportOutcome:
    """Import a dataset file or folder into dest_dir as <content_hash>.parquet.

    on_invalid="abort": any problem raises DataImportError (first problems listed, total
    counted) and nothing is written. "skip": valid records are imported, the problems are
    returned. mapping: read the records through a ColumnMapping instead of a format.
    text_mode: 'file' | 'paragraph' | 'line' for plain text (.txt/.md, folders of them).
    encoding: the text encoding of a file that is not UTF-8 (or UTF-16 with a BOM), e.g. cp1252.
    split: the split of a Hugging Face DatasetDict folder (default 'train').
    problems_path: write every problem (with the row's original text) to this .jsonl/.csv
    report, also when the import aborts because of problems.
    A cancel raises core.progress.Cancelled; any failure leaves nothing behind in dest_dir.
    """
    if on_invalid not in ("abort", "skip"):
        raise ValueError(f"on_invalid must be 'abort' or 'skip', not {on_invalid!r}")
    path = Path(path)
    read = ReadOptions(text_mode=text_mode, encoding=encoding, split=split)
    head, probe = read_head(path, read, DETECT_SAMPLE)
    fmt = _choose_format(head, probe.name, format, mapping)
    tally = FieldTally(fmt, detected_or_none(head, probe.name) if mapping is not None else None, probe.added_keys)
    tally.seed(r.value for r in head)
    del head
    problem_report = ProblemReport(problems_path) if problems_path is not None else None
    try:
        writer = DatasetWriter(dest_dir, preference=fmt.preference)
    except OSError as exc:
        if problem_report is not None:
            problem_report.discard()
        raise DataImportError(f"The dataset cannot be written to {dest_dir}.", details=f"{type(exc).__name__}: {exc}",
                              advice="Check that the project folder exists and is writable.") from exc
    try:
        outcome = _import(path, read, fmt, on_invalid, writer, problem_report, tally, progress, cancel)
    except BaseException:
        writer.discard()
        if problem_report is not None:
            problem_report.discard()
        raise
    return outcome


def _import(path: Path, read: ReadOptions, fmt: RecordFormat, on_invalid: str, writer: DatasetWriter,
            problem_report: Optional[ProblemReport], tally: FieldTally, progress: Optional[ProgressCallback],
            cancel: Optional[CancelToken]) -> ImportOutcome:
    log = ProblemLog(sink=problem_report.add if problem_report is not None else None)
    inp = open_input(path, read)
    try:
        run = _Run(fmt, inp.name, on_invalid == "abort", writer, log, tally)
        report(progress, 0.0, f"Reading {inp.name}")
        reported = 0.0
        for block in inp.blocks(fmt):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if isinstance(block, FastRows):
                run.fast_block(block)
            else:
                run.python_block(block)
            fraction = inp.fraction()
            if fraction > reported or fraction >= 1.0:
                reported = fraction
                report(progress, 0.99 * fraction, f"Read {run.seen:,} records")
        if cancel is not None:
            cancel.raise_if_cancelled()
        inp.check_unchanged()
        if run.seen == 0:
            raise no_records_error(inp.name)
        if run.bad and on_invalid == "abort":
            error = log.abort_error(inp.name, run.bad)
            _keep_report(problem_report, error)
            raise error
        if writer.row_count == 0:
            error = DataImportError(
                f"{inp.name}: none of its {run.seen:,} records is valid; nothing was imported.",
                details="\n".join(f"  - {p}" for p in log.kept[:10]),
                advice=f"Check that the file is in {fmt.label} format: {fmt.example}",
            )
            _keep_report(problem_report, error)
            raise error
        source_hash = inp.source_hash()
        inp.check_unchanged()  # hashing read the rest of the file: still the same file?
        parquet_path, content_hash = writer.commit()
    except Cancelled:
        raise
    except Exception as exc:
        error = _read_failed(inp, inp.name, exc)
        if error is exc:
            raise
        raise error from exc
    finally:
        inp.close()
    report_path = problem_report.commit() if problem_report is not None else None
    report(progress, 1.0, f"Imported {writer.row_count:,} records")
    mapping_dict = fmt.mapping.to_dict() if hasattr(fmt, "mapping") else None
    options = read.to_dict()
    for name in ("split", "text_mode"):  # the defaults that applied, so a re-import matches
        if getattr(inp, name) is not None:
            options[name] = getattr(inp, name)
    if mapping_dict is not None:
        options["mapping"] = mapping_dict
    return ImportOutcome(
        parquet_path=parquet_path,
        content_hash=content_hash,
        row_count=writer.row_count,
        format=fmt.name,
        source_name=inp.name,
        source_size=inp.size,
        source_hash=source_hash,
        problems=list(log.kept),
        skipped_count=run.bad,
        problem_count=log.total,
        file_kind=inp.kind,
        encoding=inp.encoding,
        mapping=mapping_dict,
        options=options,
        problems_path=report_path,
        unused_fields=tally.result(),
        kind="preference" if fmt.preference else "sft",
    )


def _keep_report(problem_report: Optional[ProblemReport], error: DataImportError) -> None:
    """An import refused because of its problems still leaves the report of them."""
    if problem_report is not None:
        path = problem_report.commit()
        error.details = f"All {problem_report.count:,} problems are listed in {path}.\n" + error.details
        error.advice += f" The rows and their problems are in {path}."
