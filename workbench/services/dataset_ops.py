"""Dataset operations the UI and the CLI share: clean, split, check leakage, measure, render
a row as the model sees it, export.

Every derived version is immutable and records how it was made in `options` (operation,
parameters, counts) with `parent_id` pointing at the version it came from. Asking for the
same operation with the same parameters on the same version again returns the version
already made, so a split, once made, stays frozen.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional

from workbench.core.errors import WorkbenchError
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.core.records import Dataset, DatasetVersion, version_numbers, version_title
from workbench.store import ProjectStore

if TYPE_CHECKING:  # the data modules load pyarrow/numpy: imported when first used
    from workbench.data.ops.clean_params import Exclusions
    from workbench.data.ops.cleaning import CleanReport
    from workbench.data.ops.export import ExportResult
    from workbench.data.ops.splits import LeakageReport
    from workbench.data.ops.stats import VersionStats
    from workbench.data.model_view.template import RenderedRow
    from workbench.data.model_view.token_fit import TokenFit

DATASET_BLOBS = os.path.join("blobs", "datasets")


def _blob(store: ProjectStore, version: DatasetVersion) -> str:
    return store.abspath(version.blob_path)


def _children(store: ProjectStore, parent: DatasetVersion) -> list[DatasetVersion]:
    return [v for v in store.list_versions(parent.dataset_id) if v.parent_id == parent.id]


def _add_derived(store: ProjectStore, parent: DatasetVersion, blob, options: dict[str, Any]) -> DatasetVersion:
    # source_name/size say what the lineage was imported from; source_hash is the parent's
    # content hash, so re-importing the original file never resolves to a derived version.
    return store.add_version(
        dataset_id=parent.dataset_id, content_hash=blob.content_hash, blob_path=store.relpath(str(blob.path)),
        row_count=blob.row_count, format=parent.format, source_name=parent.source_name,
        source_size=parent.source_size, source_hash=parent.content_hash, options=options, parent_id=parent.id,
        kind=parent.kind,  # a cleaned or split preference version is still pairs (rowio keeps rejected)
    )


def model_folder(store: ProjectStore, ref: str) -> str:
    """A tokenizer reference: a folder or tokenizer.json path, or a base model's id, name or kind."""
    if os.path.exists(ref):
        return os.path.abspath(ref)
    for model in store.list_base_models():
        if ref in (model.id, model.name, model.kind):
            return model.path
    known = ", ".join(m.name for m in store.list_base_models()) or "none"
    raise WorkbenchError(f"No model folder or base model '{ref}'.",
                         advice=f"Give a Hugging Face model folder, or a base model of this project ({known}).")


# -- cleaning ---------------------------------------------------------------------------------
def _resolved(store: ProjectStore, op: str, params: Optional[Mapping[str, Any]]):
    from workbench.data.ops.clean_params import resolve_params

    params = dict(params or {})
    if op == "length" and params.get("tokenizer"):
        params["tokenizer"] = model_folder(store, str(params["tokenizer"]))
    return resolve_params(op, params)


def preview_clean(store: ProjectStore, version_id: str, op: str, params: Optional[Mapping[str, Any]] = None, *,
                  max_examples: int = 200, progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None) -> "CleanReport":
    """What `op` would remove or change (-> workbench.data.ops.cleaning.CleanReport); writes nothing."""
    from workbench.data.ops.cleaning import run_clean

    version = store.get_version(version_id)
    return run_clean(_blob(store, version), op, _resolved(store, op, params), max_examples=max_examples,
                     progress=progress, cancel=cancel)


