"""What the importer reads: a dataset file or folder opened as a stream of records.

Every input (text file, Parquet, Arrow / Hugging Face folder, folder of .txt files) offers the
same surface: `records()` for preview and detection, `blocks()` for the import (record lists,
or Arrow rows from the JSONL fast path), progress as a fraction, a hash of the raw bytes, and a
check that the file did not change or vanish while it was read.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Union

from workbench.core.errors import DataImportError
from workbench.data.formats.detect import RecordFormat
from workbench.data.ingest.jsonl_fast import FastRows
from workbench.data.ingest.readers import RawRecord, check_text_mode
from workbench.data.ingest.textsource import check_encoding

Block = Union[list[RawRecord], FastRows]
BLOCK_RECORDS = 512  # records per block on the Python path: progress and cancel granularity


@dataclass(frozen=True)
class ReadOptions:
    """How to read the input. text_mode: 'file' | 'paragraph' | 'line' (plain text);
    encoding: a text encoding for files that are not UTF-8/UTF-16 with a BOM; split: the
    split of a Hugging Face DatasetDict folder (default 'train')."""

    text_mode: Optional[str] = None
    encoding: Optional[str] = None
    split: Optional[str] = None

    def __post_init__(self) -> None:
        check_text_mode(self.text_mode)
        if self.encoding is not None:
            check_encoding(self.encoding)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("text_mode", self.text_mode), ("encoding", self.encoding),
                                  ("split", self.split)) if v is not None}


class FileWatch:
    """Remembers size and modification time of the files read, to notice a file that was
    truncated, rewritten or deleted while the import ran (the rows would not match it)."""

    def __init__(self, display_name: str, paths: Iterable[Path]) -> None:
        self._name = display_name
        self._stats = {path: self._stat(path) for path in paths}

    @staticmethod
    def _stat(path: Path) -> tuple[int, int]:
        stat = os.stat(path)
        return stat.st_size, stat.st_mtime_ns

    def check(self) -> None:
        for path, before in self._stats.items():
            try:
                now = self._stat(path)
            except OSError:
                raise DataImportError(
                    f"{self._name} was removed while it was being imported; nothing was imported.",
                    details=str(path),
                    advice="Import it again once it is in place (and no other program moves it).",
                ) from None
            if now != before:
                raise DataImportError(
                    f"{self._name} changed while it was being imported (it is now {now[0]:,} bytes, "
                    f"was {before[0]:,}); nothing was imported.",
                    details=str(path),
                    advice="Wait until the program writing the file has finished, then import it again.",
                )


class DatasetInput:
    """Base class of the inputs. Subclasses set kind, name, size, encoding and `_watch`."""

    kind: str = ""
    name: str = ""
    size: int = 0
    encoding: str = ""
    splits: tuple[str, ...] = ()  # the splits of a DatasetDict folder
    split: Optional[str] = None  # the split read
    text_mode: Optional[str] = None  # the text mode used (plain text inputs)
    added_keys: tuple[str, ...] = ()  # keys the input adds to each record (lineage), not the file's own
    _watch: Optional[FileWatch] = None

    def records(self) -> Iterator[RawRecord]:  # pragma: no cover - abstract
        raise NotImplementedError

    def blocks(self, fmt: RecordFormat, fast: bool = True) -> Iterator[Block]:
        """The records in blocks. Text JSONL may yield FastRows (see jsonl_fast)."""
        return grouped(self.records())

    def fraction(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def source_hash(self) -> str:  # pragma: no cover - abstract
        """sha256 of the raw bytes (call after reading)."""
        raise NotImplementedError

    def check_unchanged(self) -> None:
        if self._watch is not None:
            self._watch.check()

    def close(self) -> None:
        pass

    def __enter__(self) -> "DatasetInput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def grouped(records: Iterator[RawRecord], size: int = BLOCK_RECORDS) -> Iterator[list[RawRecord]]:
    while True:
        block = list(itertools.islice(records, size))
        if not block:
            return
        yield block
