"""What the dataset screens need beyond the import and dataset-operation services: an import
that reports invalid rows instead of only refusing them, problem reports, and text search over
a version (Qt-free; the UI runs these in worker threads with progress and cancel).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from workbench.core.errors import DataImportError
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.core.records import DatasetVersion
from workbench.store import ProjectStore

MAX_SEARCH_MATCHES = 100_000  # beyond: "100,000+ matches" (memory stays small)


# -- importing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportOptions:
    """The user's choices in the import dialog; None means "detect it"."""

    format: Optional[str] = None
    # workbench.data.ColumnMapping keyword arguments: {"user": "question", "assistant": "answer"},
    # {"messages": "dialog", "role_key": "speaker", ...} or {"text": "body"}.
    mapping: Optional[dict[str, Any]] = None
    text_mode: Optional[str] = None  # plain text: "file", "paragraph" or "line"
    encoding: Optional[str] = None
    split: Optional[str] = None  # a Hugging Face DatasetDict folder's split
    name: Optional[str] = None  # dataset name (default: the file's stem)

    def data_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the data layer's preview_file / import_file."""
        kwargs: dict[str, Any] = {}
        if self.mapping:
            kwargs["mapping"] = column_mapping(self.mapping)
        elif self.format:
            kwargs["format"] = self.format
        for key in ("text_mode", "encoding", "split"):
            if getattr(self, key):
                kwargs[key] = getattr(self, key)
        return kwargs


def column_mapping(kwargs: dict[str, Any]) -> Any:
    """The data layer's ColumnMapping from its keyword arguments."""
    from workbench.data import ColumnMapping

    return ColumnMapping.from_dict(kwargs)


def preview(path: str, options: ImportOptions = ImportOptions(), limit: int = 20):
    """-> workbench.data.ImportPreview: file kind, encoding, format, the first records normalised."""
    from workbench.data import preview_file

    return preview_file(path, limit=limit, **options.data_kwargs())


def format_choices() -> list[tuple[str, str]]:
    """(name, label) of every record format the importer knows, detection order."""
    from workbench.data import FORMATS

    return [(name, fmt.label or name) for name, fmt in FORMATS.items()]


@dataclass(frozen=True)
class ImportAttempt:
    """An import's outcome: the version (new or reused), or the invalid rows that stopped it."""

    version: Optional[DatasetVersion] = None
    reused: bool = False  # an identical import existed: that version was returned
    problems: list[Any] = field(default_factory=list)  # workbench.data.Problem, the first ones
    bad_records: int = 0  # records with problems
    problem_count: int = 0  # all problems (also those beyond `problems`)
    valid_rows: int = 0  # rows an import of the valid rows only would hold
    refusal: Optional[DataImportError] = None  # the abort-mode error, for its message
    # Fields with values the import does not keep (workbench.data.UnusedField), over all records.
    unused_fields: tuple[Any, ...] = ()


