"""The normalised dataset file: write it in row groups, page through it, stream it.

Columns: `messages` (JSON list of {role, content}), `source` (the original record as JSON,
for lineage), `source_row` (int64: the record's line in JSONL, row in CSV/TSV, index in JSON).

The content hash is a sha256 over the normalised rows themselves (not the Parquet bytes), so
it is the same for identical input whatever pyarrow version wrote the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.core.errors import DataImportError

SCHEMA = pa.schema([
    pa.field("messages", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_row", pa.int64(), nullable=False),
])
ROW_GROUP_ROWS = 1024
# Versioned so that a future change to the normalised form changes every hash.
_HASH_PREFIX = b"workbench.dataset.v1\n"


def dumps(value: Any) -> str:
    """Compact JSON for the stored columns. Key order is kept as built / as in the source
    (identical input gives identical text), so a record reads as its author wrote it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class DatasetWriter:
    """Writes rows to a temp file in dest_dir; `commit()` renames it to <content_hash>.parquet,
    `discard()` removes it. Holds at most one row group of rows in memory."""

    def __init__(self, dest_dir: str | Path, row_group_rows: int = ROW_GROUP_ROWS) -> None:
        self.dest_dir = Path(dest_dir)
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        self.temp_path = self.dest_dir / f".import-{uuid.uuid4().hex}.parquet.tmp"
        self._row_group_rows = row_group_rows
        self._writer: Optional[pq.ParquetWriter] = None
        self._hash = hashlib.sha256(_HASH_PREFIX)
        self._batch: dict[str, list] = {"messages": [], "source": [], "source_row": []}
        self.row_count = 0

    def add(self, messages_json: str, source_json: str, source_row: int) -> None:
        for text in (messages_json, source_json):
            data = text.encode("utf-8")
            self._hash.update(len(data).to_bytes(8, "big"))
            self._hash.update(data)
        self._hash.update(source_row.to_bytes(8, "big", signed=True))
        self._batch["messages"].append(messages_json)
        self._batch["source"].append(source_json)
        self._batch["source_row"].append(source_row)
        self.row_count += 1
        if len(self._batch["messages"]) >= self._row_group_rows:
            self._flush()

    def _flush(self) -> None:
        if not self._batch["messages"]:
            return
        table = pa.Table.from_pydict(self._batch, schema=SCHEMA)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.temp_path, SCHEMA, compression="zstd")
        self._writer.write_table(table, row_group_size=self._row_group_rows)
        self._batch = {"messages": [], "source": [], "source_row": []}

    def commit(self) -> tuple[Path, str]:
        """Finish the file and move it to its content-addressed name: (path, content_hash)."""
        self._flush()
        if self._writer is None:  # no rows: still a valid, empty file
            self._writer = pq.ParquetWriter(self.temp_path, SCHEMA, compression="zstd")
        self._writer.close()
        self._writer = None
        content_hash = self._hash.hexdigest()
        final = self.dest_dir / f"{content_hash}.parquet"
        os.replace(self.temp_path, final)  # atomic; an identical earlier import is identical
        return final, content_hash

    def discard(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # the file is being thrown away anyway
                pass
            self._writer = None
        self.temp_path.unlink(missing_ok=True)


def _open(parquet_path: str | Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(parquet_path)
    except (OSError, pa.ArrowException) as exc:
        raise DataImportError(
            f"The dataset file {Path(parquet_path).name} cannot be read.",
            details=str(exc),
            advice="The project's dataset blob is missing or damaged; import the dataset again.",
        ) from exc


def count_rows(parquet_path: str | Path) -> int:
    """Row count from the Parquet footer (reads no data)."""
    return _open(parquet_path).metadata.num_rows


def read_rows(parquet_path: str | Path, offset: int, limit: int) -> list[dict[str, Any]]:
    """Rows [offset, offset + limit) as {index, messages, source, source_row}; reads only the
    row groups that hold them."""
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must be >= 0")
    pf = _open(parquet_path)
    meta = pf.metadata
    wanted: list[int] = []
    first_row_of_first_group = 0
    start = 0
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group).num_rows
        if start + rows > offset and start < offset + limit:
            if not wanted:
                first_row_of_first_group = start
            wanted.append(group)
        start += rows
    if not wanted or limit == 0:
        return []
    table = pf.read_row_groups(wanted)
    table = table.slice(offset - first_row_of_first_group, limit)
    columns = table.to_pydict()
    return [
        {
            "index": offset + i,
            "messages": json.loads(columns["messages"][i]),
            "source": json.loads(columns["source"][i]),
            "source_row": columns["source_row"][i],
        }
        for i in range(table.num_rows)
    ]


def iter_messages(parquet_path: str | Path) -> Iterator[list[dict[str, str]]]:
    """Every row's messages in order, one row group in memory at a time (training, stats)."""
    pf = _open(parquet_path)
    for group in range(pf.metadata.num_row_groups):
        for text in pf.read_row_group(group, columns=["messages"]).column("messages").to_pylist():
            yield json.loads(text)
