"""Preference training (DPO, ORPO, KTO) of a LoRA adapter through TRL's trainers
(engine/train_pref_trainers.py builds the one the method names).

The same child, spec, events and files as SFT (engine/train.py): `started`, `progress`, `log`,
`checkpoint`, `completed` / `cancelled` / `failed`, the stop file, resume from a checkpoint,
the adapter folder with its tokenizer and run record. TRL logs `rewards/chosen`,
`rewards/rejected`, `rewards/margins` (and, for DPO and ORPO, `rewards/accuracies`) at every
step under those names; EventCallback passes them on as metrics, which the Runs page charts.

The reference model (DPO, KTO; ORPO has none): TRL copies the starting adapter into a frozen
adapter named "ref" and computes the reference log-probabilities with it. A new adapter starts with LoRA's B = 0, so
then the reference is the base model itself; a run started from an SFT adapter
(TrainSpec.init_adapter_path) has that SFT model as its reference, as DPO intends.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from workbench.core.metric_names import REWARD_ACCURACY
from workbench.engine.control import StepCounter, StopSignal
from workbench.engine.errors import BadDataError, failure_payload, is_oom
from workbench.engine.messages import check_messages
from workbench.engine.model_files import atomic_folder
from workbench.engine.ranks import world_size
from workbench.engine.run_record import Throughput, peak_memory, write_run_record
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import TrainSpec

# The reference adapter TRL adds beside "default"; never saved as part of the run's adapter.
SAVED_ADAPTERS = ["default"]


def _plain(messages: list[dict[str, Any]], where: str) -> list[dict[str, str]]:
    """Role and content only: TRL renders these through the chat template."""
    for m in messages:
        if m.get("tool_calls") or m.get("tools") or m.get("role") == "tool":
            raise BadDataError(
                f"{where} uses tool calls, which preference training does not support yet.",
                advice="Train on pairs without tool calls, or train this data with SFT.")
    return [{"role": m["role"], "content": m.get("content") or ""} for m in messages]


def read_pairs(path: str, name: str = "the dataset") -> list[dict[str, list[dict[str, str]]]]:
    """The pairs of a preference version's Parquet file as TRL's conversational rows
    ({prompt, chosen, rejected}); a row that is not a usable pair is an error naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.data.formats.preference import split_pair

    try:
        columns = pq.ParquetFile(path).schema_arrow.names
        if "messages" not in columns or "rejected" not in columns:
            raise BadDataError(
                f"{name} is not a preference dataset: its file has no `rejected` replies.",
                details=f"File: {path}\nColumns: {columns}",
                advice="Train it with the SFT method, or pick a preference version (pairs of a chosen "
                       "and a rejected reply) for DPO, ORPO or KTO.")
        table = pq.read_table(path, columns=["messages", "rejected"])
    except (OSError, pa.ArrowException) as exc:
        raise BadDataError(f"Cannot read the file of {name}.", details=f"File: {path}\n{type(exc).__name__}: {exc}",
                           advice="Check that the dataset version exists in the project and is a Parquet file.") from exc
    pairs = []
    for i, (messages, rejected) in enumerate(zip(table.column("messages").to_pylist(),
                                                 table.column("rejected").to_pylist())):
        where = f"row {i + 1} of {name}"
        prompt, chosen = split_pair(check_messages(messages, where))
        if isinstance(rejected, (str, bytes)):
            try:
                rejected = json.loads(rejected or "[]")
            except ValueError as exc:
                raise BadDataError(f"The rejected reply in {where} is not valid JSON.", details=str(exc),
                                   advice="Re-import the dataset.") from exc
        if not prompt or not chosen or not rejected:
            part = "prompt" if not prompt else "chosen reply" if not chosen else "rejected reply"
            raise BadDataError(f"{where} has no {part}, so it is not a preference pair.",
                               advice="Fix or remove the row on the Datasets page, then make a new version.")
        pairs.append({"prompt": _plain(prompt, where), "chosen": _plain(chosen, where),
                      "rejected": _plain(list(rejected), where)})
    if not pairs:
        raise BadDataError(f"{name} has no pairs.", advice="Pick a preference version with at least one pair.")
    return pairs


def _eval_pairs(spec: TrainSpec) -> Optional[list[dict[str, Any]]]:
    if not spec.eval_dataset_path or spec.config.eval_steps <= 0:
        return None
    try:
        return read_pairs(spec.eval_dataset_path, f"the validation part of {spec.dataset_name or 'the dataset'}")
    except BadDataError as exc:
        if "no pairs" in exc.user_message:
            return None
        raise


