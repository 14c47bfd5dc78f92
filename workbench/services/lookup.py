"""Resolve what a user typed (an id, an id prefix, a name or a built-in kind) to a record."""

from __future__ import annotations

from typing import Callable, Optional, Sequence, TypeVar

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalRun, EvalSuite
from workbench.core.records import BaseModel, DatasetVersion, Run
from workbench.store import ProjectStore

T = TypeVar("T")


def _pick(items: Sequence[T], query: str, keys: Callable[[T], list[str]], what: str) -> T:
    exact = [i for i in items if query in keys(i)]
    if exact:
        return exact[0]  # lists are newest first: a name means its newest record
    prefixed = [i for i in items if any(k.startswith(query) for k in keys(i)[:1])]
    if len(prefixed) == 1:
        return prefixed[0]
    known = ", ".join(sorted({keys(i)[1] if len(keys(i)) > 1 else keys(i)[0] for i in items})) or "none"
    raise WorkbenchError(f"No {what} matches '{query}'.", advice=f"Known: {known}.")


def find_version(store: ProjectStore, query: Optional[str]) -> DatasetVersion:
    # Newest first, but a dataset's name means its newest whole version, not one part of a split.
    versions = sorted(store.list_versions(), key=lambda v: v.derivation.operation == "split")
    if not versions:
        raise WorkbenchError("This project has no dataset yet.", advice="Import one first (workbench import FILE).")
    if not query:
        return versions[0]
    return _pick(versions, query, lambda v: [v.id, store.dataset_name(v.dataset_id)], "dataset")


def find_model(store: ProjectStore, query: str) -> BaseModel:
    return _pick(store.list_base_models(), query, lambda m: [m.id, m.name, m.kind], "base model")


def find_run(store: ProjectStore, query: str) -> Run:
    return _pick(store.list_runs(), query, lambda r: [r.id, r.name], "run")


def find_suite(store: ProjectStore, query: str) -> EvalSuite:
    """An eval suite by id (or prefix), "NAME vN", or name (its newest version)."""
    return _pick(store.list_suites(latest_only=False), query, lambda s: [s.id, s.name, s.title], "eval suite")


def find_eval_run(store: ProjectStore, query: str) -> EvalRun:
    return _pick(store.list_eval_runs(), query, lambda r: [r.id, r.label], "eval run")
