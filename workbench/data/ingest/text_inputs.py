"""Text inputs: one text file (JSONL, JSON, CSV/TSV, plain text; optionally gzipped), and a
folder of plain-text files (one example per file, or per paragraph / line of each file)."""

from __future__ import annotations

import functools
import hashlib
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Generator, Iterator, Optional

import numpy as np

from workbench.core.errors import DataImportError
from workbench.core.hashing import file_sha256
from workbench.data.formats.detect import RecordFormat
from workbench.data.ingest.input_base import Block, DatasetInput, FileWatch, ReadOptions, grouped
from workbench.data.ingest.jsonl_fast import FastRows, FastSpec, convert_block, spec_for
from workbench.data.formats.problems import Issue, Location, ProblemKind
from workbench.data.ingest.readers import PlainTextReader, RawRecord, jsonl_records, open_reader, strip_gz
from workbench.data.ingest.textsource import TextSource

# Fast-path blocks: 2% of the file (progress), at least 64 KiB, at most 2 MiB: as fast as
# larger blocks, and memory stays the same from a 100 MB file up (measured, bench_import.py).
_MIN_BLOCK, _MAX_BLOCK = 1 << 16, 2 << 20
TEXT_SUFFIXES = (".txt", ".md", ".markdown")


def converter_threads() -> int:
    """Fast-path blocks converted at once: one per core, at most 2 (memory: a block each)."""
    return max(1, min(2, os.cpu_count() or 1))


