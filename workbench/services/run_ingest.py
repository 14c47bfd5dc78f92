"""Turning a training child's events into SQLite rows (idempotent by (run, seq))."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from workbench.core.clock import now_iso
from workbench.core.errors import WorkbenchError
from workbench.core.metric_names import EPOCH, EVAL_LOSS, LOSS, MEMORY, TOKENS_PER_S
from workbench.core.records import Run
from workbench.jobs.protocol import TRANSIENT_KINDS, Event
from workbench.store import MetricRow, ProjectStore, RunReport

# Not curves: bookkeeping the Trainer logs once (epoch comes from the event's own field).
_METRIC_SKIP = {EPOCH, "step", "total_flos", "train_runtime"}


@dataclass
class _Batch:
    """What one batch of events changes: what it reports about the run, its new metric points."""

    store: ProjectStore
    run: Run
    report: RunReport = field(default_factory=RunReport)
    metrics: list[MetricRow] = field(default_factory=list)

    @property
    def first_loss(self) -> Optional[float]:
        return self.known("first_loss")

    def known(self, name: str) -> Any:
        """A run fact as this batch left it so far: reported in the batch, else as stored."""
        value = getattr(self.report, name)
        return value if value is not None else getattr(self.run, name)


def _started(b: _Batch, ev: Event) -> None:
    p = ev.payload
    b.report.total_steps = int(p.get("total_steps") or 0)
    b.report.environment = {k: p[k] for k in ("environment", "device", "trainable_params", "total_params",
                                              "usable_rows", "dropped_rows") if k in p}
    b.report.seed = p.get("seed", b.run.seed)


def _progress(b: _Batch, ev: Event) -> None:
    p = ev.payload
    step = int(p.get("step") or 0)
    total = int(p.get("total_steps") or b.report.total_steps or b.run.total_steps or 0)
    b.report.step, b.report.total_steps = step, total
    b.report.progress = (step / total) if total else 0.0


def _log_rows(ev: Event) -> list[MetricRow]:
    """The metric points of one `log` event: its numeric values and its epoch."""
    p = ev.payload
    step = int(p.get("step") or 0)
    rows = []
    epoch = p.get("epoch")
    if isinstance(epoch, (int, float)) and not isinstance(epoch, bool):
        rows.append(MetricRow(ev.seq, step, EPOCH, float(epoch), ev.t))
    for name, value in (p.get("values") or {}).items():
        if name in _METRIC_SKIP or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        rows.append(MetricRow(ev.seq, step, name, float(value), ev.t))
    return rows


def metric_rows(events: Sequence[Event]) -> list[MetricRow]:
    """The metric points `events` report, in seq order: what ingest stores, and what the
    poller hands to the charts without reading them back from SQLite."""
    return [row for ev in sorted(events, key=lambda e: e.seq) if ev.kind == "log" for row in _log_rows(ev)]


def _lower(old: Optional[float], new: float) -> float:
    return new if old is None else min(old, new)


def _log(b: _Batch, ev: Event) -> None:
    r = b.report
    for row in _log_rows(ev):
        b.metrics.append(row)
        if row.name == LOSS:
            if b.first_loss is None:
                r.first_loss = row.value
            r.last_loss = row.value
            r.best_loss = _lower(b.known("best_loss"), row.value)
        elif row.name == EVAL_LOSS:
            r.last_eval_loss = row.value
            r.best_eval_loss = _lower(b.known("best_eval_loss"), row.value)
        elif row.name == TOKENS_PER_S:
            r.tokens_per_s = row.value
        elif row.name == MEMORY:
            r.peak_memory_bytes = max(int(row.value), b.known("peak_memory_bytes") or 0)


def _ended(b: _Batch, ev: Event) -> None:  # completed / cancelled
    p = ev.payload
    adapter = p.get("adapter_path")
    if adapter:
        b.report.adapter_path = b.store.relpath(adapter) if os.path.isabs(adapter) else adapter
    if p.get("first_loss") is not None:
        b.report.first_loss = float(p["first_loss"])
    if p.get("last_loss") is not None:
        b.report.last_loss = float(p["last_loss"])
    if ev.kind == "completed":
        b.report.progress = 1.0
    if isinstance(p.get("tokens_per_s"), (int, float)):  # the whole run's throughput, once it ended
        b.report.tokens_per_s = float(p["tokens_per_s"])
    if isinstance(p.get("best_eval_loss"), (int, float)):
        b.report.best_eval_loss = _lower(b.known("best_eval_loss"), float(p["best_eval_loss"]))
    if p.get("peak_memory_bytes"):
        b.report.peak_memory_bytes = max(int(p["peak_memory_bytes"]), b.known("peak_memory_bytes") or 0)
        _keep_peak_memory(b, p)


def _keep_peak_memory(b: _Batch, p: dict) -> None:
    """The measured peak beside the estimate for the same model, settings and device kind."""
    env = dict(b.report.environment if b.report.environment is not None else b.run.environment)
    env["peak_memory_bytes"], env["peak_memory_kind"] = int(p["peak_memory_bytes"]), p.get("peak_memory_kind")
    # What the run measured besides memory: throughput of its training loop, its best evaluation.
    for key in ("tokens_per_s", "examples_per_s", "train_seconds", "best_eval_loss"):
        if isinstance(p.get(key), (int, float)):
            env[key] = p[key]
    if p.get("best_path"):
        env["best_path"] = b.store.relpath(p["best_path"]) if os.path.isabs(p["best_path"]) else p["best_path"]
    try:
        from workbench.services.fit import estimated_measured_peak

        model = b.store.get_base_model(b.run.base_model_id)
        kind = "cuda" if p.get("peak_memory_kind") == "cuda_max_allocated" else "cpu"
        env["estimated_peak_bytes"] = estimated_measured_peak(model.path, b.run.train_config, kind)
    except WorkbenchError:  # the model or its folder is gone: the measurement is still kept
        pass
    b.report.environment = env


def _failed(b: _Batch, ev: Event) -> None:
    # The message and advice say what went wrong; the kind (oom, bad_data...) is for code.
    b.report.error = ev.payload.get("message") or "Training failed."
    b.report.error_advice = ev.payload.get("advice") or ""


# Kinds not listed (heartbeat, checkpoint) change no column; all but TRANSIENT_KINDS are still
# recorded as events.
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
            batch.report.last_event_at = now_iso()
    batch.report.journal_offset = journal_offset
    kept = [ev for ev in events if ev.kind not in TRANSIENT_KINDS]
    store.record_events(run_id, kept, batch.metrics, batch.report)
    return store.get_run(run_id)


def terminal_kind(store: ProjectStore, run_id: str, after_seq: int = 0) -> Optional[str]:
    """The terminal event kind (completed / cancelled / failed) the run reported after
    `after_seq` (in its current segment: an earlier segment's end is not this one's)."""
    return store.last_event_kind(run_id, ("completed", "cancelled", "failed"), after_seq=after_seq)
