"""The Evaluate page's work for worker threads (ui.common.workers.run_task): every read of the
store, every comparison (bootstrap over items), rating, suite making and export. Each is a
plain function of the store or the EvalManager; nothing here touches a widget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from workbench.core.eval_records import EvalModel, EvalRun, EvalSuite
    from workbench.services.eval_compare import Comparison
    from workbench.services.eval_views import RatingsView, SuiteView
    from workbench.ui.evaluate.suite_dialog import SuiteRequest


@dataclass(frozen=True)
class Listing:
    """What the page lists: the suites (latest versions) and the models a suite can run on."""

    suites: list[Any]  # services.eval_views.SuiteRow
    models: list["EvalModel"]
    titles: dict[str, tuple[str, bool]]  # metric name -> (title, higher is better)


def listing(store: Any, progress=None, cancel=None) -> Listing:
    from workbench.services import eval_runs, eval_views

    titles = {m.name: (m.title, m.higher_is_better) for m in eval_views.metric_choices()}
    return Listing(eval_views.suite_rows(store), eval_runs.model_choices(store), titles)


def suite(store: Any, suite_id: str, progress=None, cancel=None) -> "SuiteView":
    from workbench.services import eval_views

    return eval_views.suite_view(store, suite_id)


def dialog_choices(store: Any, suite_id: Optional[str] = None, progress=None, cancel=None):
    """(SuiteChoices, the suite to edit or None, its items)."""
    from workbench.services import eval_views

    choices = eval_views.suite_choices(store)
    if suite_id is None:
        return choices, None, []
    return choices, eval_views.suite_view(store, suite_id).suite, eval_views.suite_items(store, suite_id)


def make_suite(store: Any, request: "SuiteRequest", progress=None, cancel=None) -> "EvalSuite":
    from workbench.services import eval_suites

    if request.edit_of is not None:
        items = request.items if request.source == "hand" else None
        return eval_suites.edit_suite(store, request.edit_of, items=items, metrics=request.metrics,
                                      generation=request.generation, name=request.name)
    if request.source == "hand":
        return eval_suites.suite_from_items(store, request.name, request.items, request.metrics, request.generation)
    return eval_suites.suite_from_version(store, request.version_id, request.name, request.metrics,
                                         request.generation, limit=request.limit, label_field=request.label_field)


def compare(store: Any, eval_run_ids: list[str], progress=None, cancel=None) -> "Comparison":
    from workbench.services import eval_compare

    return eval_compare.compare(store, eval_run_ids)


def pairs(comparison: "Comparison", a_id: str, b_id: str, progress=None, cancel=None) -> list:
    return comparison.pairs(a_id, b_id)


def ratings(store: Any, eval_run_id: str, progress=None, cancel=None) -> "RatingsView":
    from workbench.services import eval_views

    return eval_views.ratings_view(store, eval_run_id)


def rate(store: Any, eval_run_id: str, item_id: str, value: float, scale: str, comment: str,
         progress=None, cancel=None) -> "RatingsView":
    """Record the rating, then what the page shows of the run's ratings and the judge's agreement."""
    from workbench.services import eval_ratings, eval_views

    eval_ratings.rate(store, eval_run_id, item_id, value, scale, comment)
    return eval_views.ratings_view(store, eval_run_id)


def start(ctx: Any, suite_id: str, models: list["EvalModel"], progress=None, cancel=None) -> list["EvalRun"]:
    """Queue the suite on each model (the adapters are snapshotted: file copies)."""
    return ctx.eval_manager().start(suite_id, models)


def cancel_eval(ctx: Any, eval_run_id: str, progress=None, cancel=None) -> None:
    ctx.eval_manager().cancel(eval_run_id)


def resume(ctx: Any, eval_run_id: str, progress=None, cancel=None) -> "EvalRun":
    return ctx.eval_manager().resume(eval_run_id)


def export(store: Any, eval_run_ids: list[str], path: str, progress=None, cancel=None) -> str:
    from workbench.services import eval_export

    return eval_export.export_results(store, eval_run_ids, path)
