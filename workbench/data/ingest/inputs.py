"""Open any supported dataset path as a DatasetInput: a file by its extension (and, for an
unknown extension, its first bytes), a folder by what it holds."""

from __future__ import annotations

from pathlib import Path

from workbench.core.errors import DataImportError
from workbench.core.hashing import file_sha256
from workbench.data.ingest.arrow_inputs import ArrowInput, ParquetInput, hf_dataset, is_hf_folder
from workbench.data.ingest.input_base import DatasetInput, ReadOptions
from workbench.data.ingest.readers import strip_gz, supported_extensions
from workbench.data.ingest.text_inputs import TextFolderInput, TextInput, folder_hash

_PARQUET_MAGIC = b"PAR1"
_ARROW_MAGIC = b"ARROW1"
_ARROW_SUFFIXES = (".arrow", ".feather", ".ipc")  # readers.BINARY_SUFFIXES, less Parquet


def open_input(path: str | Path, options: ReadOptions = ReadOptions()) -> DatasetInput:
    """The input for a dataset file or folder (close it, or use it as a context manager)."""
    path = Path(path)
    try:
        return _open(path, options)
    except OSError as exc:  # permissions, a file vanishing between the checks, ...
        raise DataImportError(f"{path.name} cannot be opened.", details=f"{type(exc).__name__}: {exc}",
                              advice="Check that the file exists and that you may read it.") from exc


def _open(path: Path, options: ReadOptions) -> DatasetInput:
    if path.is_dir():
        return hf_dataset(path, options.split) if is_hf_folder(path) else TextFolderInput(path, options)
    if not path.is_file():
        raise DataImportError(f"{path} does not exist or is not a file.",
                              advice="Choose an existing dataset file or folder.")
    suffix = Path(strip_gz(path.name.lower())).suffix
    if suffix == ".parquet":
        return ParquetInput(path)
    if suffix in _ARROW_SUFFIXES:
        return ArrowInput.single(path)
    if suffix not in supported_extensions():  # unknown extension: binary formats by magic bytes
        with open(path, "rb") as f:
            head = f.read(8)
        if head.startswith(_PARQUET_MAGIC):
            return ParquetInput(path)
        if head.startswith(_ARROW_MAGIC):
            return ArrowInput.single(path)
    return TextInput(path, options)


def source_hash(path: str | Path, split: str | None = None) -> str:
    """The sha256 an import of `path` reports as ImportOutcome.source_hash, without importing
    (to look for an identical earlier import first): a file's raw bytes (gzip included); for a
    folder of text files or a Hugging Face folder, a hash over its data files."""
    path = Path(path)
    try:
        if not path.is_dir():
            if not path.is_file():
                raise DataImportError(f"{path} does not exist or is not a file.",
                                      advice="Choose an existing dataset file or folder.")
            return file_sha256(path)
        if is_hf_folder(path):
            return hf_dataset(path, split).source_hash()
        return folder_hash(TextFolderInput(path, ReadOptions()).files)
    except OSError as exc:
        raise DataImportError(f"{path.name} cannot be read.", details=f"{type(exc).__name__}: {exc}",
                              advice="Check that the file exists and that you may read it.") from exc
