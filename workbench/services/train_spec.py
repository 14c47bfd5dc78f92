"""What a training child is told besides the settings: its evaluation data and provenance.

The child never opens the project store, so the run's facts it records in every adapter
(dataset version and hash, split seed, base-model fingerprint, author) are looked up here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

from workbench.core.records import BaseModel, DatasetVersion

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
