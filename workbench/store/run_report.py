"""What a batch of a training child's events says about its run: the typed input of
ProjectStore.record_events, so the services that read events never name the runs table's
columns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

from workbench.core.records import MetricRow  # the store's input; defined in core so the UI may name it

__all__ = ["MetricRow", "RunReport"]


@dataclass
class RunReport:
    """The run's reported facts a batch changed. None leaves the stored value as it is: events
    add to what a run reported, they never erase it."""

    step: Optional[int] = None
    total_steps: Optional[int] = None
    progress: Optional[float] = None  # step / total_steps, 1.0 once completed
    first_loss: Optional[float] = None
    last_loss: Optional[float] = None
    best_loss: Optional[float] = None
    best_eval_loss: Optional[float] = None
    last_eval_loss: Optional[float] = None
    tokens_per_s: Optional[float] = None  # the latest live value; the run's overall once it ended
    peak_memory_bytes: Optional[int] = None  # the highest live or end-of-run measurement
    seed: Optional[int] = None
    environment: Optional[dict[str, Any]] = None  # library versions, device, parameter counts
    adapter_path: Optional[str] = None  # relative to the project folder
    error: Optional[str] = None  # the message of a failure the child reported
    error_advice: Optional[str] = None
    last_event_at: Optional[str] = None
    journal_offset: Optional[int] = None  # bookkeeping of a re-attached run's journal

    def columns(self) -> dict[str, Any]:
        """The runs-table columns to set (the fields are named after them)."""
        return {f.name: v for f in dataclasses.fields(self) if (v := getattr(self, f.name)) is not None}
