"""The normalised dataset file: write it in row groups, page through it, stream it.

Columns: `messages` (JSON list of {role, content}), `source` (the original record as JSON, for
lineage: a JSON Lines record's own line, otherwise the record re-serialised), `source_row`
(int64: the record's line in JSONL and text, row in CSV/TSV, index in JSON, Parquet, Arrow and
folders). A preference version (DatasetVersion.kind "preference") adds `rejected` (JSON list of
the rejected reply's assistant turns; `messages` then holds the prompt and the chosen reply).

The content hash is a sha256 over the normalised rows themselves (not the Parquet bytes), so it
is the same for identical input whatever pyarrow version wrote the file, and however the rows
were batched on the way in.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import queue
import threading
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.core.errors import DataImportError
from workbench.data.ingest.partials import clean_stale_partials, partial_path

SCHEMA = pa.schema([
    pa.field("messages", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_row", pa.int64(), nullable=False),
])
PREFERENCE_SCHEMA = SCHEMA.append(pa.field("rejected", pa.string(), nullable=False))
REJECTED = "rejected"
# A page of the preview table reads one row group: 10k short rows decode in a few ms, and a
# 1M-row file has a small footer (100 groups).
ROW_GROUP_ROWS = 10_000
# Rows added one by one move to Arrow this often: Python strings cost ~3x their text.
_LIST_ROWS = 1024
# Tables waiting for the writing thread (each at most one fast-path block, <= 2 MiB of text).
_QUEUED_TABLES = 2
COMPRESSION = "snappy"
# v2: per-column streams of (lengths, bytes) so whole Arrow arrays hash without a Python loop.
_HASH_PREFIX = b"workbench.dataset.v2\n"
_PREFERENCE_HASH_PREFIX = b"workbench.dataset.v2.preference\n"


def dumps(value: Any) -> str:
    """Compact JSON for the stored columns. Key order is kept as built / as in the source
    (identical input gives identical text), so a record reads as its author wrote it. Values
    JSON has no type for (bytes, dates from Parquet) are written as text."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class _RowHash:
    """sha256 over the rows: for each text column the value lengths and the value bytes as
    separate streams (an unambiguous encoding), and the source rows as int64."""

    def __init__(self, preference: bool = False) -> None:
        self.preference = preference
        self._parts = [hashlib.sha256() for _ in range(7 if preference else 5)]

    def update(self, messages: pa.Array, source: pa.Array, rows: pa.Array, rejected: Optional[pa.Array] = None) -> None:
        texts = [(messages, 0), (source, 2)] + ([(rejected, 5)] if self.preference else [])
        for array, at in texts:
            lengths, data = _text_buffers(array)
            self._parts[at].update(lengths.astype(">i8").tobytes())
            self._parts[at + 1].update(data)
        self._parts[4].update(rows.to_numpy().astype(">i8").tobytes())

    def hexdigest(self) -> str:
        final = hashlib.sha256(_PREFERENCE_HASH_PREFIX if self.preference else _HASH_PREFIX)
        for part in self._parts:
            final.update(part.digest())
        return final.hexdigest()


def _text_buffers(array: pa.Array) -> tuple[np.ndarray, memoryview]:
    """(value lengths, the values' bytes) of a string array, honouring its slice offset."""
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data = array.buffers()[2]
    view = memoryview(data)[offsets[0] : offsets[-1]] if data is not None else memoryview(b"")
    return np.diff(offsets), view


