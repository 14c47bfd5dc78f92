"""The TrainerCallback that turns Trainer state into protocol events and honours stop requests.

Following transformers' design, the callback only changes `control` (and reports); it never
reaches into the Trainer.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Optional

from transformers import TrainerCallback

from workbench.core.metric_names import EVAL_LOSS, EVAL_PERPLEXITY, LOSS, MEMORY, TOKENS_PER_S
from workbench.engine.control import StepCounter, StopSignal
from workbench.engine.ranks import any_rank
from workbench.engine.run_record import memory_now
from workbench.jobs.protocol import EventWriter

LOG_SKIP = {"epoch", "step"}


def count_params(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # 0-d tensors
        except (TypeError, ValueError):
            return None
    value = float(value)
    return value if math.isfinite(value) else None


class EventCallback(TrainerCallback):
    def __init__(self, writer: EventWriter, stop: StopSignal, steps: StepCounter,
                 started_extra: dict[str, Any]):
        self.writer = writer
        self.stop = stop
        self.steps = steps
        self.started_extra = started_extra
        self.total_steps = 0
        self.first_loss: Optional[float] = None
        self.last_loss: Optional[float] = None
        self.stopped_early = False
        self.start_step = 0  # > 0 when resumed from a checkpoint
        self.start_tokens = 0
        self.best_eval_loss: Optional[float] = None
        # Tokens seen and the time at the previous train log (the live tokens/s is the rate between).
        self._rate_mark: tuple[int, float] = (0, 0.0)

    @property
    def step(self) -> int:
        return self.steps.get()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.steps.set(state.global_step)
        self.start_step = state.global_step
        self.start_tokens = state.num_input_tokens_seen or 0
        self.best_eval_loss = state.best_metric
        self.total_steps = state.max_steps
        self._rate_mark = (self.start_tokens, time.monotonic())
        trainable, total = count_params(model) if model is not None else (0, 0)
        self.writer.emit(
            "started",
            total_steps=state.max_steps,
            trainable_params=trainable,
            total_params=total,
            seed=args.seed,
            start_step=state.global_step,
            rank=args.process_index,  # torchrun: rank 0 reports; the others log to stderr
            world_size=args.world_size,
            **self.started_extra,
        )
        return control

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.set(state.global_step)
        self.writer.emit(
            "progress", step=state.global_step, total_steps=state.max_steps, epoch=state.epoch
        )
        # All ranks of a multi-process run stop at the same step, or the others would hang.
        if any_rank(self.stop.requested(), args.device) and state.global_step < state.max_steps:
            self.stopped_early = True
            control.should_training_stop = True
            # Leave a checkpoint behind so a cancelled run can be resumed.
            control.should_save = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = {}
        for key, raw in (logs or {}).items():
            if key in LOG_SKIP:
                continue
            number = _number(raw)
            if number is not None:
                values[key] = number
        if not values:
            return control
        if EVAL_LOSS in values:
            # Perplexity of the validation part: exp of the mean token cross-entropy.
            values[EVAL_PERPLEXITY] = math.exp(min(values[EVAL_LOSS], 50.0))
        if LOSS in values:
            if self.first_loss is None:
                self.first_loss = values[LOSS]
            self.last_loss = values[LOSS]
            rate = self._tokens_per_s(state.num_input_tokens_seen or 0)
            if rate is not None:
                values[TOKENS_PER_S] = rate
        values[MEMORY] = float(memory_now(args.device.type))
        self.writer.emit("log", step=state.global_step, epoch=state.epoch, values=values)
        return control

    def _tokens_per_s(self, tokens: int) -> Optional[float]:
        """Input tokens per second since the previous train log (or the start of training)."""
        now = time.monotonic()
        seen, at = self._rate_mark
        self._rate_mark = (tokens, now)
        if now <= at or tokens <= seen:
            return None
        return (tokens - seen) / (now - at)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        loss = _number((metrics or {}).get("eval_loss"))
        if loss is not None and (self.best_eval_loss is None or loss < self.best_eval_loss):
            self.best_eval_loss = loss
            # Save now, so the best evaluation has a checkpoint; the Trainer keeps it out of rotation.
            if args.save_strategy != "no":
                control.should_save = True
        return control

    def on_save(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.writer.emit("checkpoint", step=state.global_step, path=os.path.abspath(path))
        return control
