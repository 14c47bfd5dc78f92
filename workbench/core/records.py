"""Typed records exchanged between layers. Plain dataclasses: the store maps them to rows."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, NamedTuple, Optional

# The training configuration lives in its own module; re-exported here beside the other records.
from workbench.core.train_config import DEFAULT_MAX_LENGTH, MIN_MAX_LENGTH, TrainConfig  # noqa: F401


def _epoch_s(iso: Optional[str]) -> Optional[float]:
    """Epoch seconds of a stored timestamp (clock.now_iso's ISO 8601); None if absent or unreadable."""
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:  # now_iso writes UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


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
    kind: str = "sft"  # core.chat_records.DATASET_KINDS: conversations, or preference pairs

    @property
    def derivation(self) -> "Derivation":
        return Derivation.of(self.options, has_parent=self.parent_id is not None)


# The roles of a conversation's messages, in the order a system prompt, a user turn and an
# assistant reply come. Every layer checks roles against this one list.
ROLES = ("system", "user", "assistant")
# A tool's result (tool-calling conversations, workbench.core.tool_calls): a message role, but
# not a column a mapping maps nor a turn a chat user types, so it stays out of ROLES.
TOOL_ROLE = "tool"
MESSAGE_ROLES = (*ROLES, TOOL_ROLE)

SPLIT_PARTS = ("train", "validation", "test")
# What each cleaning operation did, as a label says it (workbench.data.ops.clean_params names them).
CLEAN_RESULTS = {
    "exact_dedup": "exact duplicates removed",
    "near_dedup": "near duplicates removed",
    "empty": "empty rows removed",
    "length": "filtered by length",
    "pii": "personal data scrubbed",
}


@dataclass(frozen=True)
class Derivation:
    """How a dataset version was made: the one typed reading of DatasetVersion.options.

    The options dict is what the writers recorded (the importer, dataset_ops.apply_clean,
    dataset_ops.make_split, a plugin's transform); everything that shows or tests how a version
    was made reads it through this record.
    """

    operation: str  # "import", "clean", "split", or "derived" (a writer this reading does not know)
    op: str = ""  # clean: exact_dedup, near_dedup, empty, length, pii
    params: Optional[dict[str, Any]] = None  # clean: the operation's resolved parameters
    part: str = ""  # split: train, validation or test
    split_id: str = ""
    ratios: Optional[dict[str, float]] = None  # split by ratios ...
    counts: Optional[dict[str, int]] = None  # ... or by row counts
    seed: Optional[int] = None
    stratify_by: Optional[str] = None
    removed: int = 0  # clean: rows removed
    changed: int = 0  # clean: rows changed
    mapped: bool = False  # import: read through a column mapping
    skipped_rows: int = 0  # import: invalid rows left out

    @classmethod
    def of(cls, options: Optional[Mapping[str, Any]], has_parent: bool = False) -> "Derivation":
        o = options or {}
        operation = o.get("operation")
        if operation == "split" and o.get("split") in SPLIT_PARTS:
            return cls("split", part=str(o["split"]), split_id=str(o.get("split_id") or ""),
                       ratios=o.get("ratios"), counts=o.get("counts"), seed=o.get("seed"),
                       stratify_by=o.get("stratify_by") or None)
        if operation == "clean":
            c = o.get("counts") or {}
            return cls("clean", op=str(o.get("op") or ""), params=o.get("params"), removed=int(c.get("removed", 0) or 0),
                       changed=int(c.get("changed", 0) or 0))
        if not has_parent:  # the importer (or a plugin adding data) records no operation
            return cls("import", mapped=bool(o.get("mapping")), skipped_rows=int(o.get("skipped_rows") or 0))
        return cls("derived")

    @property
    def is_test_part(self) -> bool:
        return self.operation == "split" and self.part == "test"

    @property
    def label(self) -> str:
        """One word or two: train, validation, test, cleaned, imported, imported (mapped), derived."""
        if self.operation == "split":
            return self.part
        if self.operation == "clean":
            return "cleaned"
        if self.operation == "import":
            return "imported (mapped)" if self.mapped else "imported"
        return "derived"

    def from_parent(self, parent: Optional[str]) -> str:
        """The label with where it came from: "test part of split of v2",
        "cleaned from v1 (exact duplicates removed)"; `parent` names the parent version."""
        of = parent or "an earlier version"
        if self.operation == "split":
            return f"{self.part} part of split of {of}"
        if self.operation == "clean":
            done = CLEAN_RESULTS.get(self.op, self.op)
            return f"cleaned from {of}" + (f" ({done})" if done else "")
        if self.operation == "import" or parent is None:
            return self.label
        return f"derived from {of}"


def version_numbers(versions: list[DatasetVersion]) -> dict[str, int]:
    """version id -> its number in its dataset (v1 is the oldest), in the order they were made."""
    numbers: dict[str, int] = {}
    seen: dict[str, int] = {}
    def order(v: DatasetVersion) -> tuple:  # a split's parts share a millisecond: train first
        part = v.derivation.part
        return v.created_at, SPLIT_PARTS.index(part) if part else 0, v.id

    for v in sorted(versions, key=order):
        seen[v.dataset_id] = seen.get(v.dataset_id, 0) + 1
        numbers[v.id] = seen[v.dataset_id]
    return numbers


def version_title(dataset_name: str, version: DatasetVersion, numbers: Mapping[str, int]) -> str:
    """How every dataset picker names a version:
    "alpaca_en_demo v5 · test part of split of v2 · 98 rows"."""
    number = numbers.get(version.id)
    parent = numbers.get(version.parent_id or "")
    how = version.derivation.from_parent(f"v{parent}" if parent else None)
    head = f"{dataset_name} v{number}" if number else dataset_name
    return f"{head} · {how} · {version.row_count:,} rows"


@dataclass(frozen=True)
class BaseModel:
    """A base model the project can train on: a local Hugging Face folder."""

    id: str
    name: str
    kind: str  # "tiny" (built offline), "smollm2" (converted from GGUF), "hf_folder"
    path: str  # absolute path of the HF folder on this machine
    # core.hashing.model_fingerprint: 'sha256:' over config.json and the weight files' names and
    # bytes, the same on any machine, so a teammate resolves the model by it (fingerprint_matches;
    # folders added before issue 7 hold an older bare-hex value that still matches).
    fingerprint: str
    created_at: str
    created_by: str


# Run statuses. "completed" needs exit 0 plus the adapter on disk; "interrupted" means the
# process died (or its heartbeat went stale) and the run can be resumed from a checkpoint.
RUN_STATUSES = ("queued", "running", "completed", "cancelled", "failed", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
# Ended without finishing: such a run can continue if it left a checkpoint (services.runs.resume_check).
RESUMABLE_STATUSES = ("interrupted", "cancelled", "failed")
# Ended with an adapter that chat can load (a cancelled run saves the adapter it has so far).
CHATTABLE_STATUSES = ("completed", "cancelled")


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
    queue_position: Optional[int] = None  # its place in the run queue (waiting, or run by the queue)
    failure_kind: Optional[str] = None  # why it failed or was interrupted: a key of core.failures.FAILURE_LABELS
    # What the Runs table and the comparison show, kept current by ingest (no metric scans).
    best_loss: Optional[float] = None  # the lowest train loss logged
    best_eval_loss: Optional[float] = None
    last_eval_loss: Optional[float] = None
    tokens_per_s: Optional[float] = None  # the latest live throughput; the run's overall once it ended
    peak_memory_bytes: Optional[int] = None  # the highest memory measured (live or at the end)
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    init_run_id: Optional[str] = None  # the run whose adapter this one started from (e.g. SFT before DPO)

    @property
    def train_config(self) -> TrainConfig:
        return from_dict(TrainConfig, self.config)

    def duration_s(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds from its start to its end (or to `now`, epoch seconds, default the clock's
        time, while it has not ended); None before it started."""
        start = _epoch_s(self.started_at)
        if start is None:
            return None
        end = _epoch_s(self.finished_at)
        if end is None:
            end = time.time() if now is None else now
        return max(0.0, end - start)

    @property
    def error_message(self) -> str:
        """The error as a user reads it (older projects stored "message [bad_data]")."""
        text = self.error or ""
        for kind in ("oom", "bad_data", "bad_config"):
            text = text.removesuffix(f" [{kind}]")
        return text


class MetricRow(NamedTuple):
    """One metric point as a `log` event reported it (idempotent by the event's seq): what the
    store keeps and the poller hands to the charts."""

    seq: int
    step: int
    name: str
    value: float
    t: float = 0.0  # the event's wall time, epoch seconds (0.0: unknown)


@dataclass(frozen=True)
class RunSegment:
    """One stretch of a run's training process: started (index 0) or resumed from a checkpoint
    at `start_step`, until it stopped (`end_status`: completed, cancelled, failed, interrupted)."""

    run_id: str
    idx: int
    started_at: str
    start_step: int
    ended_at: Optional[str] = None  # None while it runs
    end_step: Optional[int] = None
    end_status: Optional[str] = None
    reason: Optional[str] = None  # why it stopped, when it did not complete (first line of the error)
    start_seq: int = 0  # its events have seq > start_seq
    journal_start: int = 0  # and begin at this byte of the run's journal
    note: Optional[str] = None  # what changed as it started, e.g. a smaller batch after out of memory


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
