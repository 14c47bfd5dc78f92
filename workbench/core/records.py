"""Typed records exchanged between layers. Plain dataclasses: the store maps them to rows."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional


def to_dict(record: Any) -> dict[str, Any]:
    return dataclasses.asdict(record)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build `cls` from a dict, ignoring keys the dataclass does not know (newer writers)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    path: str
    created_at: str
    created_by: str


@dataclass(frozen=True)
class Dataset:
    id: str
    name: str
    created_at: str
    created_by: str


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable snapshot of a dataset, stored as a Parquet blob named by its content hash.

    Rows are normalised to a `messages` column (JSON list of {role, content}) plus the
    original row (`source` column, JSON) for lineage.
    """

    id: str
    dataset_id: str
    content_hash: str
    blob_path: str  # relative to the project folder
    row_count: int
    format: str  # detected input format: openai_messages, alpaca, prompt_completion, ...
    source_name: str
    source_size: int
    source_hash: str
    options: dict[str, Any]
    parent_id: Optional[str]
    created_at: str
    created_by: str


@dataclass(frozen=True)
class BaseModel:
    """A base model the project can train on: a local Hugging Face folder."""

    id: str
    name: str
    kind: str  # "tiny" (built offline), "smollm2" (converted from GGUF), "hf_folder"
    path: str  # absolute path of the HF folder on this machine
    fingerprint: str  # hash of config + weights index, so a teammate can resolve it
    created_at: str
    created_by: str


@dataclass(frozen=True)
class TrainConfig:
    """LoRA fine-tuning options. max_steps > 0 overrides epochs."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    learning_rate: float = 2e-4
    epochs: float = 1.0
    max_steps: int = 0
    batch_size: int = 4
    max_length: int = 256
    seed: int = 42
    target_modules: Optional[list[str]] = None  # None: the engine picks for the architecture
    save_steps: int = 0  # 0: checkpoint only at the end

    def validate(self) -> list[str]:
        """Problems a user must fix before a run can start (empty when valid)."""
        problems = []
        if self.r < 1:
            problems.append("LoRA rank r must be at least 1.")
        if self.alpha < 1:
            problems.append("LoRA alpha must be at least 1.")
        if not 0.0 <= self.dropout < 1.0:
            problems.append("LoRA dropout must be in [0, 1).")
        if not 0.0 < self.learning_rate < 1.0:
            problems.append("Learning rate must be between 0 and 1 (typical: 1e-4 to 5e-4).")
        if self.max_steps <= 0 and self.epochs <= 0:
            problems.append("Set a number of epochs or a maximum number of steps.")
        if self.batch_size < 1:
            problems.append("Batch size must be at least 1.")
        if self.max_length < 8:
            problems.append("Max length must be at least 8 tokens.")
        return problems


# Run statuses. "completed" needs exit 0 plus the adapter on disk; "interrupted" means the
# process died (or its heartbeat went stale) and the run can be resumed from a checkpoint.
RUN_STATUSES = ("queued", "running", "completed", "cancelled", "failed", "interrupted")
ACTIVE_STATUSES = ("queued", "running")


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    dataset_version_id: str
    base_model_id: str
    config: dict[str, Any]
    status: str
    work_dir: str  # relative to the project folder
    created_at: str
    created_by: str
    pid: Optional[int] = None
    adapter_path: Optional[str] = None  # relative to the project folder
    progress: float = 0.0
    step: int = 0
    total_steps: int = 0
    first_loss: Optional[float] = None
    last_loss: Optional[float] = None
    seed: Optional[int] = None
    environment: dict[str, Any] = field(default_factory=dict)  # library versions, device
    error: Optional[str] = None
    error_advice: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    last_event_at: Optional[str] = None

    @property
    def train_config(self) -> TrainConfig:
        return from_dict(TrainConfig, self.config)


@dataclass(frozen=True)
class MetricPoint:
    run_id: str
    seq: int
    step: int
    name: str
    value: float


@dataclass(frozen=True)
class ChatSession:
    id: str
    title: str
    base_model_id: str
    run_id: Optional[str]
    created_at: str
    created_by: str


@dataclass(frozen=True)
class ChatMessage:
    id: str
    session_id: str
    idx: int
    role: str
    content: str
    created_at: str
    created_by: str


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)