class _Groups:
    """The writing side: hashes tables in order and writes exactly-sized row groups."""

    def __init__(self, path: Path, row_group_rows: int, compression: str, schema: pa.Schema = SCHEMA) -> None:
        self.path = path
        self.rows_per_group = row_group_rows
        self.compression = compression
        self.schema = schema
        self.hash = _RowHash(preference=REJECTED in schema.names)
        self.writer: Optional[pq.ParquetWriter] = None
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def add(self, table: pa.Table) -> None:
        self.hash.update(*(table.column(i).combine_chunks() for i in range(table.num_columns)))
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= self.rows_per_group:
            self.write(final=False)

    def write(self, final: bool) -> None:
        table = pa.concat_tables(self.pending) if self.pending else self.schema.empty_table()
        full = table.num_rows if final else table.num_rows - table.num_rows % self.rows_per_group
        if self.writer is None:
            # Dictionary encoding and min/max statistics do nothing for long unique texts but
            # cost time: only the row numbers get them.
            self.writer = pq.ParquetWriter(self.path, self.schema, compression=self.compression,
                                           use_dictionary=["source_row"], write_statistics=["source_row"])
        if full:
            self.writer.write_table(table.slice(0, full), row_group_size=self.rows_per_group)
        rest = table.slice(full)
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows = rest.num_rows

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


_STOP = object()


