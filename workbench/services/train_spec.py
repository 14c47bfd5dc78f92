"""What a training child is told besides the settings: its evaluation data and provenance.

The child never opens the project store, so the run's facts it records in every adapter
(dataset version and hash, split seed, base-model fingerprint, author) are looked up here.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Optional

from workbench.core.errors import WorkbenchError
from workbench.core.records import BaseModel, DatasetVersion, TrainConfig
from workbench.core.train_config import METHOD_NAMES
from workbench.services.dataset_ops import title_of

# Tokenised examples by (data, tokenizer, max length, loss mode): local, never shared in bundles.
TOKEN_CACHE = "cache/tokens"

if TYPE_CHECKING:
    from workbench.store import ProjectStore


def validation_part(store: "ProjectStore", version: DatasetVersion) -> Optional[DatasetVersion]:
    """The validation part of the split `version` is the train part of (None otherwise)."""
    d = version.derivation
    if not d.split_id or d.part != "train":
        return None
    return next((v for v in store.list_versions(version.dataset_id)
                 if v.derivation.split_id == d.split_id and v.derivation.part == "validation"
                 and v.row_count > 0), None)


def previous_nproc(spec_path: str) -> int:
    """How many training processes the run's last spec asked for (1 when there is none)."""
    try:
        with open(spec_path, encoding="utf-8") as f:
            return max(1, int(json.load(f).get("nproc") or 1))
    except (OSError, ValueError, TypeError, AttributeError):
        return 1


def spec_fields(store: "ProjectStore", version: DatasetVersion, model: BaseModel) -> dict[str, Any]:
    """The TrainSpec fields besides paths and settings."""
    val = validation_part(store, version)
    return {
        "eval_dataset_path": store.abspath(val.blob_path) if val else None,
        "dataset_version_id": version.id,
        "dataset_hash": version.content_hash,
        "split_seed": version.derivation.seed if version.derivation.split_id else None,
        "base_model_fingerprint": model.fingerprint,
        "author": store.user,
        "cache_dir": store.abspath(TOKEN_CACHE),
    }


def check_method(store: "ProjectStore", version: DatasetVersion, model: BaseModel, config: TrainConfig,
                 init_run_id: Optional[str]) -> None:
    """A preference method needs a preference version; a start run must have an adapter of the
    same base model. (SFT on a preference version trains on the chosen replies.)"""
    if config.is_preference and version.kind != "preference":
        method = METHOD_NAMES.get(config.method, config.method)
        raise WorkbenchError(
            f"{method} trains on preference pairs, but {title_of(store, version)} is an SFT version "
            "(conversations without rejected replies).",
            advice="Pick a preference version (import pairs with chosen and rejected replies, or make one "
                   "from chat feedback), or train this version with SFT.")
    if init_run_id:
        init_adapter_path(store, init_run_id, model)


def init_adapter_path(store: "ProjectStore", init_run_id: Optional[str], model: BaseModel) -> Optional[str]:
    """The adapter folder of the run a new run starts from (None: a new adapter)."""
    if not init_run_id:
        return None
    try:
        init = store.get_run(init_run_id)
    except WorkbenchError as exc:
        raise WorkbenchError(f"The run to start from ({init_run_id[:8]}) is not in this project.",
                             advice="Pick one of this project's finished runs, or start from the base model.") from exc
    if init.base_model_id != model.id:
        raise WorkbenchError(f"Run {init.name} trained another base model, so its adapter cannot start this run.",
                             advice="Pick a run of the same base model, or start from the base model.")
    path = store.abspath(init.adapter_path) if init.adapter_path else None
    if not path or not os.path.isfile(os.path.join(path, "adapter_config.json")):
        raise WorkbenchError(f"Run {init.name} has no saved adapter to start from (it is {init.status}).",
                             advice="Pick a completed run, or start from the base model.")
    return path
