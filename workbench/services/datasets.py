"""Import dataset files into a project and read their rows back."""

from __future__ import annotations

import hashlib
import os
from typing import Any, Optional

from workbench.core.errors import DataImportError
from workbench.core.progress import CancelToken, ProgressCallback
from workbench.core.records import DatasetVersion
from workbench.store import ProjectStore

DATASET_BLOBS = os.path.join("blobs", "datasets")


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _dataset_stem(path: str) -> str:
    name = os.path.basename(path)
    for ext in (".gz", ".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt"):
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
) -> DatasetVersion:
    """Import `file_path` as a new immutable version (or return the existing identical one).

    The Parquet blob is written under a temporary name and renamed to its content hash by the
    data layer; the SQLite rows are written only after that, so a failure or cancel leaves
    neither a blob nor a record behind.
    """
    from workbench.data import import_file  # pyarrow: loaded on first import, not at start-up

    if not os.path.isfile(file_path):
        raise DataImportError(f"{file_path} does not exist or is not a file.",
                              advice="Choose an existing dataset file.")
    options = {"format": format, "on_invalid": on_invalid}
    existing = store.find_version_by_source(file_sha256(file_path), options)
    if existing is not None:
        return existing
    dest = store.abspath(DATASET_BLOBS)
    os.makedirs(dest, exist_ok=True)
    outcome = import_file(
        file_path, format=format, on_invalid=on_invalid, dest_dir=dest, progress=progress, cancel=cancel
    )
    dataset_name = name or _dataset_stem(file_path)
    dataset = next((d for d in store.list_datasets() if d.name == dataset_name), None)
    if dataset is None:
        dataset = store.add_dataset(dataset_name)
    return store.add_version(
        dataset_id=dataset.id,
        content_hash=outcome.content_hash,
        blob_path=store.relpath(outcome.parquet_path),
        row_count=outcome.row_count,
        format=outcome.format,
        source_name=outcome.source_name,
        source_size=outcome.source_size,
        source_hash=outcome.source_hash,
        options={**options, "skipped_rows": outcome.skipped_count},
    )


def read_rows(store: ProjectStore, version_id: str, offset: int, limit: int) -> list[dict[str, Any]]:
    from workbench.data import read_rows as _read_rows

    version = store.get_version(version_id)
    return _read_rows(store.abspath(version.blob_path), offset, limit)


def version_label(store: ProjectStore, version: DatasetVersion) -> str:
    return f"{store.dataset_name(version.dataset_id)} · {version.row_count} rows · {version.created_at[:16]}"
