"""Binary inputs: Parquet files, Arrow IPC files, and Hugging Face `save_to_disk` folders.

A `save_to_disk` folder holds dataset_info.json, state.json (listing its data files) and
*.arrow files in the Arrow IPC *stream* format; a DatasetDict folder holds dataset_dict.json
and one such folder per split. Read with pyarrow alone (no `datasets` import), a record batch
at a time. A gzipped Parquet or Arrow file is first unpacked to a temp file (both need random
access), named so a killed process's leftovers are cleaned up later.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Any, Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.core.errors import DataImportError
from workbench.core.hashing import file_sha256
from workbench.data.ingest.input_base import DatasetInput, FileWatch
from workbench.data.ingest.partials import clean_stale_partials, partial_path
from workbench.data.formats.problems import Location
from workbench.data.ingest.readers import RawRecord

BATCH_ROWS = 1024
_HASH_CHUNK = 1 << 20
# What pyarrow raises for a damaged file (a ValueError: e.g. a column name that is not UTF-8).
_DAMAGED = (OSError, EOFError, pa.ArrowException, ValueError)


class _Unpacked:
    """A gzipped file unpacked to a temp file; remembers the hash of the gzip bytes."""

    def __init__(self, path: Path) -> None:
        folder = Path(tempfile.gettempdir()) / "workbench-import"
        folder.mkdir(parents=True, exist_ok=True)
        clean_stale_partials(folder)
        self.path = partial_path(folder, Path(path.name[:-3]).suffix)
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as raw, open(self.path, "wb") as out:
                reader = _Hashing(raw, digest)
                with gzip.GzipFile(fileobj=reader, mode="rb") as unpacked:  # type: ignore[arg-type]
                    shutil.copyfileobj(unpacked, out, _HASH_CHUNK)
                reader.drain()
        except (OSError, EOFError, zlib.error) as exc:
            self.remove()
            raise DataImportError(
                f"{path.name} is not a valid gzip file or is truncated.",
                details=str(exc),
                advice="Decompress it to check it, or export the dataset again.",
            ) from exc
        except BaseException:
            self.remove()
            raise
        self.raw_hash = digest.hexdigest()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class _Hashing:
    def __init__(self, fh: Any, digest: Any) -> None:
        self._fh, self._digest = fh, digest

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._digest.update(data)
        return data

    def drain(self) -> None:
        while self.read(_HASH_CHUNK):
            pass


def _unreadable(name: str, what: str, exc: BaseException) -> DataImportError:
    return DataImportError(
        f"{name} cannot be read as {what}: it is damaged, truncated or not {what}.",
        details=f"{type(exc).__name__}: {exc}",
        advice=f"Export the dataset again, or choose a file that is {what}.",
    )


def _rows(batch: pa.RecordBatch, name: str) -> list[dict[str, Any]]:
    # A damaged IPC file can hold offsets that point outside its buffers; converting such a
    # batch would read out of bounds (a crash), so every batch is validated first.
    batch.validate(full=True)
    try:
        return batch.to_pylist()
    except (pa.ArrowException, ValueError, OverflowError) as exc:  # e.g. a date out of Python's range
        raise DataImportError(
            f"{name}: a batch of records holds values that cannot be converted.",
            details=f"{type(exc).__name__}: {exc}",
            advice="Convert unusual column types (dates, decimals) to text before importing.",
        ) from exc


class ParquetInput(DatasetInput):
    """Any Parquet file whose columns fit the format (or the column mapping)."""

    kind = "parquet"

    def __init__(self, path: Path) -> None:
        self.name = path.name
        self.size = path.stat().st_size
        self._watch = FileWatch(path.name, [path])
        self._unpacked = _Unpacked(path) if path.name.lower().endswith(".gz") else None
        self._path = self._unpacked.path if self._unpacked else path
        try:
            self._file = pq.ParquetFile(self._path)
        except BaseException as exc:
            self.close()
            if isinstance(exc, _DAMAGED):
                raise _unreadable(path.name, "a Parquet file", exc) from exc
            raise
        self._total = self._file.metadata.num_rows
        self._done = 0

    def records(self) -> Iterator[RawRecord]:
        index = 0
        try:
            batches = self._file.iter_batches(batch_size=BATCH_ROWS)
            for batch in batches:
                for value in _rows(batch, self.name):
                    yield RawRecord(Location(index, None, None, "parquet"), value)
                    index += 1
                self._done = index
        except _DAMAGED as exc:
            raise _unreadable(self.name, "a Parquet file", exc) from exc

    def fraction(self) -> float:
        return self._done / self._total if self._total else 1.0

    def source_hash(self) -> str:
        return self._unpacked.raw_hash if self._unpacked else file_sha256(self._path)

    def close(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()
        if getattr(self, "_unpacked", None) is not None:
            self._unpacked.remove()


class ArrowInput(DatasetInput):
    """Arrow IPC files (stream or file format), read one after another as one dataset."""

    kind = "arrow"

    def __init__(self, name: str, files: list[Path], watch: list[Path], *, hash_files: Optional[list[Path]] = None,
                 unpacked: Optional["_Unpacked"] = None) -> None:
        """`unpacked`: the temporary file a .gz was unpacked to (removed on close); the source
        hash is then the compressed file's, as for every other gzip input."""
        self.name = name
        self._files = files
        self._unpacked: list[_Unpacked] = [unpacked] if unpacked is not None else []
        self._raw_hash = unpacked.raw_hash if unpacked is not None else None
        self._watch = FileWatch(name, watch)
        self.size = sum(p.stat().st_size for p in files)
        self._hash_files = hash_files if hash_files is not None else files
        self._done_bytes = 0
        self._position = 0

    @classmethod
    def single(cls, path: Path) -> "ArrowInput":
        if not path.name.lower().endswith(".gz"):
            return cls(path.name, [path], [path])
        unpacked = _Unpacked(path)
        try:
            return cls(path.name, [unpacked.path], [path], hash_files=[], unpacked=unpacked)
        except BaseException:
            unpacked.remove()
            raise

    def records(self) -> Iterator[RawRecord]:
        index = 0
        for path in self._files:
            # Read, not memory-mapped: a file truncated while mapped would crash the process.
            source = pa.OSFile(str(path))
            try:
                for batch in self._batches(source, path):
                    for value in _rows(batch, self.name):
                        yield RawRecord(Location(index, None, None, self.kind), value)
                        index += 1
                    self._position = source.tell()
            except _DAMAGED as exc:
                raise _unreadable(f"{self.name} ({path.name})", "an Arrow file", exc) from exc
            finally:
                source.close()
            self._done_bytes += path.stat().st_size
            self._position = 0

    @staticmethod
    def _batches(source: pa.NativeFile, path: Path) -> Iterator[pa.RecordBatch]:
        try:
            stream = pa.ipc.open_stream(source)  # what save_to_disk writes
        except pa.ArrowInvalid:
            source.seek(0)
            reader = pa.ipc.open_file(source)  # the random-access format (.arrow / .feather v2)
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
            return
        yield from stream

    def fraction(self) -> float:
        return (self._done_bytes + self._position) / self.size if self.size else 1.0

    def source_hash(self) -> str:
        if self._raw_hash:
            return self._raw_hash
        digest = hashlib.sha256(b"workbench.arrow-files.v1\n")
        for path in self._hash_files:
            digest.update(path.name.encode("utf-8", "surrogateescape") + b"\0" + file_sha256(path).encode())
        return digest.hexdigest()

    def close(self) -> None:
        for unpacked in self._unpacked:
            unpacked.remove()


