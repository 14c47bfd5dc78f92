"""Cross-validation: k seeded folds of a dataset version, k adapters trained through the normal
run queue (fold i trains on every row not in fold i), each final adapter scored on its held-out
fold, and each metric reported as mean ± standard deviation across the folds.

A fold's train and test rows are derived versions of the dataset version (recorded as a split
with its own split id: asking for the same folds again reuses them), its held-out suite is
built from the test part, and its run carries a RunGate with no rules and the CV's id, so the
gate's reconcile (polled with the eval queue) scores the final adapter when the run completes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from workbench.core.clock import new_id
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import CrossValidation, EvalRun, EvalSuite, GenerationSettings, MetricSpec
from workbench.core.records import DatasetVersion, TrainConfig
from workbench.store import ProjectStore

if TYPE_CHECKING:
    import numpy as np

    from workbench.services.runs import RunManager

FOLD_ALGORITHM = 1  # part of each fold's split id: a change of how folds are drawn is a new split


def fold_assignment(n: int, k: int, seed: int) -> "np.ndarray":
    """The fold (0..k-1) of each of `n` rows: a seeded permutation cut into k near-equal parts."""
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(seed))
    folds = np.empty(n, dtype=np.int32)
    for i, members in enumerate(np.array_split(rng.permutation(n), k)):
        folds[members] = i
    return folds


def fold_split_id(parent_content_hash: str, k: int, seed: int, fold: int) -> str:
    text = json.dumps({"parent": parent_content_hash, "cross_validation": FOLD_ALGORITHM, "k": k, "seed": seed,
                       "fold": fold}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def fold_versions(store: ProjectStore, version_id: str, k: int, seed: int) -> list[dict[str, DatasetVersion]]:
    """Fold i -> {"train": rows not in fold i, "test": fold i's rows}, rows in their original
    order; versions made before for the same (version, k, seed) are reused."""
    from workbench.data.storage.rowio import VersionWriter, iter_rows
    from workbench.services.dataset_ops import DATASET_BLOBS, _add_derived

    parent = store.get_version(version_id)
    ids = [fold_split_id(parent.content_hash, k, seed, i) for i in range(k)]
    children = [v for v in store.list_versions(parent.dataset_id) if v.parent_id == parent.id]
    existing = {(v.derivation.split_id, v.derivation.part): v for v in children}
    if all((sid, part) in existing for sid in ids for part in ("train", "test")):
        return [{part: existing[(sid, part)] for part in ("train", "test")} for sid in ids]
    folds = fold_assignment(parent.row_count, k, seed)
    dest = store.abspath(DATASET_BLOBS)
    writers = [{"train": VersionWriter(dest), "test": VersionWriter(dest)} for _ in range(k)]
    try:
        for row in iter_rows(store.abspath(parent.blob_path)):
            held_out = int(folds[row.index])
            for i in range(k):
                writers[i]["test" if i == held_out else "train"].add(row)
        blobs = [{part: w.commit() for part, w in pair.items()} for pair in writers]
    except BaseException:
        for pair in writers:
            for w in pair.values():
                w.discard()
        raise
    out = []
    for i, sid in enumerate(ids):
        sizes = {"train": blobs[i]["train"].row_count, "validation": 0, "test": blobs[i]["test"].row_count}
        made = {}
        for part in ("train", "test"):
            made[part] = existing.get((sid, part)) or _add_derived(store, parent, blobs[i][part], {
                "operation": "split", "split": part, "split_id": sid, "ratios": None,
                "counts": {"train": sizes["train"], "test": sizes["test"]}, "seed": int(seed), "stratify_by": None,
                "sizes": sizes, "cross_validation": {"k": k, "fold": i, "algorithm": FOLD_ALGORITHM}})
        out.append(made)
    return out


def _fold_suite(store: ProjectStore, test: DatasetVersion, name: str, metrics: list[MetricSpec],
                generation: GenerationSettings, label_field: Optional[str], fold: dict[str, Any]) -> EvalSuite:
    """The held-out suite of one fold: its test rows cut into prompt and reference (as a suite
    of any version is), kind "cv_fold"."""
    from workbench.data import read_rows
    from workbench.services import eval_suites
    from workbench.services.dataset_ops import title_of

    items, skipped = eval_suites.items_from_rows(read_rows(store.abspath(test.blob_path), 0, test.row_count),
                                                 label_field)
    if not items:
        raise WorkbenchError(f"No row of fold {fold['fold'] + 1} has a prompt, so its suite would be empty.",
                             advice="Choose a version whose conversations have a user turn before the reply.")
    source = {**fold, "dataset_version_id": test.id, "dataset_id": test.dataset_id, "dataset_hash": test.content_hash,
              "rows": len(items), "skipped_rows": skipped, "label_field": label_field}
    return eval_suites.suite_from_items(store, name, items, metrics, generation, description=title_of(store, test),
                                        kind="cv_fold", source=source)


def start_cv(store: ProjectStore, run_manager: "RunManager", version_id: str, base_model_id: str,
             config: Union[TrainConfig, dict[str, Any]], k: int, seed: int, metrics: list[MetricSpec],
             generation: GenerationSettings = GenerationSettings(), name: Optional[str] = None,
             label_field: Optional[str] = None) -> CrossValidation:
    """Queue a k-fold cross-validation: k training runs named cv-NAME-fold-1..k (fold i of the
    record is run_ids[i] and suite_ids[i], 0-based), each scored on its held-out fold."""
    from workbench.services import eval_gate, run_queue

    cfg = config if isinstance(config, TrainConfig) else TrainConfig(**config)
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise WorkbenchError(f"Cross-validation needs k of 2 or more folds, not {k!r}.", advice="5 is usual.")
    problems = cfg.validate()
    if problems:
        raise WorkbenchError("The training settings need fixing.", details="\n".join(problems), advice=problems[0])
    version = store.get_version(version_id)
    store.get_base_model(base_model_id)
    if version.row_count < k:
        raise WorkbenchError(f"The dataset version has {version.row_count} rows: too few for {k} folds.",
                             advice="Use fewer folds, or a version with at least one row per fold.")
    if not metrics:
        raise WorkbenchError("Pick at least one metric to score the folds with.")
    name = (name or "").strip() or f"{store.dataset_name(version.dataset_id)}-{len(store.list_cross_validations()) + 1}"
    cv_id = new_id()
    parts = fold_versions(store, version_id, k, seed)
    suites = [_fold_suite(store, p["test"], f"cv-{name}-fold-{i + 1}", list(metrics), generation, label_field,
                          {"cv_id": cv_id, "fold": i, "k": k, "seed": int(seed), "parent_version_id": version_id})
              for i, p in enumerate(parts)]
    runs = []
    try:
        for i, p in enumerate(parts):
            run = run_manager.enqueue(p["train"].id, base_model_id, cfg, name=f"cv-{name}-fold-{i + 1}")
            runs.append(run)
            eval_gate.attach_gate(store, run.id, suites[i].id, [], every_checkpoint=False, cv_id=cv_id, fold=i)
    except BaseException:
        for run in runs:  # no half cross-validation left in the queue
            if store.get_run(run.id).status == "queued":
                run_queue.remove(store, run.id)
        raise
    return store.add_cross_validation(name, version_id, base_model_id, k, int(seed), dataclasses.asdict(cfg),
                                      list(metrics), generation, [r.id for r in runs], [s.id for s in suites],
                                      cv_id=cv_id)


@dataclass(frozen=True)
class MetricCV:
    metric: str
    mean: Optional[float]  # over the folds done
    std: Optional[float]  # sample standard deviation (ddof 1); None with fewer than 2 folds
    values: list[Optional[float]]  # fold i's value (None: not scored yet)

    @property
    def n(self) -> int:
        return sum(v is not None for v in self.values)

    def describe(self) -> str:
        if self.mean is None:
            return f"{self.metric}: no fold scored yet"
        spread = f" ± {self.std:.4g}" if self.std is not None else ""
        return f"{self.metric}: {self.mean:.4g}{spread} ({self.n} of {len(self.values)} folds)"


@dataclass(frozen=True)
class FoldStatus:
    fold: int
    run_id: str
    run_name: str
    run_status: str
    eval_run_id: Optional[str]
    eval_status: Optional[str]
    state: str  # done | pending | failed
    message: str = ""


@dataclass(frozen=True)
class CVReport:
    cv: CrossValidation
    metrics: dict[str, MetricCV]
    folds: list[FoldStatus]
    done: list[int]  # fold numbers (0-based) scored
    pending: list[int]  # still training or being scored
    failed: list[int]  # their run or eval failed: left out of the mean
    message: str


def _fold(store: ProjectStore, cv: CrossValidation, i: int) -> tuple[FoldStatus, Optional[EvalRun]]:
    from workbench.services.eval_gate import final_eval

    run_id = cv.run_ids[i]
    try:
        run = store.get_run(run_id)
    except WorkbenchError:
        return FoldStatus(i, run_id, "(deleted)", "deleted", None, None, "failed", "Its run was deleted."), None
    ev = final_eval(store, run_id)
    if ev is not None and ev.suite_id != cv.suite_ids[i]:
        ev = None
    fold = dict(fold=i, run_id=run_id, run_name=run.name, run_status=run.status,
                eval_run_id=ev.id if ev else None, eval_status=ev.status if ev else None)
    if ev is not None and ev.status == "completed":
        return FoldStatus(**fold, state="done"), ev
    if run.status in ("failed", "cancelled", "interrupted") and ev is None:
        return FoldStatus(**fold, state="failed", message=f"Its run {run.status}{': ' + run.error if run.error else ''}."), None
    if ev is not None and ev.status in ("failed", "cancelled"):
        return FoldStatus(**fold, state="failed",
                          message=f"Its eval {ev.status}{': ' + ev.error if ev.error else ''}."), None
    return FoldStatus(**fold, state="pending", message="training" if run.status in ("queued", "running")
                      else "being scored"), None


def cv_report(store: ProjectStore, cv_id: str) -> CVReport:
    """Each metric's mean ± standard deviation over the folds scored so far, and every fold's state."""
    import numpy as np

    cv = store.get_cross_validation(cv_id)
    folds, values = [], {m.name: [] for m in cv.metrics}
    for i in range(cv.k):
        status, ev = _fold(store, cv, i)
        folds.append(status)
        for name, got in values.items():
            value = ev.summary.get(name) if ev is not None else None
            got.append(float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None)
    metrics = {}
    for name, got in values.items():
        known = np.array([v for v in got if v is not None], dtype=float)
        metrics[name] = MetricCV(name, float(known.mean()) if len(known) else None,
                                 float(known.std(ddof=1)) if len(known) >= 2 else None, got)
    done, pending, failed = ([f.fold for f in folds if f.state == s] for s in ("done", "pending", "failed"))
    tail = [f"{len(pending)} pending"] if pending else []
    tail += [f"{len(failed)} failed"] if failed else []
    message = f"{len(done)} of {cv.k} folds scored" + (f" ({', '.join(tail)})" if tail else "") + "."
    return CVReport(cv, metrics, folds, done, pending, failed, message)