class DatasetWriter:
    """Writes rows to a `.partial-*` file in dest_dir; `commit()` renames it to
    <content_hash>.parquet, `discard()` removes it (call one of them: they also end the
    writing thread). Every row group holds exactly `row_group_rows` rows (the last one fewer),
    however the rows arrive, so identical input gives an identical file.

    Hashing, encoding and compressing run in a background thread (pyarrow and hashlib release
    the GIL), overlapping the parsing of the next block; a bounded queue keeps memory at a few
    blocks.

    `preference=True` writes the `rejected` column too: every add then gives its rejected JSON."""

    def __init__(self, dest_dir: str | Path, row_group_rows: int = ROW_GROUP_ROWS, compression: str = COMPRESSION,
                 *, preference: bool = False) -> None:
        self.dest_dir = Path(dest_dir)
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        clean_stale_partials(self.dest_dir)  # what killed imports left behind
        self.temp_path = partial_path(self.dest_dir, ".parquet")
        self.preference = preference
        self.schema = PREFERENCE_SCHEMA if preference else SCHEMA
        self._groups = _Groups(self.temp_path, row_group_rows, compression, self.schema)
        self._lists: tuple[list[str], list[str], list[int], list[str]] = ([], [], [], [])
        self._arrow_rows = 0
        self._queue: "queue.Queue[Any]" = queue.Queue(maxsize=_QUEUED_TABLES)
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._abandon = False

    @property
    def row_count(self) -> int:
        """Rows added so far."""
        return self._arrow_rows + len(self._lists[0])

    def _check_rejected(self, given: bool) -> None:
        if given != self.preference:  # a programming error: the two kinds of blob never mix
            raise ValueError("rejected is required for a preference blob and refused for another")

    def add(self, messages_json: str, source_json: str, source_row: int, rejected_json: Optional[str] = None) -> None:
        """One row (rows move to Arrow every _LIST_ROWS rows)."""
        self._check_rejected(rejected_json is not None)
        self._lists[0].append(messages_json)
        self._lists[1].append(source_json)
        self._lists[2].append(source_row)
        if rejected_json is not None:
            self._lists[3].append(rejected_json)
        if len(self._lists[0]) >= _LIST_ROWS:
            self._take_lists()

    def add_rows(self, messages: Sequence[str], sources: Sequence[str], rows: Sequence[int],
                 rejected: Optional[Sequence[str]] = None) -> None:
        self._check_rejected(rejected is not None)
        self._lists[0].extend(messages)
        self._lists[1].extend(sources)
        self._lists[2].extend(rows)
        if rejected is not None:
            self._lists[3].extend(rejected)
        if len(self._lists[0]) >= _LIST_ROWS:
            self._take_lists()

    def add_arrays(self, messages: pa.Array, source: pa.Array, rows: pa.Array) -> None:
        """Rows already in Arrow (the JSONL fast path: conversations only)."""
        self._check_rejected(False)
        self._take_lists()  # keep the order of rows added before
        self._send(pa.Table.from_arrays([messages, source, rows], schema=SCHEMA))

    def _take_lists(self) -> None:
        if not self._lists[0]:
            return
        messages, sources, rows, rejected = self._lists
        self._lists = ([], [], [], [])
        arrays = [pa.array(messages, pa.string()), pa.array(sources, pa.string()), pa.array(rows, pa.int64())]
        if self.preference:
            arrays.append(pa.array(rejected, pa.string()))
        self._send(pa.Table.from_arrays(arrays, schema=self.schema))

    def _send(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._raise_if_failed()
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="dataset-writer", daemon=True)
            self._thread.start()
        self._arrow_rows += table.num_rows
        self._queue.put(table)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None or self._abandon:
                continue  # drain, so the producer never blocks on a full queue
            try:
                self._groups.add(item)
            except BaseException as exc:  # reported to the producer by _raise_if_failed
                self._error = exc

    def _finish_thread(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise DataImportError(
                f"The dataset file could not be written in {self.dest_dir}.",
                details=f"{type(self._error).__name__}: {self._error}",
                advice="Check that the disk has free space and the project folder is writable.",
            ) from self._error

    def commit(self) -> tuple[Path, str]:
        """Finish the file and move it to its content-addressed name: (path, content_hash)."""
        self._take_lists()
        self._finish_thread()
        self._raise_if_failed()
        try:
            self._groups.write(final=True)  # also creates a valid, empty file when there are no rows
            self._groups.close()
        except OSError as exc:
            self._error = exc
            self._raise_if_failed()
        content_hash = self._groups.hash.hexdigest()
        final = self.dest_dir / f"{content_hash}.parquet"
        os.replace(self.temp_path, final)  # atomic; an identical earlier import is identical
        return final, content_hash

    def discard(self) -> None:
        self._abandon = True
        self._finish_thread()
        try:
            self._groups.close()
        except Exception:  # the file is being thrown away anyway
            pass
        self._lists = ([], [], [], [])
        self.temp_path.unlink(missing_ok=True)


def _open(parquet_path: str | Path) -> pq.ParquetFile:
    try:
        stat = os.stat(parquet_path)
        metadata = _footer(str(parquet_path), stat.st_size, stat.st_mtime_ns)
        return pq.ParquetFile(parquet_path, metadata=metadata)
    except (OSError, pa.ArrowException) as exc:
        raise DataImportError(
            f"The dataset file {Path(parquet_path).name} cannot be read.",
            details=str(exc),
            advice="The project's dataset blob is missing or damaged; import the dataset again.",
        ) from exc


@functools.lru_cache(maxsize=32)
def _footer(path: str, size: int, mtime_ns: int) -> pq.FileMetaData:
    """A file's parsed footer, kept while the file is unchanged: paging the preview table
    then reads only the row group it shows."""
    return pq.read_metadata(path)


def count_rows(parquet_path: str | Path) -> int:
    """Row count from the Parquet footer (reads no data)."""
    return _open(parquet_path).metadata.num_rows


def is_preference_blob(parquet_path: str | Path) -> bool:
    """Whether the file holds preference pairs (a `rejected` column)."""
    return REJECTED in _open(parquet_path).schema_arrow.names


def read_rows(parquet_path: str | Path, offset: int, limit: int) -> list[dict[str, Any]]:
    """Rows [offset, offset + limit) as {index, messages, source, source_row} (+ rejected, for
    preference pairs); reads only the row groups that hold them."""
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
    rows = [
        {
            "index": offset + i,
            "messages": json.loads(columns["messages"][i]),
            "source": json.loads(columns["source"][i]),
            "source_row": columns["source_row"][i],
        }
        for i in range(table.num_rows)
    ]
    if REJECTED in columns:
        for row, text in zip(rows, columns[REJECTED]):
            row[REJECTED] = json.loads(text)
    return rows


def iter_messages(parquet_path: str | Path) -> Iterator[list[dict[str, str]]]:
    """Every row's messages in order, one row group in memory at a time (training, stats)."""
    pf = _open(parquet_path)
    for group in range(pf.metadata.num_row_groups):
        for text in pf.read_row_group(group, columns=["messages"]).column("messages").to_pylist():
            yield json.loads(text)
