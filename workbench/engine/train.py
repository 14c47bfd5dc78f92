"""The `train` verb: LoRA fine-tuning of a local causal LM with the HF Trainer."""

from __future__ import annotations

import os
import shutil
from typing import Any, Optional

from workbench.engine.control import Heartbeat, StepCounter, StopSignal
from workbench.engine.errors import (
    BadConfigError,
    BadDataError,
    MissingModelError,
    ModelLoadError,
    failure_payload,
    is_oom,
)
from workbench.engine.model_files import atomic_folder
from workbench.engine.ranks import world_size
from workbench.engine.packing import PackedCollator, PackedDataset, pack
from workbench.engine.token_cache import cache_key, cached_tokenize, parallel_tokenize
from workbench.engine.run_record import Throughput, peak_memory, write_run_record
from workbench.engine.train_args import (
    model_load_kwargs,
    quantization_problem,
    resolve_precision,
    start_lora,
    training_arguments,
)
from workbench.engine.train_data import (
    Collator,
    ExampleDataset,
    TokenizedData,
    pad_id_for,
    read_parquet_conversations,
)
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import TrainSpec


def _check_spec(spec: TrainSpec) -> None:
    problems = spec.config.validate()
    if problems:
        raise BadConfigError("The training configuration is invalid.", details="\n".join(problems),
                             advice=" ".join(problems))
    if not os.path.isfile(os.path.join(spec.base_model_path, "config.json")):
        raise MissingModelError(
            f"The base model folder {spec.base_model_path} has no config.json.",
            advice="Pick a base model folder that holds a Hugging Face model (config.json, weights, tokenizer).",
        )
    if spec.resume_from and not os.path.isdir(spec.resume_from):
        raise BadConfigError(
            f"The checkpoint to resume from does not exist: {spec.resume_from}",
            advice="Resume from one of the run's checkpoint-N folders, or start a new run.",
        )


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load the tokenizer of {path}.", details=str(exc),
                             advice="The base model folder must include its tokenizer files.") from exc
    if not getattr(tokenizer, "is_fast", False):
        # Labels are placed by character offsets, which only fast (Rust) tokenizers give.
        raise BadConfigError(
            f"The tokenizer of {path} ({type(tokenizer).__name__}) is a slow tokenizer: it cannot "
            "give the character offsets training needs to find the assistant replies.",
            details=f"Tokenizer class: {type(tokenizer).__name__}; is_fast=False",
            advice="Use a base model whose folder has a fast tokenizer (tokenizer.json). To convert "
            "one: load it with transformers (AutoTokenizer.from_pretrained) and save_pretrained it "
            "into the model folder, or pick another base model.",
        )
    if not tokenizer.chat_template:
        raise ModelLoadError(
            f"The base model {path} has no chat template.",
            advice="Use an instruction/chat model, or one built by Workbench (they include ChatML).",
        )
    return tokenizer


def run_train(spec: TrainSpec, writer: EventWriter) -> int:
    stop = StopSignal(spec.stop_file)
    stop.watch_stdin()
    steps = StepCounter()  # the callback advances it; the heartbeat reports it from the start
    with Heartbeat(writer, steps.get):
        return _train(spec, writer, stop, steps)


# How advice names the device that ran out of memory.
DEVICE_WORDS = {"cuda": "GPU", "mps": "Apple GPU", "cpu": "computer"}


def _tokenized(spec: TrainSpec, tokenizer, path: str, name: str) -> tuple[TokenizedData, bool]:
    """(examples, whether they came from the token cache)."""
    cfg = spec.config

    def compute() -> TokenizedData:
        conversations = read_parquet_conversations(path, name)
        return parallel_tokenize(tokenizer, spec.base_model_path, conversations, cfg.max_length, name, cfg.loss_on)

    key = cache_key(path, tokenizer, cfg.max_length, cfg.loss_on) if spec.cache_dir else None
    return cached_tokenize(spec.cache_dir, key, compute)


def _eval_data(spec: TrainSpec, tokenizer) -> Optional[TokenizedData]:
    """The validation part, tokenised like the training data; None when there is none to use."""
    if not spec.eval_dataset_path or spec.config.eval_steps <= 0:
        return None
    try:
        return _tokenized(spec, tokenizer, spec.eval_dataset_path,
                          f"the validation part of {spec.dataset_name or 'the dataset'}")[0]
    except BadDataError as exc:
        if "No row" in exc.user_message:  # nothing usable: train without evaluation, and say so
            return None
        raise


def _save_best(trainer, output_dir: str, tokenizer, spec: TrainSpec, env: dict[str, Any],
               result: dict[str, Any]) -> Optional[str]:
    """Copy the best checkpoint's adapter (by eval loss) to `best/`, beside the final adapter."""
    best = trainer.state.best_model_checkpoint
    if not best or not os.path.isfile(os.path.join(best, "adapter_config.json")):
        return None

    def write(folder: str) -> None:
        for name in os.listdir(best):
            if name.startswith("adapter_") or name == "README.md":
                shutil.copy2(os.path.join(best, name), folder)
        tokenizer.save_pretrained(folder)
        write_run_record(folder, spec, env, {**result, "checkpoint": os.path.basename(best)})

    return atomic_folder(os.path.join(output_dir, "best"), write)