def import_checked(store: ProjectStore, path: str, options: ImportOptions = ImportOptions(),
                   on_invalid: str = "abort", progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> ImportAttempt:
    """Import `path`; when invalid rows refuse it, list them (a second, skipping pass into a
    scratch folder) so the user can choose between aborting and importing the valid rows."""
    before = {v.id for v in store.list_versions()}
    try:
        version = _import(store, path, options, on_invalid, progress, cancel)
    except DataImportError as exc:
        if on_invalid != "abort":
            raise
        outcome = scan_problems(path, options, progress=progress, cancel=cancel)
        if outcome is None or not outcome.skipped_count:
            raise  # not about invalid rows (or no row is valid): the error stands as it is
        return ImportAttempt(problems=list(outcome.problems), bad_records=outcome.skipped_count,
                             problem_count=outcome.problem_count, valid_rows=outcome.row_count, refusal=exc,
                             unused_fields=outcome.unused_fields)
    from workbench.services.datasets import unused_fields

    return ImportAttempt(version=version, reused=version.id in before, unused_fields=unused_fields(version))


def _import(store: ProjectStore, path: str, options: ImportOptions, on_invalid: str,
            progress: Optional[ProgressCallback], cancel: Optional[CancelToken]) -> DatasetVersion:
    from workbench.services import datasets

    return datasets.import_dataset(store, path, name=options.name or None, on_invalid=on_invalid,
                                   progress=progress, cancel=cancel, **options.data_kwargs())


def scan_problems(path: str, options: ImportOptions = ImportOptions(), *,
                  progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None):
    """The import's own pass in skip mode, written to a scratch folder that is then removed:
    -> ImportOutcome (problems, skipped_count, row_count), or None when no row is valid."""
    from workbench.data import import_file

    scratch = tempfile.mkdtemp(prefix="workbench-check-")
    try:
        report(progress, 0.0, "Listing the invalid rows")
        return import_file(path, on_invalid="skip", dest_dir=scratch, cancel=cancel,
                           progress=lambda f, m: report(progress, f, f"Checking rows: {m}"), **options.data_kwargs())
    except DataImportError:
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def save_problem_report(problems: Iterable[Any], path: str) -> str:
    """Write the problems to `path`: JSONL, or CSV for a .csv path (the data layer's report)."""
    from workbench.data import write_problems

    return str(write_problems(list(problems), path))


# -- search --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchResult:
    query: str
    matches: list[int]  # 0-based row indices, ascending
    rows_searched: int
    truncated: bool  # stopped at max_matches


def _content_matches(messages_json: str, needle: str, case_sensitive: bool) -> bool:
    for m in json.loads(messages_json):
        content = str(m.get("content", ""))
        if needle in (content if case_sensitive else content.lower()):
            return True
    return False


def search_rows(store: ProjectStore, version_id: str, text: str, *, case_sensitive: bool = False,
                max_matches: int = MAX_SEARCH_MATCHES, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> SearchResult:
    """Rows whose message texts contain `text`, streaming the version a row group at a time.

    Arrow's substring kernel over the stored JSON picks candidate rows without building Python
    objects; only candidates are parsed, so a role name or a JSON key never counts as a match.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from workbench.data import count_rows

    if not text:
        return SearchResult(text, [], 0, False)
    version = store.get_version(version_id)
    path = store.abspath(version.blob_path)
    total = count_rows(path)  # the data layer's readable error for a missing blob
    pf = pq.ParquetFile(path)
    # The stored JSON escapes quotes, backslashes and control characters; search it escaped.
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    needle = text if case_sensitive else text.lower()
    matches: list[int] = []
    start = 0
    truncated = False
    # A preference pair's rejected reply is searched too.
    names = [n for n in ("messages", "rejected") if n in pf.schema_arrow.names]
    for group in range(pf.metadata.num_row_groups):
        if cancel is not None:
            cancel.raise_if_cancelled()
        table = pf.read_row_group(group, columns=names)
        column = table.column("messages")
        texts = [table.column(n) for n in names]
        hits = pc.match_substring(texts[0], escaped, ignore_case=not case_sensitive)
        for other in texts[1:]:
            hits = pc.or_(hits, pc.match_substring(other, escaped, ignore_case=not case_sensitive))
        candidates = pc.indices_nonzero(hits)
        rows = list(zip(*(t.take(candidates).to_pylist() for t in texts)))
        for i, row_texts in zip(candidates.to_pylist(), rows):
            if any(_content_matches(text, needle, case_sensitive) for text in row_texts):
                matches.append(start + i)
                if len(matches) >= max_matches:
                    truncated = True
                    break
        start += len(column)
        report(progress, start / max(1, total), f"Searched {start:,} of {total:,} rows: {len(matches):,} found")
        if truncated:
            break
    return SearchResult(text, matches, start, truncated)


# -- preference pairs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PairParts:
    """A stored preference row taken apart for a side-by-side view."""

    prompt: list[dict[str, Any]]
    chosen: list[dict[str, Any]]
    rejected: list[dict[str, Any]]


def pair_parts(row: dict[str, Any]) -> Optional[PairParts]:
    """The prompt, chosen and rejected turns of a row as read_rows gives it (None: not a pair)."""
    if row.get("rejected") is None:
        return None
    from workbench.data.formats.preference import split_pair

    prompt, chosen = split_pair(row.get("messages") or [])
    return PairParts(prompt, chosen, list(row["rejected"]))
