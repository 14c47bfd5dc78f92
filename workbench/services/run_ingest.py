"""Turning a training child's events into SQLite rows (idempotent by (run, seq))."""

from __future__ import annotations

import os
from typing import Any, Optional

from workbench.core.clock import now_iso
from workbench.core.records import Run
from workbench.jobs.protocol import Event
from workbench.store import ProjectStore

_METRIC_SKIP = {"epoch", "step", "total_flos", "train_runtime"}


def ingest(store: ProjectStore, run_id: str, events: list[Event], journal_offset: Optional[int] = None) -> Run:
    """Record `events` of `run_id`: events, metric points, and the run's derived fields."""
    if not events and journal_offset is None:
        return store.get_run(run_id)
    run = store.get_run(run_id)
    changes: dict[str, Any] = {}
    metrics: list[tuple[int, int, str, float]] = []
    first_loss = run.first_loss
    for ev in sorted(events, key=lambda e: e.seq):
        p = ev.payload
        if ev.kind == "started":
            changes.update(
                total_steps=int(p.get("total_steps") or 0),
                environment={k: p[k] for k in ("environment", "device", "trainable_params", "total_params",
                                                "usable_rows", "dropped_rows") if k in p},
                seed=p.get("seed", run.seed),
            )
        elif ev.kind == "progress":
            step, total = int(p.get("step") or 0), int(p.get("total_steps") or run.total_steps or 0)
            changes.update(step=step, total_steps=total, progress=(step / total) if total else 0.0)
        elif ev.kind == "log":
            step = int(p.get("step") or 0)
            for name, value in (p.get("values") or {}).items():
                if name in _METRIC_SKIP or not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                metrics.append((ev.seq, step, name, float(value)))
                if name == "loss":
                    if first_loss is None:
                        first_loss = float(value)
                        changes["first_loss"] = first_loss
                    changes["last_loss"] = float(value)
        elif ev.kind in ("completed", "cancelled"):
            adapter = p.get("adapter_path")
            if adapter:
                changes["adapter_path"] = store.relpath(adapter) if os.path.isabs(adapter) else adapter
            for key in ("first_loss", "last_loss"):
                if p.get(key) is not None:
                    changes[key] = float(p[key])
            if ev.kind == "completed":
                changes["progress"] = 1.0
        elif ev.kind == "failed":
            # The message and advice say what went wrong; the kind (oom, bad_data...) is for code.
            changes["error"] = p.get("message") or "Training failed."
            changes["error_advice"] = p.get("advice") or ""
        if ev.t:
            changes["last_event_at"] = now_iso()
    if journal_offset is not None:
        changes["journal_offset"] = journal_offset
    store.record_events(run_id, events, metrics, changes)
    return store.get_run(run_id)


def terminal_kind(store: ProjectStore, run_id: str) -> Optional[str]:
    """The run's terminal event kind (completed / cancelled / failed) if it reported one."""
    return store.last_event_kind(run_id, ("completed", "cancelled", "failed"))