def _train(spec: TrainSpec, writer: EventWriter, stop: StopSignal, steps: StepCounter) -> int:
    _check_spec(spec)
    cfg = spec.config
    if cfg.is_preference:
        from workbench.engine.train_pref import train_preference

        return train_preference(spec, writer, stop, steps)
    # Data first: a bad dataset fails in seconds, before torch/peft/Trainer are imported.
    name = spec.dataset_name or "the dataset"  # messages never name the blob file
    tokenizer = load_tokenizer(spec.base_model_path)
    data, cache_hit = _tokenized(spec, tokenizer, spec.dataset_path, name)
    eval_data = _eval_data(spec, tokenizer)
    pad_id = pad_id_for(tokenizer)
    # Several ranks must agree on stopping, which they can only once training has started.
    if stop.requested() and world_size() == 1:
        writer.emit("cancelled", adapter_path=None, step=0)
        return 0

    from transformers import AutoModelForCausalLM, Trainer, set_seed

    from workbench.engine.devices import environment, pick_device
    from workbench.engine.train_events import EventCallback

    plan = pick_device("auto")
    precision = resolve_precision(cfg, plan)
    if quantization_problem(cfg, plan):
        model_load_kwargs(cfg, plan, precision)  # raises with the reason
    env = {**environment(plan), "precision": precision.name, "quantization": cfg.quantization}
    # Before the model is built and LoRA attached: get_peft_model draws the adapter's initial
    # weights, and the Trainer seeds only later. Same seed, same run.
    set_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(spec.base_model_path, **model_load_kwargs(cfg, plan, precision))
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_id
    # No KV cache while training: it is useless there, and with one transformers ignores the
    # position ids that keep packed conversations apart.
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        model.enable_input_require_grads()  # LoRA leaves the embeddings frozen
    model = start_lora(model, cfg, spec.init_adapter_path)
    if cfg.packing:
        rows = pack(data.examples, cfg.max_length)
        train_dataset: Any = PackedDataset(rows)
        collator: Any = PackedCollator(pad_id)
    else:
        rows, train_dataset, collator = [], ExampleDataset(data.examples), Collator(pad_id)
    callback = EventCallback(writer, stop, steps, {
        "device": plan.device,
        "environment": env,
        "rows": data.rows,
        "usable_rows": len(data.examples),
        "dropped_rows": data.dropped_rows,
        "truncated_rows": data.truncated_rows,
        "eval_rows": len(eval_data.examples) if eval_data else 0,
        "effective_batch": cfg.effective_batch,
        "token_cache": "hit" if cache_hit else ("miss" if spec.cache_dir else "off"),
        "packed_rows": len(rows),
    })
    trainer = Trainer(
        model=model,
        args=training_arguments(cfg, spec.output_dir, plan, precision, has_eval=eval_data is not None),
        train_dataset=train_dataset,
        eval_dataset=ExampleDataset(eval_data.examples) if eval_data else None,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=[callback],
    )

    clock = Throughput()
    clock.start()
    try:
        trainer.train(resume_from_checkpoint=spec.resume_from or None)
    except Exception as exc:
        if is_oom(exc):
            writer.emit("failed", **failure_payload(exc, oom_advice=(
                f"The {DEVICE_WORDS.get(plan.device, plan.device)} ran out of memory. Retry with half the batch "
                f"size and double the gradient accumulation (batch {max(1, cfg.batch_size // 2)} x {cfg.grad_accum * 2}: the "
                f"same effective batch of {cfg.effective_batch}), turn on gradient checkpointing, lower "
                f"the max length (now {cfg.max_length}), or use a smaller base model."
            )))
            return 1
        raise
    start_step = callback.start_step
    trained_steps = max(0, callback.step - start_step)
    world = max(1, trainer.args.world_size)
    if cfg.packing:  # a packed row holds several conversations: count what was collated
        clock.stop(collator.tokens * world, collator.sequences * world)
    else:
        clock.stop(trainer.state.num_input_tokens_seen - callback.start_tokens,
                   trained_steps * cfg.effective_batch * world)
    peak, peak_kind = peak_memory(plan.device)

    adapter_dir = os.path.join(spec.output_dir, "adapter")
    result = {
        "status": "cancelled" if callback.stopped_early else "completed",
        "steps": callback.step,
        "first_loss": callback.first_loss,
        "last_loss": callback.last_loss,
        "rows": data.rows,
        "usable_rows": len(data.examples),
        "best_eval_loss": trainer.state.best_metric,
        "peak_memory_bytes": peak,
        "peak_memory_kind": peak_kind,
        **clock.summary(),
    }
    if not trainer.is_world_process_zero():  # other ranks trained the same model; rank 0 writes it
        return 0

    def write(folder: str) -> None:
        model.save_pretrained(folder)
        # The tokenizer and chat template training used: chat renders prompts with these even
        # if the base model folder's template changes later.
        tokenizer.save_pretrained(folder)
        write_run_record(folder, spec, env, result)

    adapter_path = atomic_folder(adapter_dir, write)
    best_path = _save_best(trainer, spec.output_dir, tokenizer, spec, env, result)
    measured = {k: result[k] for k in ("peak_memory_bytes", "peak_memory_kind", "tokens_per_s",
                                       "examples_per_s", "train_seconds", "tokens_seen", "best_eval_loss")}
    if callback.stopped_early:
        writer.emit("cancelled", adapter_path=adapter_path, step=callback.step, best_path=best_path, **measured)
    else:
        writer.emit("completed", adapter_path=adapter_path, first_loss=callback.first_loss,
                    last_loss=callback.last_loss, steps=callback.step, best_path=best_path, **measured)
    return 0
