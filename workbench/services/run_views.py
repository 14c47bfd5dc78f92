"""What the screens that follow training runs show (the Runs page, the status bar's job line),
read from the project as typed records: the UI never queries the store itself.

Each function is a few indexed SQLite reads, cheap enough for a refresh in the GUI thread when
the list of runs changed; nothing here scans a dataset or a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.core.errors import ProjectError
from workbench.core.records import Run, RunSegment

if TYPE_CHECKING:  # importing this module must not load sqlite-utils (the pages import it early)
    from workbench.store import ProjectStore

UNKNOWN_MODEL = "?"  # a run whose base model is no longer in the project


@dataclass(frozen=True)
class RunRow:
    """One line of the Runs table: the run, the name of the base model it trains and how pickers
    name its dataset version ("" if the version is gone)."""

    run: Run
    model_name: str
    dataset_title: str = ""
    gate: str = ""  # its regression gate: passed | failed | pending ("" when it has none)


@dataclass(frozen=True)
class RunDetails:
    """What a run's details show beyond its row. Fixed once the run exists (its dataset
    version and base model never change), so a page may keep it per run."""

    run_id: str
    model_name: str
    dataset_title: str  # how pickers name its dataset version; "" if the version is gone


def _rows(store: "ProjectStore", runs: list[Run]) -> list[RunRow]:
    from workbench.services.dataset_ops import version_titles

    names = {m.id: m.name for m in store.list_base_models()}
    titles = version_titles(store)  # every version's title in one go, not a lookup per run
    gates = gate_states(store)
    return [RunRow(run, names.get(run.base_model_id, UNKNOWN_MODEL), titles.get(run.dataset_version_id, ""),
                   gates.get(run.id, "")) for run in runs]


def gate_states(store: "ProjectStore") -> dict[str, str]:
    """run id -> its gate's state, for the runs that have one (a few reads per gated run)."""
    gates = store.list_run_gates()
    if not gates:
        return {}
    from workbench.services.eval_gate import gate_status

    return {g.run_id: gate_status(store, g.run_id).state for g in gates}


def run_rows(store: "ProjectStore") -> list[RunRow]:
    """Every run, newest first, with its base model's name and its dataset version's title."""
    return _rows(store, store.list_runs())


def run_details(store: "ProjectStore", run_id: str) -> RunDetails:
    from workbench.services.dataset_ops import title_of

    run = store.get_run(run_id)
    try:
        model_name = store.get_base_model(run.base_model_id).name
    except ProjectError:
        model_name = UNKNOWN_MODEL
    try:
        title = title_of(store, store.get_version(run.dataset_version_id))
    except ProjectError:  # details stay useful without it
        title = ""
    return RunDetails(run.id, model_name, title)


def current_run(store: "ProjectStore", run_id: str) -> Run:
    """The run as stored now (its status, step and total steps for a progress line)."""
    return store.get_run(run_id)


def queue_rows(store: "ProjectStore") -> list[RunRow]:
    """The runs waiting in the queue, the next to start first, with their base model's name."""
    from workbench.services.run_queue import queued_runs

    return _rows(store, queued_runs(store))


def run_segments(store: "ProjectStore", run_id: str) -> list[RunSegment]:
    """Each stretch the run trained (started, stopped, resumed), in order (one indexed read)."""
    return store.run_segments(run_id)


def peak_memory_text(run: Run) -> str:
    """'estimated 1.47 GB, measured 1.42 GB (peak RSS)' once a run has finished; "" before."""
    from workbench.core.memory_estimate import gb

    env = run.environment or {}
    measured = env.get("peak_memory_bytes")
    if not measured:
        return ""
    how = {"cuda_max_allocated": "CUDA max allocated", "peak_rss": "peak RSS"}.get(env.get("peak_memory_kind"), "")
    est = env.get("estimated_peak_bytes")
    text = (f"estimated {gb(est)}, measured {gb(measured)}" if est else f"measured {gb(measured)}")
    return text + (f" ({how})" if how else "")
