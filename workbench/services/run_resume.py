"""Whether a run can continue from a checkpoint, and which checkpoint (a few stat calls)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from workbench.core.records import RESUMABLE_STATUSES, Run

if TYPE_CHECKING:
    from workbench.store import ProjectStore


@dataclass(frozen=True)
class ResumeCheck:
    """Whether a run can continue from a checkpoint; if not, why and what the user can do."""

    checkpoint: Optional[str]  # absolute path of the checkpoint to resume from
    reason: str = ""
    advice: str = ""

    @property
    def ok(self) -> bool:
        return self.checkpoint is not None

    @property
    def step(self) -> int:
        return checkpoint_step(self.checkpoint) if self.checkpoint else 0


def checkpoint_step(path: str) -> int:
    """The training step a `checkpoint-N` folder was saved at."""
    return int(os.path.basename(os.path.normpath(path)).rsplit("-", 1)[1])


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete `checkpoints/checkpoint-N` folder of a run's working folder."""
    root = os.path.join(work_dir, "checkpoints")
    try:
        names = os.listdir(root)
    except OSError:
        return None
    steps = [(int(n.split("-", 1)[1]), n) for n in names
             if n.startswith("checkpoint-") and n.split("-", 1)[1].isdigit()]
    for _step, name in sorted(steps, reverse=True):
        # The Trainer writes trainer_state.json last; without it the folder is a partial save.
        if os.path.isfile(os.path.join(root, name, "trainer_state.json")):
            return os.path.join(root, name)
    return None


def resume_check(store: "ProjectStore", run: Run) -> ResumeCheck:
    """The one rule for "can this run resume" (a few stat calls: call it when a run changes)."""
    if run.status == "queued":
        return ResumeCheck(None, "The run is waiting in the queue.",
                           "It starts when the runs before it have ended; remove it from the queue to stop that.")
    if run.status == "running":
        return ResumeCheck(None, "The run is still training.", "Cancel it first; it saves a checkpoint as it stops.")
    if run.status not in RESUMABLE_STATUSES:
        return ResumeCheck(None, "This run completed: there is nothing left to resume.",
                           "Chat with its adapter, or start a new run with more steps on the Train page.")
    checkpoint = last_checkpoint(store.abspath(run.work_dir))
    if checkpoint is not None:
        return ResumeCheck(checkpoint)
    advice = "Start a new run on the Train page with the settings shown in this run's details."
    if run.adapter_path:
        advice += " Its adapter was saved: you can still chat with it."
    return ResumeCheck(
        None,
        "This run saved no checkpoint, so it cannot continue where it stopped. Cancel run saves one "
        "as the run stops; a crash, a forced stop or a failure leaves none.",
        advice)


def resume_advice(work_dir: str) -> str:
    """What to tell the user about a run that stopped early (its checkpoint, if it has one)."""
    checkpoint = last_checkpoint(work_dir)
    if checkpoint is None:
        return "It saved no checkpoint: start a new run with the same settings."
    return f"Resume it from its checkpoint at step {checkpoint_step(checkpoint)}, or start it again."
