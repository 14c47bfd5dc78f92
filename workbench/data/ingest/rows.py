"""Rows already in the stored shape (made by the app, e.g. from chat feedback) → a dataset blob.

Each row is {"messages": [...], "rejected": [...] (preference only), "source": any JSON}. Rows
are checked by the rules a file import applies (a bad row refuses the whole write, naming the
row and the field); the blob is written under a temporary name and renamed to its content hash,
so a failure leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

from workbench.core.errors import DataImportError
from workbench.data.formats.preference import message_turns, stored_pair_issues
from workbench.data.formats.problems import Issue, Location, Problem, ProblemKind, ProblemLog
from workbench.data.formats.validation import check_turns
from workbench.data.storage.parquet_io import DatasetWriter, dumps
from workbench.data.storage.rowio import WrittenBlob

KINDS = ("sft", "preference")


def row_issues(row: Any, kind: str) -> list[Issue]:
    """Problems with one row of `kind` (empty when it can be stored)."""
    if not isinstance(row, dict):
        return [Issue(ProblemKind.NOT_AN_OBJECT, None, "The row is not an object.",
                      'Give each row as {"messages": [...], "source": ...}.')]
    if kind == "preference":
        if "rejected" not in row:
            return [Issue(ProblemKind.MISSING_FIELD, "rejected", "The pair has no rejected reply.",
                          "Give the rejected reply's assistant turn(s) under 'rejected'.")]
        return stored_pair_issues(row.get("messages"), row.get("rejected"))
    if "rejected" in row:
        return [Issue(ProblemKind.PREFERENCE_PAIR, "rejected", "A conversation row holds a rejected reply.",
                      "Make a preference version for pairs, or leave 'rejected' out.")]
    turns, issue = message_turns(row.get("messages"), "messages")
    return [issue] if issue else check_turns(turns)


def _encoded(text: str) -> None:
    text.encode("utf-8")  # a lone surrogate cannot be stored: the caller reports it


def write_rows(rows: Sequence[Any] | Iterable[Any], kind: str, dest_dir: str | Path,
               name: str = "the rows") -> WrittenBlob:
    """Check every row, then write them as <content_hash>.parquet in dest_dir (all or nothing)."""
    if kind not in KINDS:
        raise DataImportError(f"Unknown dataset kind {kind!r}.", advice=f"Use one of: {', '.join(KINDS)}.")
    rows = list(rows)
    if not rows:
        raise DataImportError(f"{name}: there are no rows.", advice="Select at least one row.")
    log = ProblemLog()
    bad = 0
    encoded: list[tuple[str, str, str | None]] = []
    for i, row in enumerate(rows):
        issues = row_issues(row, kind)
        if not issues:
            try:
                texts = (dumps(row["messages"]), dumps(row.get("source")),
                         dumps(row["rejected"]) if kind == "preference" else None)
                for text in texts:
                    if text is not None:
                        _encoded(text)
                encoded.append(texts)
            except (TypeError, ValueError, UnicodeEncodeError) as exc:
                issues = [Issue(ProblemKind.INVALID_TEXT, None, f"The row cannot be stored as JSON text ({exc}).",
                                "Remove the characters or values that are not text.")]
        if issues:
            bad += 1
            log.add(Problem.at(issue, name, Location(index=i, row=i + 1, kind="rows")) for issue in issues)
    if bad:
        raise log.abort_error(name, bad)
    writer = DatasetWriter(dest_dir, preference=kind == "preference")
    try:
        for i, (messages, source, rejected) in enumerate(encoded):
            writer.add(messages, source, i, rejected)
        path, content_hash = writer.commit()
    except BaseException:
        writer.discard()
        raise
    return WrittenBlob(path, content_hash, len(encoded))
