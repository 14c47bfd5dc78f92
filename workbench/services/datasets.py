"""Import dataset files into a project and read their rows back."""

from __future__ import annotations

import os
from typing import Any, Optional

from workbench.core.errors import DataImportError
from workbench.core.hashing import file_sha256
from workbench.core.progress import CancelToken, ProgressCallback
from workbench.core.records import DatasetVersion
from workbench.store import ProjectStore

DATASET_BLOBS = os.path.join("blobs", "datasets")


def dataset_extensions() -> tuple[str, ...]:
    """The file extensions an import reads (each may also end in .gz), from the reader registry."""
    from workbench.data import supported_extensions

    return supported_extensions()


def is_dataset_path(path: str) -> bool:
    """Whether a dropped path looks importable: a folder, or a file with a dataset extension."""
    name = path.lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith(dataset_extensions()) or os.path.isdir(path)


def open_dialog_filter() -> str:
    """The open dialog's name filters: every dataset extension, then all files."""
    patterns = " ".join(f"*{e}" for e in dataset_extensions()) + " *.gz"
    return f"Datasets ({patterns});;All files (*)"


def dataset_stem(path: str) -> str:
    """A dataset's default name: the file or folder name without its dataset extensions."""
    name = os.path.basename(path.rstrip("/\\"))
    for ext in (".gz", *dataset_extensions()):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return name or "dataset"


def import_dataset(
    store: ProjectStore,
    file_path: str,
    name: Optional[str] = None,
    on_invalid: str = "abort",
    format: Optional[str] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    mapping: Any = None,
    text_mode: Optional[str] = None,
    encoding: Optional[str] = None,
    split: Optional[str] = None,
) -> DatasetVersion:
    """Import a file or folder as a new immutable version (or return the identical earlier one).

    `mapping` (workbench.data.ColumnMapping), `text_mode`, `encoding` and `split` are the
    importer's reading options; they are recorded in the version's options. The Parquet blob is
    written under a temporary name and renamed to its content hash by the data layer; the
    SQLite rows are written only after that, so a failure or cancel leaves neither behind.
    """
    from workbench.data import import_file  # pyarrow: loaded on first import, not at start-up

    if not os.path.exists(file_path):
        raise DataImportError(f"{file_path} does not exist.", advice="Choose an existing dataset file or folder.")
    asked: dict[str, Any] = {"format": format, "on_invalid": on_invalid}
    for key, value in (("text_mode", text_mode), ("encoding", encoding), ("split", split)):
        if value is not None:
            asked[key] = value
    if mapping is not None:
        asked["mapping"] = mapping.to_dict()
    if os.path.isfile(file_path):  # a file's bytes are cheap to hash: skip a repeated import early
        existing = store.find_version_by_source(file_sha256(file_path), asked)
        if existing is not None:
            return existing
    dest = store.abspath(DATASET_BLOBS)
    os.makedirs(dest, exist_ok=True)
    outcome = import_file(
        file_path, format=format, on_invalid=on_invalid, dest_dir=dest, progress=progress, cancel=cancel,
        mapping=mapping, text_mode=text_mode, encoding=encoding, split=split,
    )
    options = {**outcome.options, **asked}
    existing = store.find_version_by_source(outcome.source_hash, asked)
    if existing is not None:  # a folder imported again: the blob just written is the same file
        return existing
    dataset_name = name or dataset_stem(file_path)
    dataset = next((d for d in store.list_datasets() if d.name == dataset_name), None)
    if dataset is None:
        dataset = store.add_dataset(dataset_name)
    extra: dict[str, Any] = {"skipped_rows": outcome.skipped_count}
    if outcome.unused_fields:  # what the rows do not keep, for every later summary of the import
        extra["unused_fields"] = [u.to_dict() for u in outcome.unused_fields]
    return store.add_version(
        dataset_id=dataset.id,
        content_hash=outcome.content_hash,
        blob_path=store.relpath(str(outcome.parquet_path)),
        row_count=outcome.row_count,
        format=outcome.format,
        source_name=outcome.source_name,
        source_size=outcome.source_size,
        source_hash=outcome.source_hash,
        options={**options, **extra},
        kind=outcome.kind,
    )


def unused_fields(version: DatasetVersion) -> tuple[Any, ...]:
    """The fields with values that the version's import did not keep (workbench.data.UnusedField:
    name, rows, read, meaning, message())."""
    from workbench.data import UnusedField

    return tuple(UnusedField.from_dict(d) for d in (version.options or {}).get("unused_fields") or [])


def read_rows(store: ProjectStore, version_id: str, offset: int, limit: int) -> list[dict[str, Any]]:
    from workbench.data import read_rows as _read_rows

    version = store.get_version(version_id)
    return _read_rows(store.abspath(version.blob_path), offset, limit)



def create_version_from_rows(store: ProjectStore, *, dataset_name: str, rows: list[dict[str, Any]], kind: str,
                             source_name: str, options: Optional[dict[str, Any]] = None,
                             dataset_id: Optional[str] = None) -> DatasetVersion:
    """A new version from rows in the stored shape: {"messages": [...], "rejected": [...]
    (kind "preference" only: the rejected reply's assistant turns; messages = prompt + chosen),
    "source": any JSON (provenance)}.

    Rows are checked like an import (a bad row raises DataImportError naming the row and the
    field; nothing is written). The blob is content-hashed and written before the SQLite row,
    so a failure leaves no version. The version goes to `dataset_id`, else to the dataset named
    `dataset_name` (made when there is none); the same rows in the same dataset again return the
    version already there.
    """
    from workbench.data.ingest.rows import write_rows

    if dataset_id is not None:
        dataset = next((d for d in store.list_datasets() if d.id == dataset_id), None)
        if dataset is None:
            raise DataImportError(f"No dataset {dataset_id[:8]} in this project.",
                                  advice="Choose a dataset of this project, or give a name for a new one.")
    else:
        if not dataset_name.strip():
            raise DataImportError("The new dataset needs a name.", advice="Give the dataset a name.")
        dataset = next((d for d in store.list_datasets() if d.name == dataset_name), None)
    dest = store.abspath(DATASET_BLOBS)
    os.makedirs(dest, exist_ok=True)
    blob = write_rows(rows, kind, dest, name=source_name)
    if dataset is not None:
        for version in store.list_versions(dataset.id):
            if version.content_hash == blob.content_hash and version.kind == kind:
                return version
    else:
        dataset = store.add_dataset(dataset_name)
    return store.add_version(
        dataset_id=dataset.id, content_hash=blob.content_hash, blob_path=store.relpath(str(blob.path)),
        row_count=blob.row_count, format="rows", source_name=source_name, source_size=0,
        # the rows' own hash: re-importing any file never resolves to this version
        source_hash=blob.content_hash, options=dict(options or {}), kind=kind,
    )
