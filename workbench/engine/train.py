"""The `train` verb: LoRA fine-tuning of a local causal LM with the HF Trainer."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any

from workbench.core.clock import now_iso
from workbench.core.hashing import file_sha256
from workbench.engine.control import Heartbeat, StepCounter, StopSignal
from workbench.engine.errors import BadConfigError, ModelLoadError, failure_payload, is_oom
from workbench.engine.model_files import atomic_folder
from workbench.engine.train_data import (
    Collator,
    ExampleDataset,
    pad_id_for,
    read_parquet_conversations,
    tokenize_all,
)
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import TrainSpec

RUN_RECORD = "workbench_run.json"


def _check_spec(spec: TrainSpec) -> None:
    problems = spec.config.validate()
    if problems:
        raise BadConfigError("The training configuration is invalid.", details="\n".join(problems),
                             advice=" ".join(problems))
    if not os.path.isfile(os.path.join(spec.base_model_path, "config.json")):
        raise ModelLoadError(
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


def lora_model(model, spec: TrainSpec):
    from peft import LoraConfig, get_peft_model

    cfg = spec.config
    lora = LoraConfig(
        r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, bias="none",
        task_type="CAUSAL_LM", target_modules=cfg.target_modules or None,
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        linear = sorted({name.rsplit(".", 1)[-1] for name, mod in model.named_modules()
                         if type(mod).__name__ in ("Linear", "Conv1D")})
        raise BadConfigError(
            "LoRA cannot be attached to this model with the chosen target modules.",
            details=str(exc),
            advice=f"Set target modules to some of this model's layers: {', '.join(linear[:20])}.",
        ) from exc


def _training_args(spec: TrainSpec, plan):
    from transformers import TrainingArguments

    cfg = spec.config
    return TrainingArguments(
        output_dir=os.path.join(spec.output_dir, "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs if cfg.max_steps <= 0 else 1.0,
        max_steps=cfg.max_steps if cfg.max_steps > 0 else -1,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=cfg.save_steps if cfg.save_steps > 0 else 500,
        save_total_limit=3 if cfg.save_steps > 0 else None,
        seed=cfg.seed,
        data_seed=cfg.seed,
        disable_tqdm=True,
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=plan.device == "cuda",
        use_cpu=plan.device == "cpu",
        bf16=plan.bf16,
        fp16=plan.fp16,
    )


def _write_run_record(folder: str, spec: TrainSpec, env: dict[str, Any], result: dict[str, Any]) -> None:
    record = {
        "run_id": spec.run_id,
        "config": asdict(spec.config),
        "seed": spec.config.seed,
        "dataset_path": os.path.abspath(spec.dataset_path),
        "dataset_sha256": file_sha256(spec.dataset_path),
        "base_model_path": os.path.abspath(spec.base_model_path),
        "resumed_from": spec.resume_from,
        "environment": env,
        "device": env.get("device"),
        "finished_at": now_iso(),
        **result,
    }
    with open(os.path.join(folder, RUN_RECORD), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)


def run_train(spec: TrainSpec, writer: EventWriter) -> int:
    stop = StopSignal(spec.stop_file)
    stop.watch_stdin()
    steps = StepCounter()  # the callback advances it; the heartbeat reports it from the start
    with Heartbeat(writer, steps.get):
        return _train(spec, writer, stop, steps)


def _train(spec: TrainSpec, writer: EventWriter, stop: StopSignal, steps: StepCounter) -> int:
    _check_spec(spec)
    # Data first: a bad dataset fails in seconds, before torch/peft/Trainer are imported.
    name = spec.dataset_name or "the dataset"  # messages never name the blob file
    conversations = read_parquet_conversations(spec.dataset_path, name)
    tokenizer = load_tokenizer(spec.base_model_path)
    data = tokenize_all(tokenizer, conversations, spec.config.max_length, name)
    pad_id = pad_id_for(tokenizer)
    if stop.requested():
        writer.emit("cancelled", adapter_path=None, step=0)
        return 0

    from transformers import AutoModelForCausalLM, Trainer, set_seed

    from workbench.engine.devices import environment, pick_device
    from workbench.engine.train_events import EventCallback

    plan = pick_device("auto")
    env = environment(plan)
    # Before the model is built and LoRA attached: get_peft_model draws the adapter's initial
    # weights, and the Trainer seeds only later. Same seed, same run.
    set_seed(spec.config.seed)
    model = AutoModelForCausalLM.from_pretrained(
        spec.base_model_path, dtype=plan.torch_dtype(), trust_remote_code=False
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_id
    model = lora_model(model, spec)
    callback = EventCallback(writer, stop, steps, {
        "device": plan.device,
        "environment": env,
        "rows": data.rows,
        "usable_rows": len(data.examples),
        "dropped_rows": data.dropped_rows,
        "truncated_rows": data.truncated_rows,
    })
    trainer = Trainer(
        model=model,
        args=_training_args(spec, plan),
        train_dataset=ExampleDataset(data.examples),
        data_collator=Collator(pad_id),
        processing_class=tokenizer,
        callbacks=[callback],
    )

    try:
        trainer.train(resume_from_checkpoint=spec.resume_from or None)
    except Exception as exc:
        if is_oom(exc):
            cfg = spec.config
            writer.emit("failed", **failure_payload(exc, oom_advice=(
                f"The {plan.device} ran out of memory. Lower the batch size (now {cfg.batch_size}) "
                f"or the max length (now {cfg.max_length}), or use a smaller base model."
            )))
            return 1
        raise

    adapter_dir = os.path.join(spec.output_dir, "adapter")
    result = {
        "status": "cancelled" if callback.stopped_early else "completed",
        "steps": callback.step,
        "first_loss": callback.first_loss,
        "last_loss": callback.last_loss,
        "rows": data.rows,
        "usable_rows": len(data.examples),
    }

    def write(folder: str) -> None:
        model.save_pretrained(folder)
        # The tokenizer and chat template training used: chat renders prompts with these even
        # if the base model folder's template changes later.
        tokenizer.save_pretrained(folder)
        _write_run_record(folder, spec, env, result)

    adapter_path = atomic_folder(adapter_dir, write)
    if callback.stopped_early:
        writer.emit("cancelled", adapter_path=adapter_path, step=callback.step)
    else:
        writer.emit("completed", adapter_path=adapter_path, first_loss=callback.first_loss,
                    last_loss=callback.last_loss, steps=callback.step)
    return 0
