"""What the Evaluate page shows, read from the project as typed records (the UI never queries the
store itself): the suites, one suite with its eval runs, the choices the New Suite dialog offers,
an eval run's latest record (the poller), and the ratings of an eval run with the judge's
agreement. Some of these read a suite's items or every dataset version: call them from a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalItem, EvalRun, EvalSuite, Rating

if TYPE_CHECKING:  # importing this module must not load sqlite-utils (the page imports it early)
    from workbench.store import ProjectStore


@dataclass(frozen=True)
class SuiteRow:
    """One suite in the page's list: its latest version and how many eval runs it has."""

    suite: EvalSuite
    versions: int
    eval_runs: int


@dataclass(frozen=True)
class SuiteView:
    """One suite version as the page shows it: its eval runs (newest first), the note on the
    metrics it cannot compute, and the judge's rating scale (None: no judge)."""

    suite: EvalSuite
    eval_runs: list[EvalRun]
    note: Optional[str]
    judge_scale: Optional[str]
    versions: list[EvalSuite] = field(default_factory=list)  # every version of its lineage, oldest first


@dataclass(frozen=True)
class MetricChoice:
    name: str
    title: str
    description: str
    needs_references: bool
    higher_is_better: bool


@dataclass(frozen=True)
class SuiteChoices:
    """What the New Suite dialog offers: dataset versions (the split test parts first), the
    metrics of the registry, base models for the judge, and the judge's default rubric."""

    test_versions: list[tuple[str, str]]  # (version id, title)
    versions: list[tuple[str, str]]
    metrics: list[MetricChoice]
    judge_models: list[tuple[str, str]]  # (base model id, name)
    default_rubric: str


@dataclass(frozen=True)
class RatingsView:
    """An eval run's ratings (the latest per rater and item) and, when its suite has a judge, how
    far the judge agrees with them (overall and per rater)."""

    eval_run_id: str
    ratings: list[Rating]
    agreement: Any = None  # workbench.evaluation.agreement.Agreement, or None (no judge)
    by_rater: dict[str, Any] = field(default_factory=dict)
    why_none: str = ""  # why there is no agreement


def metric_choices() -> list[MetricChoice]:
    """Every metric a suite can compute (the reference-free ones included)."""
    from workbench.evaluation import registry

    return [MetricChoice(m.name, m.title, m.description, m.needs_references, m.higher_is_better)
            for m in registry.available(True)]


def suite_rows(store: "ProjectStore") -> list[SuiteRow]:
    """Every suite (its latest version), newest first."""
    suites = store.list_suites(latest_only=True)
    counts: dict[str, int] = {}
    for run in store.list_eval_runs():
        counts[run.suite_id] = counts.get(run.suite_id, 0) + 1
    rows = []
    for suite in suites:
        versions = store.suite_versions(suite.lineage_id)
        rows.append(SuiteRow(suite, len(versions), sum(counts.get(v.id, 0) for v in versions)))
    return sorted(rows, key=lambda r: r.suite.created_at, reverse=True)


def suite_view(store: "ProjectStore", suite_id: str) -> SuiteView:
    from workbench.services.eval_ratings import judge_scale
    from workbench.services.eval_suites import references_note

    suite = store.get_suite(suite_id)
    runs = sorted(store.list_eval_runs(suite_id=suite_id), key=lambda r: r.created_at, reverse=True)
    return SuiteView(suite, runs, references_note(suite, store), judge_scale(suite),
                     store.suite_versions(suite.lineage_id))


def suite_items(store: "ProjectStore", suite_id: str) -> list[EvalItem]:
    return store.suite_items(suite_id)


def suite_choices(store: "ProjectStore") -> SuiteChoices:
    from workbench.evaluation.judge import DEFAULT_RUBRIC
    from workbench.services.dataset_ops import version_titles
    from workbench.services.eval_suites import test_part_versions

    versions = sorted(store.list_versions(), key=lambda v: v.created_at, reverse=True)
    titles = version_titles(store, versions)
    tests = {v.id for v in test_part_versions(store)}
    return SuiteChoices(
        test_versions=[(v.id, titles.get(v.id, v.id)) for v in versions if v.id in tests],
        versions=[(v.id, titles.get(v.id, v.id)) for v in versions],
        metrics=metric_choices(),
        judge_models=[(m.id, m.name) for m in store.list_base_models()],
        default_rubric=DEFAULT_RUBRIC)


def current_eval_run(store: "ProjectStore", eval_run_id: str) -> EvalRun:
    """An eval run's latest record (one indexed read)."""
    return store.get_eval_run(eval_run_id)


def ratings_view(store: "ProjectStore", eval_run_id: str) -> RatingsView:
    from workbench.services import eval_ratings

    ratings = eval_ratings.ratings(store, eval_run_id)
    suite = store.get_suite(store.get_eval_run(eval_run_id).suite_id)
    if eval_ratings.judge_scale(suite) is None:
        return RatingsView(eval_run_id, ratings, why_none=f"Suite {suite.title} has no judge metric: add one "
                           "(Edit Suite makes a new version) to see how far a local judge agrees with your ratings.")
    try:
        agreement = eval_ratings.judge_agreement(store, eval_run_id)
        by_rater = eval_ratings.agreement_by_rater(store, eval_run_id)
    except WorkbenchError as exc:
        return RatingsView(eval_run_id, ratings, why_none=exc.user_message)
    return RatingsView(eval_run_id, ratings, agreement, by_rater)