def train_preference(spec: TrainSpec, writer: EventWriter, stop: StopSignal, steps: StepCounter) -> int:
    from workbench.engine.train import DEVICE_WORDS, _save_best, load_tokenizer

    cfg = spec.config
    name = spec.dataset_name or "the dataset"
    # Data first: a bad dataset fails in seconds, before torch and TRL are imported.
    pairs = read_pairs(spec.dataset_path, name)
    eval_pairs = _eval_pairs(spec)
    tokenizer = load_tokenizer(spec.base_model_path)
    if stop.requested() and world_size() == 1:
        writer.emit("cancelled", adapter_path=None, step=0)
        return 0

    import datasets
    from transformers import AutoModelForCausalLM, set_seed

    from workbench.engine.devices import environment, pick_device
    from workbench.engine.train_args import (
        model_load_kwargs,
        quantization_problem,
        resolve_precision,
        start_lora,
        training_arguments,
    )
    from workbench.engine.train_data import pad_id_for
    from workbench.engine.train_events import EventCallback
    from workbench.engine.train_pref_trainers import MEMORY_WORDS, build_trainer

    datasets.disable_progress_bars()  # stdout carries protocol events only
    plan = pick_device("auto")
    precision = resolve_precision(cfg, plan)
    if quantization_problem(cfg, plan):
        model_load_kwargs(cfg, plan, precision)  # raises with the reason
    env = {**environment(plan), "precision": precision.name, "quantization": cfg.quantization,
           "trl": _version("trl")}
    set_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(spec.base_model_path, **model_load_kwargs(cfg, plan, precision))
    if tokenizer.pad_token is None:
        tokenizer.pad_token_id = pad_id_for(tokenizer)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        model.enable_input_require_grads()
    model = start_lora(model, cfg, spec.init_adapter_path)
    callback = EventCallback(writer, stop, steps, {
        "device": plan.device,
        "environment": env,
        "method": cfg.method,
        "beta": cfg.beta,
        "init_adapter_path": spec.init_adapter_path,
        "rows": len(pairs),
        "usable_rows": len(pairs),
        "dropped_rows": 0,
        "truncated_rows": 0,
        "eval_rows": len(eval_pairs) if eval_pairs else 0,
        "effective_batch": cfg.effective_batch,
        "token_cache": "off",
        "packed_rows": 0,
    })

    def make_args(args_class, **extra):
        return training_arguments(cfg, spec.output_dir, plan, precision, has_eval=eval_pairs is not None,
                                  args_class=args_class, **extra)

    trainer = build_trainer(cfg, model, tokenizer, pairs, eval_pairs, make_args, [callback])

    clock = Throughput()
    clock.start()
    try:
        trainer.train(resume_from_checkpoint=spec.resume_from or None)
    except Exception as exc:
        if is_oom(exc):
            writer.emit("failed", **failure_payload(exc, oom_advice=(
                f"The {DEVICE_WORDS.get(plan.device, plan.device)} ran out of memory. {MEMORY_WORDS[cfg.method]}: "
                f"retry with half the batch size and double the gradient accumulation "
                f"(batch {max(cfg.min_batch_size, cfg.batch_size // 2)} x {cfg.grad_accum * 2}), turn on gradient "
                f"checkpointing, or lower the max length (now {cfg.max_length}).")))
            return 1
        raise
    trained_steps = max(0, callback.step - callback.start_step)
    world = max(1, trainer.args.world_size)
    clock.stop(trainer.state.num_input_tokens_seen - callback.start_tokens,
               trained_steps * cfg.effective_batch * world)
    peak, peak_kind = peak_memory(plan.device)
    result = {
        "status": "cancelled" if callback.stopped_early else "completed",
        "method": cfg.method,
        "init_adapter_path": spec.init_adapter_path,
        "steps": callback.step,
        "first_loss": callback.first_loss,
        "last_loss": callback.last_loss,
        "last_reward_accuracy": _last(trainer, REWARD_ACCURACY),
        "rows": len(pairs),
        "usable_rows": len(pairs),
        "best_eval_loss": trainer.state.best_metric,
        "peak_memory_bytes": peak,
        "peak_memory_kind": peak_kind,
        **clock.summary(),
    }
    if not trainer.is_world_process_zero():
        return 0

    def write(folder: str) -> None:
        model.save_pretrained(folder, selected_adapters=SAVED_ADAPTERS)
        tokenizer.save_pretrained(folder)
        write_run_record(folder, spec, env, result)

    adapter_path = atomic_folder(os.path.join(spec.output_dir, "adapter"), write)
    best_path = _save_best(trainer, spec.output_dir, tokenizer, spec, env, result)
    measured = {k: result[k] for k in ("peak_memory_bytes", "peak_memory_kind", "tokens_per_s",
                                       "examples_per_s", "train_seconds", "tokens_seen", "best_eval_loss")}
    if callback.stopped_early:
        writer.emit("cancelled", adapter_path=adapter_path, step=callback.step, best_path=best_path, **measured)
    else:
        writer.emit("completed", adapter_path=adapter_path, first_loss=callback.first_loss,
                    last_loss=callback.last_loss, steps=callback.step, best_path=best_path, **measured)
    return 0


def _last(trainer, key: str) -> Optional[float]:
    values = [h[key] for h in trainer.state.log_history if key in h]
    return float(values[-1]) if values else None


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""
