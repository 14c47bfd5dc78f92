"""What the Train page offers: the base models and the dataset versions to train on, in the
order a user picks them, and the settings a new run starts from.

A few indexed SQLite reads, no dataset scan: the page calls these on refresh in the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from workbench.core.errors import WorkbenchError
from workbench.core.records import BaseModel, DatasetVersion, Run, TrainConfig
from workbench.core.train_config import ConfigFile

if TYPE_CHECKING:  # importing this module must not load sqlite-utils (the pages import it early)
    from workbench.store import ProjectStore

_PART_ORDER = {"train": 0, "validation": 1, "test": 2}
HELD_OUT_PARTS = ("validation", "test")  # a split's parts that are not for training


@dataclass(frozen=True)
class TrainChoices:
    models: list[BaseModel]  # in the order they were added
    # Newest first, a split's parts together in the order train, validation, test.
    versions: list[DatasetVersion]
    titles: dict[str, str]  # version id -> how pickers name it (services.dataset_ops.version_titles)
    default_version_id: Optional[str]  # the newest version that is not held out
    # A split's train part -> its validation part (what "evaluate every N steps" runs on).
    validation_parts: dict[str, DatasetVersion] = field(default_factory=dict)
    # Runs whose adapter a new run can start from (newest first): they saved one.
    adapter_runs: list[Run] = field(default_factory=list)

    def start_runs(self, model_id: Optional[str]) -> list[Run]:
        """The runs of `model_id` a new run can continue from (an adapter fits only its base model)."""
        return [r for r in self.adapter_runs if r.base_model_id == model_id]

    def version(self, version_id: Optional[str]) -> Optional[DatasetVersion]:
        return next((v for v in self.versions if v.id == version_id), None)

    def train_part_of(self, version: DatasetVersion) -> Optional[DatasetVersion]:
        """The train part of the split `version` belongs to (None if it is not a split part)."""
        split = version.derivation.split_id
        if not split:
            return None
        return next((v for v in self.versions
                     if v.derivation.split_id == split and v.derivation.part == "train"), None)


def train_choices(store: "ProjectStore") -> TrainChoices:
    from workbench.services.dataset_ops import version_titles
    from workbench.services.train_spec import validation_part

    versions = store.list_versions()  # newest first
    titles = version_titles(store, versions)
    made: dict[str, str] = {}  # a split's newest part dates the whole split
    for v in versions:
        group = v.derivation.split_id or v.id
        made[group] = max(made.get(group, ""), v.created_at)
    versions.sort(key=lambda v: _PART_ORDER.get(v.derivation.part, 0))
    versions.sort(key=lambda v: made[v.derivation.split_id or v.id], reverse=True)
    default = next((v.id for v in versions if v.derivation.part not in HELD_OUT_PARTS), None)
    validation = {}
    for v in versions:
        part = validation_part(store, v)
        if part is not None:
            validation[v.id] = part
    return TrainChoices(store.list_base_models(), versions, titles, default, validation, adapter_runs(store))


def adapter_runs(store: "ProjectStore") -> list[Run]:
    """The runs that saved an adapter a new run can start from, newest first."""
    return [r for r in store.list_runs() if r.adapter_path and r.status in ("completed", "cancelled")]


def last_settings(store: "ProjectStore") -> TrainConfig:
    """The newest run's settings (iterating is the common case), else the defaults."""
    runs = store.list_runs()
    return runs[0].train_config if runs else TrainConfig()


@dataclass(frozen=True)
class FileChoices:
    """What a loaded config file names, found in this project (None: not named or not found)."""

    model_id: Optional[str]
    version_id: Optional[str]
    notes: list[str]  # what was named but is not in this project


def resolve_file_choices(store: "ProjectStore", config_file: ConfigFile) -> FileChoices:
    """The base model and dataset version a config file names, looked up like the CLI does."""
    from workbench.services import lookup

    model_id = version_id = None
    notes = []
    if config_file.base_model:
        try:
            model_id = lookup.find_model(store, config_file.base_model).id
        except WorkbenchError:
            notes.append(f"base model {config_file.base_model!r} it names is not in this project")
    if config_file.dataset:
        try:
            version_id = lookup.find_version(store, config_file.dataset).id
        except WorkbenchError:
            notes.append(f"dataset {config_file.dataset!r} it names is not in this project")
    return FileChoices(model_id, version_id, notes)
