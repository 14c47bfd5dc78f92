"""Typed records of evaluation (issue 10): suites, their items, eval runs, per-item results,
people's ratings and a run's regression gate. Plain dataclasses: the store maps them to rows.

A suite is immutable: editing one writes a new version (same `lineage_id`, `version` + 1,
`parent_id` the version it came from). Every record has a UUID and created_at / created_by so a
teammate's project merges by id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

# Where a suite's items came from.
SUITE_SOURCES = ("test_split", "dataset_version", "hand", "cv_fold", "file")
# An eval run's statuses are a run's (core.records.RUN_STATUSES): queued, running, completed,
# cancelled, failed, interrupted. Why an eval run was made:
EVAL_PURPOSES = ("manual", "gate", "cv")
# Rating scales, for people and for the judge.
PASS_FAIL, SCALE_1_5 = "pass_fail", "1-5"
RATING_SCALES = (PASS_FAIL, SCALE_1_5)
# A model an eval run evaluates: its base model alone, or a run's adapter at a checkpoint.
BASE, FINAL, BEST = "base", "final", "best"  # checkpoint labels; else "checkpoint-N"


@dataclass(frozen=True)
class EvalItem:
    """One prompt of a suite: the conversation up to the reply the model must give, what a
    good reply says (zero or more references), an optional class label, and tags."""

    id: str  # stable within the suite's lineage (a new version keeps the ids of kept items)
    messages: list[dict[str, Any]]  # {role, content} ...; the last one is not the assistant's
    references: list[str] = field(default_factory=list)
    label: Optional[str] = None
    tags: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GenerationSettings:
    """How the eval child generates: greedy by default (temperature 0), seeded when sampling."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 16  # on a CPU, 16 rows a batch generate 4.5x the items/s of one at a time (bench_eval_generation)

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


@dataclass(frozen=True)
class MetricSpec:
    """One metric of a suite: a name in workbench.evaluation.registry, with its parameters
    (e.g. classification {"choices": [...]} or {"regex": "..."}; regex {"pattern": ...};
    judge {"model_id": ..., "rubric": ..., "scale": "pass_fail" | "1-5"})."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalSuite:
    id: str
    lineage_id: str  # shared by every version of the suite (the first version's id)
    name: str
    version: int  # 1, 2, ...
    parent_id: Optional[str]  # the version this one was edited from
    content_hash: str  # of items + metrics + generation (suite_hash): every eval run records it
    item_count: int
    metrics: list[MetricSpec]
    generation: GenerationSettings
    source: dict[str, Any]  # {"kind": one of SUITE_SOURCES, "dataset_version_id": ..., ...}
    created_at: str
    created_by: str
    description: str = ""

    @property
    def title(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def has_judge(self) -> bool:
        return any(m.name == "judge" for m in self.metrics)


@dataclass(frozen=True)
class EvalModel:
    """What an eval run evaluates: a base model, or a run's adapter at a checkpoint."""

    base_model_id: str
    run_id: Optional[str] = None
    checkpoint: str = BASE  # base | final | best | checkpoint-N
    step: Optional[int] = None
    label: str = ""  # as the user reads it: "tiny (base)", "run-3 · best (step 40)"

    @property
    def is_base(self) -> bool:
        return self.run_id is None


@dataclass(frozen=True)
class EvalRun:
    id: str
    suite_id: str
    suite_hash: str  # the suite's content hash when it ran
    model: EvalModel
    status: str  # core.records.RUN_STATUSES
    work_dir: str  # relative to the project folder: spec, journal, log, adapter snapshot
    created_at: str
    created_by: str
    purpose: str = "manual"  # EVAL_PURPOSES
    group_id: Optional[str] = None  # eval runs started together (side by side), or one CV
    done_items: int = 0
    failed_items: int = 0
    total_items: int = 0
    summary: dict[str, Any] = field(default_factory=dict)  # metric name -> corpus value, + "_details"
    judge_model_id: Optional[str] = None
    pid: Optional[int] = None
    error: Optional[str] = None
    error_advice: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None

    @property
    def label(self) -> str:
        return self.model.label


@dataclass(frozen=True)
class ItemResult:
    """One item's outcome in one eval run: the output (or the error that stopped it), the
    reference loss the child measured, the judge's verdict, and every metric's score."""

    eval_run_id: str
    item_id: str
    idx: int  # the item's position in the suite
    output: Optional[str]
    error: Optional[str] = None  # why this item has no output (the others still score)
    tokens: int = 0  # generated tokens
    seconds: float = 0.0
    finish_reason: str = ""  # stop | length
    ref_nll: Optional[float] = None  # summed negative log-likelihood of the first reference
    ref_tokens: Optional[int] = None  # its token count (loss = ref_nll / ref_tokens)
    judge_score: Optional[float] = None  # pass_fail: 1.0 / 0.0; 1-5: the score
    judge_reason: Optional[str] = None  # the judge's reasoning, as it wrote it
    judge_error: Optional[str] = None  # the judge output could not be parsed (kept raw in reason)
    scores: dict[str, Optional[float]] = field(default_factory=dict)  # metric name -> item score


@dataclass(frozen=True)
class Rating:
    """A person's rating of one item's output in one eval run."""

    id: str
    eval_run_id: str
    item_id: str
    scale: str  # RATING_SCALES
    value: float  # pass_fail: 1.0 pass / 0.0 fail; 1-5: the score
    comment: str
    rater: str
    created_at: str
    created_by: str


@dataclass(frozen=True)
class GateRule:
    """`metric` must be `op` the baseline: a number, or the base model's score on the suite
    ("base"), less `margin` (e.g. exact_match >= base - 0.02)."""

    metric: str
    op: str = ">="  # ">=" | "<=" (use "<=" for lower-is-better metrics like perplexity)
    baseline: Any = "base"  # "base" or a number
    margin: float = 0.0

    def describe(self) -> str:
        base = "the base model" if self.baseline == "base" else f"{self.baseline:g}"
        margin = f" - {self.margin:g}" if self.margin and self.op == ">=" else (
            f" + {self.margin:g}" if self.margin else "")
        return f"{self.metric} {self.op} {base}{margin}"


@dataclass(frozen=True)
class RunGate:
    """A suite attached to a training run: evaluated on each kept checkpoint (when
    `every_checkpoint`) and on the final adapter, judged against `rules`."""

    run_id: str
    suite_id: str
    rules: list[GateRule]
    every_checkpoint: bool
    created_at: str
    created_by: str
    cv_id: Optional[str] = None  # a cross-validation fold's run: its held-out fold is the suite
    fold: Optional[int] = None


def suite_hash(items: list[EvalItem], metrics: list[MetricSpec], generation: GenerationSettings) -> str:
    """The content hash of a suite: what its items ask and expect, what it measures and how it
    generates (names and versions are not part of it)."""
    payload = json.dumps({"items": [i.to_json() for i in items], "metrics": [asdict(m) for m in metrics],
                          "generation": asdict(generation)}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CrossValidation:
    """A k-fold run over a dataset version: k adapters trained through the normal queue, each
    scored on its held-out fold (a suite per fold, attached to its run as a RunGate)."""

    id: str
    name: str
    dataset_version_id: str
    base_model_id: str
    k: int
    seed: int
    config: dict[str, Any]  # the TrainConfig every fold trains with
    metrics: list[MetricSpec]
    generation: GenerationSettings
    run_ids: list[str]  # fold i's training run
    suite_ids: list[str]  # fold i's held-out suite
    created_at: str
    created_by: str
