"""Comparing runs: the settings that differ between them, and their final and best metrics.

Both read the Run records only (the settings and the values ingest keeps on the run row), so
the Runs page can call them in the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from workbench.core.records import Run

MISSING = "—"  # a setting one run has and another has not (an older run, a newer setting)


@dataclass(frozen=True)
class DiffRow:
    """One setting whose value is not the same in every run: the value of each, in run order."""

    key: str
    values: tuple[str, ...]


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"lora": {"r": 8}} -> {"lora.r": 8}: nested settings compare one by one."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) if value else "none"
    return str(value)


def _comparable(value: Any) -> tuple[str, Any]:
    # 1 and 1.0 are the same setting; True and 1 are not.
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return ("number" if number else type(value).__name__, value)


def _same(values: list[Any]) -> bool:
    first = _comparable(values[0])
    return all(_comparable(v) == first for v in values[1:])


_ABSENT = object()


def config_diff(runs: Sequence[Run], extra: Optional[Mapping[str, Mapping[str, Any]]] = None) -> list[DiffRow]:
    """The settings that differ between `runs` (two or more), each with every run's value as
    text. `extra` maps a run id to facts beside its settings ("base model", "dataset", ...):
    they come first. Settings in the order the first run that has them lists them."""
    if len(runs) < 2:
        return []
    extra = extra or {}
    columns = [{**dict(extra.get(run.id, {})), **_flatten(run.config)} for run in runs]
    keys: list[str] = []
    for facts in [dict(extra.get(run.id, {})) for run in runs] + columns:
        keys.extend(k for k in facts if k not in keys)
    rows = []
    for key in keys:
        values = [facts.get(key, _ABSENT) for facts in columns]
        if _same(values):
            continue
        rows.append(DiffRow(key, tuple(MISSING if v is _ABSENT else _text(v) for v in values)))
    return rows


@dataclass(frozen=True)
class RunSummary:
    """A run's final and best metrics, as the comparison's summary table shows them."""

    run_id: str
    name: str
    status: str
    final_loss: Optional[float]
    best_loss: Optional[float]
    final_eval_loss: Optional[float]
    best_eval_loss: Optional[float]
    steps: int
    tokens_per_s: Optional[float]
    peak_memory_bytes: Optional[int]
    duration_s: Optional[float]


def summaries(runs: Sequence[Run], now: Optional[float] = None) -> list[RunSummary]:
    """One summary per run, in run order, from the run rows alone (no metric scans); a live
    run's duration runs to `now` (epoch seconds; default the clock)."""
    return [RunSummary(run.id, run.name, run.status, run.last_loss, run.best_loss, run.last_eval_loss,
                       run.best_eval_loss, run.step, run.tokens_per_s, run.peak_memory_bytes,
                       run.duration_s(now)) for run in runs]