def hf_dataset(folder: Path, split: Optional[str]) -> ArrowInput:
    """A `save_to_disk` folder: a Dataset, or a DatasetDict (its `split`, default 'train')."""
    splits: tuple[str, ...] = ()
    chosen: Optional[str] = None
    name = folder.name
    if (folder / "dataset_dict.json").is_file():
        splits = tuple(_json(folder / "dataset_dict.json", folder.name).get("splits") or ())
        if not splits or not all(isinstance(s, str) for s in splits):
            raise DataImportError(f"{folder.name}/dataset_dict.json lists no splits.",
                                  advice="Save the dataset again with save_to_disk.")
        chosen = split or ("train" if "train" in splits or len(splits) > 1 else splits[0])
        if chosen not in splits:
            raise DataImportError(
                f"The dataset {folder.name} has no split '{chosen}' (it has {', '.join(splits)}).",
                advice="Choose one of its splits.",
            )
        folder = folder / chosen
        name = f"{name}[{chosen}]"
    elif split is not None:
        raise DataImportError(
            f"The dataset {folder.name} is a single dataset, not a dict of splits, so split "
            f"'{split}' cannot be chosen.",
            advice="Import it without choosing a split.",
        )
    files = _data_files(folder, name)
    meta = [p for p in (folder / "state.json", folder / "dataset_info.json") if p.is_file()]
    input_ = ArrowInput(name, files, files + meta)
    input_.kind = "hf_dataset"
    input_.splits, input_.split = splits, chosen
    return input_


def _data_files(folder: Path, name: str) -> list[Path]:
    state_path = folder / "state.json"
    if state_path.is_file():
        entries = _json(state_path, name).get("_data_files") or []
        names = [e.get("filename") for e in entries if isinstance(e, dict)]
        if not names or not all(isinstance(n, str) and n and "/" not in n and "\\" not in n and n != ".."
                                for n in names):
            raise DataImportError(f"{name}: state.json lists no usable data files.",
                                  details=str(entries)[:500], advice="Save the dataset again with save_to_disk.")
        files = [folder / n for n in names]
    else:
        files = sorted(folder.glob("*.arrow"))
    missing = [p.name for p in files if not p.is_file()]
    if not files or missing:
        raise DataImportError(
            f"{name}: data file(s) missing: {', '.join(missing) or '*.arrow'}.",
            details=str(folder),
            advice="Copy the whole folder save_to_disk wrote, with all its .arrow files.",
        )
    return files


def _json(path: Path, name: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise DataImportError(f"{name}: {path.name} cannot be read.", details=str(exc),
                              advice="Save the dataset again with save_to_disk.") from exc
    if not isinstance(data, dict):
        raise DataImportError(f"{name}: {path.name} is not a JSON object.",
                              advice="Save the dataset again with save_to_disk.")
    return data


def is_hf_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("dataset_dict.json", "state.json", "dataset_info.json"))
