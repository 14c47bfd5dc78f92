"""Stream a dataset version's rows in batches and write derived versions.

Rows keep their stored JSON text (`messages`, `source`) unless an operation changes them, so a
derived version holding the same rows hashes the same as its parent. A preference blob's
`rejected` column travels with its row (StoredRow.rejected_json), so every derived version of a
preference version keeps its pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import pyarrow.parquet as pq

from workbench.core.errors import WorkbenchError
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.data.storage.parquet_io import REJECTED, DatasetWriter, count_rows, dumps, is_preference_blob

BATCH_ROWS = 1024


class DataOpError(WorkbenchError):
    """A cleaning, split, stats, template or export request cannot be carried out."""


@dataclass(frozen=True)
class StoredRow:
    index: int  # 0-based position in the version (the `index` read_rows reports)
    messages_json: str
    source_json: str
    source_row: int
    rejected_json: Optional[str] = None  # preference pairs only: the rejected reply's turns

    @property
    def messages(self) -> list[dict[str, str]]:
        return json.loads(self.messages_json)

    @property
    def source(self) -> Any:
        return json.loads(self.source_json)

    @property
    def rejected(self) -> Optional[list[dict[str, Any]]]:
        return None if self.rejected_json is None else json.loads(self.rejected_json)


def _open(path: str | Path) -> pq.ParquetFile:
    count_rows(path)  # raises the data layer's readable error for a missing or damaged blob
    return pq.ParquetFile(path)


_ALL = ("messages", "source", "source_row", REJECTED)


def iter_rows(path: str | Path, *, columns: tuple[str, ...] = _ALL,
              cancel: Optional[CancelToken] = None, progress: Optional[ProgressCallback] = None,
              span: tuple[float, float] = (0.0, 1.0), label: str = "Reading") -> Iterator[StoredRow]:
    """Every row in order, one row group in memory at a time. Columns not asked for are empty
    (`rejected` is None where the file has no such column).

    Progress is reported once per row group, mapped into `span` of the caller's progress bar.
    """
    pf = _open(path)
    total = pf.metadata.num_rows
    columns = tuple(c for c in columns if c in pf.schema_arrow.names)
    index = 0
    lo, hi = span
    for group in range(pf.metadata.num_row_groups):
        if cancel is not None:
            cancel.raise_if_cancelled()
        data = pf.read_row_group(group, columns=list(columns)).to_pydict()
        n = len(next(iter(data.values()))) if data else 0
        msgs = data.get("messages") or [""] * n
        srcs = data.get("source") or [""] * n
        nums = data.get("source_row") or [0] * n
        rejected = data.get(REJECTED) or [None] * n
        for i in range(n):
            yield StoredRow(index, msgs[i], srcs[i], nums[i], rejected[i])
            index += 1
        report(progress, lo + (hi - lo) * index / max(1, total), f"{label}: {index:,}/{total:,} rows")


def iter_message_batches(path: str | Path, batch_rows: int = BATCH_ROWS, cancel: Optional[CancelToken] = None,
                         *, with_rejected: bool = False) -> Iterator[list[list[dict[str, str]]]]:
    """Parsed messages in batches of rows (vectorised scans: dedup signatures, token counts).

    `with_rejected`: a preference pair's rejected turns follow its messages, their roles marked
    "rejected:<role>", so a comparison of rows sees both sides of each pair (dedup)."""
    columns = ("messages", REJECTED) if with_rejected else ("messages",)
    batch: list[list[dict[str, str]]] = []
    for row in iter_rows(path, columns=columns, cancel=cancel):
        messages = json.loads(row.messages_json)
        if row.rejected_json is not None:
            messages += [{**m, "role": f"rejected:{m.get('role', '')}"} for m in json.loads(row.rejected_json)]
        batch.append(messages)
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class WrittenBlob:
    path: Path
    content_hash: str
    row_count: int


class VersionWriter:
    """A derived version's blob: rows added in order, committed to <content_hash>.parquet
    atomically (temp file then rename, via the data layer's DatasetWriter). `like`: the parent
    blob; a preference parent gives a preference blob (each row keeps its rejected reply)."""

    def __init__(self, dest_dir: str | Path, like: Optional[str | Path] = None) -> None:
        self.preference = like is not None and is_preference_blob(like)
        self._writer = DatasetWriter(dest_dir, preference=self.preference)

    def add(self, row: StoredRow, messages: Optional[list[dict[str, str]]] = None,
            source: Any = None, *, source_changed: bool = False, rejected: Optional[list[dict[str, Any]]] = None) -> None:
        """`rejected`: a pair's changed rejected reply (None: the row's own)."""
        messages_json = row.messages_json if messages is None else dumps(messages)
        source_json = dumps(source) if source_changed else row.source_json
        rejected_json = row.rejected_json if rejected is None else dumps(rejected)
        self._writer.add(messages_json, source_json, row.source_row, rejected_json if self.preference else None)

    def commit(self) -> WrittenBlob:
        path, content_hash = self._writer.commit()
        return WrittenBlob(path, content_hash, self._writer.row_count)

    def discard(self) -> None:
        self._writer.discard()

    def __enter__(self) -> "VersionWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
