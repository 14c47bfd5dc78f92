"""Turning a training child's events into SQLite rows (idempotent by (run, seq))."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from workbench.core.clock import now_iso
from workbench.core.records import Run
from workbench.jobs.protocol import Event
from workbench.store import ProjectStore

_METRIC_SKIP = {"epoch", "step", "total_flos", "train_runtime"}


@dataclass
class _Batch:
    """What one batch of events changes: the run's columns and its new metric points."""

    store: ProjectStore
    run: Run
    changes: dict[str, Any] = field(default_factory=dict)
    metrics: list[tuple[int, int, str, float]] = field(default_factory=list)

    @property
    def first_loss(self) -> Optional[float]:
        return self.changes.get("first_loss", self.run.first_loss)


def _started(b: _Batch, ev: Event) -> None:
    p = ev.payload
    b.changes.update(
        total_steps=int(p.get("total_steps") or 0),
        environment={k: p[k] for k in ("environment", "device", "trainable_params", "total_params",
                                        "usable_rows", "dropped_rows") if k in p},
        seed=p.get("seed", b.run.seed),
    )


def _progress(b: _Batch, ev: Event) -> None:
    p = ev.payload
    step = int(p.get("step") or 0)
    total = int(p.get("total_steps") or b.changes.get("total_steps") or b.run.total_steps or 0)
    b.changes.update(step=step, total_steps=total, progress=(step / total) if total else 0.0)


def _log(b: _Batch, ev: Event) -> None:
    step = int(ev.payload.get("step") or 0)
    for name, value in (ev.payload.get("values") or {}).items():
        if name in _METRIC_SKIP or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        b.metrics.append((ev.seq, step, name, float(value)))
        if name == "loss":
            if b.first_loss is None:
                b.changes["first_loss"] = float(value)
            b.changes["last_loss"] = float(value)


def _ended(b: _Batch, ev: Event) -> None:  # completed / cancelled
    p = ev.payload
    adapter = p.get("adapter_path")
    if adapter:
        b.changes["adapter_path"] = b.store.relpath(adapter) if os.path.isabs(adapter) else adapter
    for key in ("first_loss", "last_loss"):
        if p.get(key) is not None:
            b.changes[key] = float(p[key])
    if ev.kind == "completed":
        b.changes["progress"] = 1.0


def _failed(b: _Batch, ev: Event) -> None:
    # The message and advice say what went wrong; the kind (oom, bad_data...) is for code.
    b.changes["error"] = ev.payload.get("message") or "Training failed."
    b.changes["error_advice"] = ev.payload.get("advice") or ""


# Kinds not listed (heartbeat, checkpoint) change no column; they are still recorded as events.
HANDLERS: dict[str, Callable[[_Batch, Event], None]] = {
    "started": _started, "progress": _progress, "log": _log,
    "completed": _ended, "cancelled": _ended, "failed": _failed,
}


def ingest(store: ProjectStore, run_id: str, events: list[Event], journal_offset: Optional[int] = None) -> Run:
    """Record `events` of `run_id`: events, metric points, and the run's derived fields."""
    if not events and journal_offset is None:
        return store.get_run(run_id)
    batch = _Batch(store, store.get_run(run_id))
    for ev in sorted(events, key=lambda e: e.seq):
        handler = HANDLERS.get(ev.kind)
        if handler is not None:
            handler(batch, ev)
        if ev.t:
            batch.changes["last_event_at"] = now_iso()
    if journal_offset is not None:
        batch.changes["journal_offset"] = journal_offset
    store.record_events(run_id, events, batch.metrics, batch.changes)
    return store.get_run(run_id)


def terminal_kind(store: ProjectStore, run_id: str) -> Optional[str]:
    """The run's terminal event kind (completed / cancelled / failed) if it reported one."""
    return store.last_event_kind(run_id, ("completed", "cancelled", "failed"))