class TextInput(DatasetInput):
    """One text file, read once."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self._active: Optional[Generator[Block, None, None]] = None
        self._watch = FileWatch(path.name, [path])
        self.source = TextSource(path, encoding=options.encoding)
        try:
            self.reader = open_reader(self.source, text_mode=options.text_mode)
        except BaseException:
            self.source.close()
            raise
        self.kind = self.reader.kind
        self.text_mode = getattr(self.reader, "mode", None)
        self.name = self.source.name
        self.size = self.source.size
        self.encoding = self.source.encoding

    def records(self) -> Iterator[RawRecord]:
        return self.reader.records()

    def blocks(self, fmt: RecordFormat, fast: bool = True) -> Iterator[Block]:
        spec = spec_for(fmt) if fast and self.kind == "jsonl" and self.encoding == "utf-8" else None
        if spec is None:
            return grouped(self.records())
        self._active = self._fast_blocks(spec)
        return self._active

    def _fast_blocks(self, spec: FastSpec) -> Iterator[Block]:
        """Blocks convert in worker threads (pyarrow releases the GIL), `workers` at a time,
        and come out in file order; line and record numbers are assigned here, in order."""
        block_bytes = min(max(self.size // 50, _MIN_BLOCK), _MAX_BLOCK)
        workers = converter_threads()
        pool = ThreadPoolExecutor(workers, thread_name_prefix="jsonl-convert") if workers > 1 else None
        pending: deque[tuple[memoryview, int, Optional[Future]]] = deque()
        line, index = 1, 0
        try:
            blocks = self.source.line_blocks(block_bytes)
            while True:
                item = next(blocks, None)
                if item is not None:
                    block, offset = item
                    future = pool.submit(convert_block, block, spec, False) if pool is not None else None
                    pending.append((block, offset, future))
                    if len(pending) <= workers:
                        continue  # keep every worker busy
                if not pending:
                    return
                block, offset, future = pending.popleft()
                rows = future.result() if future is not None else convert_block(block, spec)
                if rows is None:
                    records = self._python_records(block, offset, line, index)
                    line += _line_count(block)
                    index += len(records)
                    yield records
                    continue
                rows.place(line, index)
                rows.fallback = functools.partial(self._python_records, block, offset, line, index)
                line += rows.line_count
                index += rows.line_count
                yield rows
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _python_records(self, block: memoryview, offset: int, first_line: int, index: int) -> list[RawRecord]:
        lines = self.source.decode_block(block, offset, first_line).split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the block ends with a newline
        numbered = ((first_line + i, line[:-1] if line.endswith("\r") else line) for i, line in enumerate(lines))
        return list(jsonl_records(numbered, index))

    def fraction(self) -> float:
        return self.source.fraction()

    def source_hash(self) -> str:
        return self.source.source_hash()

    def close(self) -> None:
        if self._active is not None:
            self._active.close()  # stops its converter threads
            self._active = None
        self.source.close()


FOLDER_HASH_PREFIX = b"workbench.text-folder.v1\n"


def _member_hash_entry(name: str, file_hash: str) -> bytes:
    return name.encode("utf-8", "surrogateescape") + b"\0" + file_hash.encode()


def folder_hash(files: list[Path]) -> str:
    """What TextFolderInput.source_hash() reports, computed from the files alone."""
    digest = hashlib.sha256(FOLDER_HASH_PREFIX)
    for path in files:
        digest.update(_member_hash_entry(path.name, file_sha256(path)))
    return digest.hexdigest()


def _line_count(block: memoryview) -> int:
    """Lines in a block: its newlines, plus a last line without one."""
    raw = np.frombuffer(block, dtype=np.uint8)
    return int(np.count_nonzero(raw == 10)) + bool(len(raw) and raw[-1] != 10)


class TextFolderInput(DatasetInput):
    """The .txt / .md files of a folder (not its subfolders), sorted by name."""

    kind = "folder"
    added_keys = ("file",)

    def __init__(self, folder: Path, options: ReadOptions) -> None:
        self.folder = folder
        self.name = folder.name
        self.options = options
        self.mode = self.text_mode = options.text_mode or "file"
        self.files = sorted(
            (p for p in folder.iterdir()
             if p.is_file() and not p.name.startswith(".") and Path(strip_gz(p.name.lower())).suffix in TEXT_SUFFIXES),
            key=lambda p: p.name,
        )
        if not self.files:
            raise DataImportError(
                f"The folder {folder.name} holds no .txt or .md files (and is not a Hugging Face dataset).",
                details=str(folder),
                advice="Choose a folder of text files (one example per file), or a folder saved "
                "with Hugging Face datasets' save_to_disk.",
            )
        self._watch = FileWatch(folder.name, self.files)
        self.size = sum(p.stat().st_size for p in self.files)
        self.encoding = options.encoding or "utf-8"
        self._done_bytes = 0
        self._current: Optional[TextSource] = None
        self._hash = hashlib.sha256(FOLDER_HASH_PREFIX)
        self._finished = False

    def records(self) -> Iterator[RawRecord]:
        index = 0
        for path in self.files:
            with TextSource(path, encoding=self.options.encoding, display_name=f"{self.name}/{path.name}") as source:
                self._current = source
                if path == self.files[0]:
                    self.encoding = source.encoding
                first = index
                for raw in PlainTextReader(source, self.mode).records():
                    location = Location(index, raw.location.line, None, "folder", path.name)
                    yield RawRecord(location, {"file": path.name, **raw.value}, raw=raw.raw)
                    index += 1
                if index == first:  # an empty file is worth a word, not silence
                    yield RawRecord(Location(index, None, None, "folder", path.name), issue=Issue(
                        ProblemKind.EMPTY_MESSAGE, None, "The file holds no text.",
                        "Write its text, or remove it from the folder."))
                    index += 1
                self._hash.update(_member_hash_entry(path.name, source.source_hash()))
                self._current = None
                self._done_bytes += source.size
        self._finished = True

    def fraction(self) -> float:
        current = self._current.bytes_read if self._current is not None else 0
        return (self._done_bytes + current) / self.size if self.size else 1.0

    def source_hash(self) -> str:
        if not self._finished:
            raise RuntimeError("source_hash() needs every file read")
        return self._hash.hexdigest()