def apply_clean(store: ProjectStore, version_id: str, op: str, params: Optional[Mapping[str, Any]] = None, *,
                exclude: Optional["Exclusions"] = None, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> DatasetVersion:
    """A new version without the removed rows and with the changed ones, less the changes in
    `exclude` (switched off in the preview); its options record {"operation": "clean", "op",
    "params", "counts", "removed_rows", "changed_rows", "excluded" (when any), ...}."""
    from workbench.data.ops.clean_params import params_dict
    from workbench.data.ops.cleaning import apply_clean as _apply

    parent = store.get_version(version_id)
    resolved = _resolved(store, op, params)
    recorded = params_dict(resolved)
    excluded = exclude.to_dict() if exclude else None
    for v in _children(store, parent):
        d = v.derivation
        if d.operation == "clean" and d.op == op and d.params == recorded and v.options.get("excluded") == excluded:
            report(progress, 1.0, "Already cleaned this way")
            return v
    dest = store.abspath(DATASET_BLOBS)
    result, blob = _apply(_blob(store, parent), dest, op, resolved, exclude=exclude, progress=progress,
                          cancel=cancel)
    options: dict[str, Any] = {
        "operation": "clean", "op": op, "params": recorded, "counts": result.counts,
        "removed_rows": result.removed, "changed_rows": result.changed,
    }
    if excluded:
        options["excluded"] = excluded
    if result.duplicate_of:
        options["duplicate_of"] = result.duplicate_of
    if result.unit:
        options["unit"] = result.unit
    if op == "length" and resolved.tokenizer:
        from workbench.data.model_view.tokens import find_tokenizer_files

        options["tokenizer_hash"] = find_tokenizer_files(resolved.tokenizer).fingerprint
    return _add_derived(store, parent, blob, options)


# -- splits ------------------------------------------------------------------------------------
def make_split(store: ProjectStore, version_id: str, *, ratios: Optional[Mapping[str, float]] = None,
               counts: Optional[Mapping[str, int]] = None, seed: int = 42, stratify_by: Optional[str] = None,
               progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None) -> dict[str, DatasetVersion]:
    """{"train", "validation", "test"} -> derived versions (existing ones when this split was
    made before). Without ratios or counts: 0.8 / 0.1 / 0.1."""
    from workbench.data.ops.splits import SPLITS, SplitSpec, plan_split, write_split

    if ratios is None and counts is None:
        ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    spec = SplitSpec(dict(ratios) if ratios is not None else None, dict(counts) if counts is not None else None,
                     int(seed), stratify_by or None)
    spec.check()
    parent = store.get_version(version_id)
    split_id = spec.split_id(parent.content_hash)
    existing = {v.derivation.part: v for v in _children(store, parent) if v.derivation.split_id == split_id}
    if all(name in existing for name in SPLITS):
        report(progress, 1.0, "This split exists already")
        return {name: existing[name] for name in SPLITS}
    report(progress, 0.0, "Assigning rows")
    plan = plan_split(_blob(store, parent), spec, cancel)
    blobs = write_split(_blob(store, parent), plan, store.abspath(DATASET_BLOBS),
                        progress=lambda f, m: report(progress, 0.2 + 0.8 * f, m), cancel=cancel)
    out = {}
    for name in SPLITS:
        if name in existing:  # an earlier attempt recorded part of this split
            out[name] = existing[name]
            continue
        out[name] = _add_derived(store, parent, blobs[name], {
            "operation": "split", "split": name, "split_id": split_id, **spec.record(),
            "sizes": plan.sizes, "strata": plan.strata,
        })
    return out


def split_versions(store: ProjectStore, ref: str) -> dict[str, DatasetVersion]:
    """The versions of a split, by split_id or by the id of any one of them."""
    versions = store.list_versions()
    split_id = ref
    for v in versions:
        if v.id == ref:
            split_id = v.derivation.split_id
            if not split_id:
                raise WorkbenchError(f"Version {ref[:8]} is not part of a split.",
                                     advice="Give a split's version (train, validation or test) or its split id.")
    found = {v.derivation.part: v for v in versions if split_id and v.derivation.split_id == split_id}
    if not found:
        raise WorkbenchError(f"No split '{ref}' in this project.", advice="Make a split first (workbench data split).")
    return found


def leakage_report(store: ProjectStore, versions: str | Mapping[str, str], *, threshold: float = 0.8,
                   num_perm: int = 128, shingle_size: int = 3, include_system: bool = False,
                   max_pairs: int = 1000, progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> "LeakageReport":
    """Exact and near duplicates across splits (-> workbench.data.ops.splits.LeakageReport).
    `versions`: a split id, any version of a split, or {name: version_id}."""
    from workbench.data.ops.splits import SPLITS, leakage

    if isinstance(versions, str):
        members = split_versions(store, versions)
        paths = {n: _blob(store, members[n]) for n in SPLITS if n in members}
    else:
        paths = {name: _blob(store, store.get_version(vid)) for name, vid in versions.items()}
    return leakage(paths, threshold=threshold, num_perm=num_perm, shingle_size=shingle_size,
                   include_system=include_system, max_pairs=max_pairs, progress=progress, cancel=cancel)


# -- what the model sees ---------------------------------------------------------------------
def version_stats(store: ProjectStore, version_id: str, *, tokenizer: Optional[str] = None,
                  max_length: Optional[int] = None, measure: str = "auto", bins: int = 20,
                  progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None) -> "VersionStats":
    """-> workbench.data.ops.stats.VersionStats. `tokenizer`: model folder or base model id/name."""
    from workbench.data.ops.stats import compute_stats

    version = store.get_version(version_id)
    folder = model_folder(store, tokenizer) if tokenizer else None
    return compute_stats(_blob(store, version), tokenizer=folder, max_length=max_length, measure=measure,
                         bins=bins, progress=progress, cancel=cancel)


def token_fit(store: ProjectStore, version_id: str, model: str, *, progress: Optional[ProgressCallback] = None,
              cancel: Optional[CancelToken] = None) -> "TokenFit":
    """How the version fits any max length with `model`'s tokenizer and chat template, as
    training cuts it (-> workbench.data.model_view.token_fit.TokenFit; .at(max_length) gives the counts)."""
    from workbench.data.model_view.token_fit import measure_fit

    version = store.get_version(version_id)
    folder = model_folder(store, model)
    if not os.path.isdir(folder):
        raise WorkbenchError(f"The base model's folder {folder} is missing on this machine.",
                             advice="Build the model again or add the folder where it now lives (Models page).")
    return measure_fit(_blob(store, version), folder, progress=progress, cancel=cancel)


def render_row(store: ProjectStore, version_id: str, row_index: int, tokenizer: str, *,
               max_length: Optional[int] = None) -> "RenderedRow":
    """One row rendered with the model's chat template, tokens flagged trained or not
    (-> workbench.data.model_view.template.RenderedRow)."""
    from workbench.data import read_rows
    from workbench.data.model_view.template import render_conversation
    from workbench.data.model_view.tokens import find_tokenizer_files

    version = store.get_version(version_id)
    if not 0 <= row_index < version.row_count:
        raise WorkbenchError(f"Row {row_index} is out of range (the version has {version.row_count:,} rows).",
                             advice=f"Choose a row from 0 to {version.row_count - 1}.")
    row = read_rows(_blob(store, version), row_index, 1)[0]
    files = find_tokenizer_files(model_folder(store, tokenizer))
    return render_conversation(files, row["messages"], index=row_index, max_length=max_length)


def export_version(store: ProjectStore, version_id: str, path: str, format: str = "jsonl", style: str = "openai",
                   *, progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> "ExportResult":
    """-> workbench.data.ops.export.ExportResult."""
    from workbench.data.ops.export import export

    version = store.get_version(version_id)
    return export(_blob(store, version), path, format=format, style=style, progress=progress, cancel=cancel)


def export_stem(store: ProjectStore, version: DatasetVersion) -> str:
    """A file name (without suffix) for exporting `version`: dataset, what the version is, id."""
    label = version.derivation.label.split(" ")[0]  # train / test / cleaned / imported ...
    stem = re.sub(r"[^\w.-]+", "_", f"{store.dataset_name(version.dataset_id)}-{label}").strip("_") or "dataset"
    return f"{stem}-{version.id[:8]}"


# -- lineage -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineageEntry:
    version: DatasetVersion
    depth: int  # 0 for imported versions, parent depth + 1 for derived ones
    how: str  # what made it: "imported from x.jsonl", "exact_dedup: -3 rows", "split: train"


@dataclass(frozen=True)
class DatasetLineage:
    dataset: Dataset
    entries: list[LineageEntry]  # depth-first, oldest first


def describe(version: DatasetVersion) -> str:
    """What made the version, with its parameters (the Datasets page's "How" column)."""
    d = version.derivation
    if d.operation == "clean":
        bits = [f"-{d.removed} rows"] + ([f"{d.changed} changed"] if d.changed else [])
        return f"{d.op}: {', '.join(bits)}"
    if d.operation == "split":
        how = ", ".join(f"{k} {v}" for k, v in (d.ratios or d.counts or {}).items())
        strat = f", stratified by {d.stratify_by}" if d.stratify_by else ""
        return f"split: {d.part} ({how}; seed {d.seed}{strat}; id {d.split_id[:8]})"
    if d.operation == "derived":
        return "derived"
    return f"imported from {version.source_name} ({version.format})"


def version_titles(store: ProjectStore, versions: Optional[list[DatasetVersion]] = None) -> dict[str, str]:
    """version id -> how pickers name it (workbench.core.records.version_title): dataset name,
    version number, what it is and where it came from, rows."""
    every = store.list_versions()
    numbers = version_numbers(every)
    names = {d.id: d.name for d in store.list_datasets()}
    chosen = every if versions is None else versions
    return {v.id: version_title(names.get(v.dataset_id, "?"), v, numbers) for v in chosen}


def title_of(store: ProjectStore, version: DatasetVersion) -> str:
    return version_titles(store, [version])[version.id]


def lineage(store: ProjectStore) -> list[DatasetLineage]:
    out = []
    for dataset in store.list_datasets():
        versions = sorted(store.list_versions(dataset.id), key=lambda v: v.created_at)
        ids = {v.id for v in versions}
        kids: dict[Optional[str], list[DatasetVersion]] = {}
        for v in versions:
            kids.setdefault(v.parent_id if v.parent_id in ids else None, []).append(v)
        entries: list[LineageEntry] = []

        def walk(parent: Optional[str], depth: int) -> None:
            for v in kids.get(parent, []):
                entries.append(LineageEntry(v, depth, describe(v)))
                walk(v.id, depth + 1)

        walk(None, 0)
        out.append(DatasetLineage(dataset, entries))
    return out
