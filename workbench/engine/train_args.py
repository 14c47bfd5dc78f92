"""TrainConfig -> the field's own objects: peft's LoraConfig, transformers' TrainingArguments,
the dtype and quantisation the base model loads with. Every knob is mapped here, in one place."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any, Optional

from workbench.core.train_config import ALL_LINEAR, TrainConfig
from workbench.engine.devices import DevicePlan
from workbench.engine.errors import BadConfigError

CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class Precision:
    dtype: str  # torch dtype the weights load in
    bf16: bool  # Trainer mixed-precision flags
    fp16: bool

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp16" if self.fp16 else "fp32"


def resolve_precision(config: TrainConfig, plan: DevicePlan) -> Precision:
    """auto: bf16 where the device has it, else fp16 on CUDA, else fp32."""
    want = config.precision
    if want == "auto":
        return Precision(plan.dtype, plan.bf16, plan.fp16)
    if want == "fp32":
        return Precision("float32", False, False)
    if want == "fp16":
        if plan.device != "cuda":
            raise BadConfigError(
                f"Precision fp16 needs a CUDA GPU; this run is on {plan.name}.",
                advice="Choose precision auto (fp32 on this device) or bf16, which CPUs support.")
        # fp16 mixed precision keeps fp32 master weights: the trainable LoRA weights must be fp32,
        # which they are (peft creates them in the base layer's dtype only for 16-bit loads).
        return Precision("float32", False, True)
    if plan.device == "cuda" and not plan.bf16:
        raise BadConfigError(f"{plan.name} does not support bf16.",
                             advice="Choose precision auto or fp16 for this GPU.")
    if plan.device == "mps":
        raise BadConfigError("bf16 training is not supported on Apple MPS here.", advice="Choose precision auto.")
    return Precision("bfloat16", True, False)


def quantization_problem(config: TrainConfig, plan: DevicePlan) -> Optional[str]:
    """Why 4-/8-bit loading cannot be used here (None when it can or is not asked for)."""
    if config.quantization == "none":
        return None
    if plan.device != "cuda":
        return f"QLoRA ({config.quantization}) needs a CUDA GPU; this run is on {plan.name}."
    if importlib.util.find_spec("bitsandbytes") is None:
        return "QLoRA needs the bitsandbytes package, which is not installed (pip install bitsandbytes)."
    return None


def model_load_kwargs(config: TrainConfig, plan: DevicePlan, precision: Precision) -> dict[str, Any]:
    import torch

    kwargs: dict[str, Any] = {"dtype": getattr(torch, precision.dtype), "trust_remote_code": False}
    problem = quantization_problem(config, plan)
    if problem:
        raise BadConfigError(problem, advice="Set quantisation to none, or train on a machine with an NVIDIA GPU.")
    if config.quantization != "none":
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if precision.bf16 else torch.float16
        kwargs["quantization_config"] = (
            BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=compute)
            if config.quantization == "4bit" else BitsAndBytesConfig(load_in_8bit=True))
        kwargs["dtype"] = compute
        kwargs["device_map"] = {"": 0}
    return kwargs


def linear_layer_names(model) -> list[str]:
    """The model's own linear layer names (the form offers these as target modules)."""
    names = set()
    for name, module in model.named_modules():
        if type(module).__name__ in ("Linear", "Conv1D", "Linear4bit", "Linear8bitLt"):
            names.add(name.rsplit(".", 1)[-1])
    names.discard("lm_head")
    return sorted(names)


def lora_config(config: TrainConfig):
    from peft import LoraConfig

    targets: Any = config.target_modules
    if isinstance(targets, list) and targets == [ALL_LINEAR]:
        targets = ALL_LINEAR
    return LoraConfig(
        r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout, bias="none",
        task_type="CAUSAL_LM", target_modules=targets or None,
        use_dora=config.use_dora, use_rslora=config.use_rslora,
    )


def attach_lora(model, config: TrainConfig):
    from peft import get_peft_model, prepare_model_for_kbit_training

    if config.quantization != "none":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    try:
        return get_peft_model(model, lora_config(config))
    except ValueError as exc:
        layers = linear_layer_names(model)
        raise BadConfigError(
            "LoRA cannot be attached to this model with the chosen target modules.",
            details=str(exc),
            advice=f"Set target modules to {ALL_LINEAR!r} or to some of this model's layers: "
                   f"{', '.join(layers[:20])}.",
        ) from exc


def start_lora(model, config: TrainConfig, init_adapter_path: Optional[str]):
    """A new LoRA adapter on `model`, or (init_adapter_path) an existing one loaded trainable, so a
    run continues from an earlier run's adapter (e.g. DPO after SFT) with that adapter's own shape."""
    if not init_adapter_path:
        return attach_lora(model, config)
    from peft import PeftModel

    if not os.path.isfile(os.path.join(init_adapter_path, "adapter_config.json")):
        raise BadConfigError(f"The adapter to start from is missing: {init_adapter_path} has no adapter_config.json.",
                             advice="Start from another run's adapter, or from the base model.")
    if config.quantization != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False})
    try:
        return PeftModel.from_pretrained(model, init_adapter_path, is_trainable=True)
    except (ValueError, RuntimeError, KeyError) as exc:  # another base model's adapter: shapes differ
        raise BadConfigError(f"The adapter in {init_adapter_path} does not fit this base model.",
                             details=f"{type(exc).__name__}: {exc}",
                             advice="Start from an adapter trained on the same base model.") from exc


def training_arguments(config: TrainConfig, output_dir: str, plan: DevicePlan, precision: Precision,
                       has_eval: bool, args_class: Any = None, **extra: Any):
    """transformers' TrainingArguments, or `args_class` (a subclass: TRL's DPOConfig) with `extra`."""
    from transformers import TrainingArguments

    evaluate = has_eval and config.eval_steps > 0
    save = config.save_steps > 0
    return (args_class or TrainingArguments)(
        output_dir=os.path.join(output_dir, CHECKPOINTS),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        num_train_epochs=config.epochs if config.max_steps <= 0 else 1.0,
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        logging_strategy="steps",
        logging_steps=1,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=config.eval_steps if evaluate else None,
        # The best checkpoint (by eval loss) is kept out of rotation; EventCallback forces a save
        # at each new best evaluation so that checkpoint exists.
        metric_for_best_model="eval_loss" if evaluate else None,
        greater_is_better=False if evaluate else None,
        save_strategy="steps" if save else "no",
        save_steps=config.save_steps if save else 500,
        save_total_limit=config.keep_checkpoints if save else None,
        gradient_checkpointing=config.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if config.gradient_checkpointing else None,
        include_num_input_tokens_seen="non_padding",
        # Every LoRA weight gets a gradient each step: DDP need not search for unused ones.
        ddp_find_unused_parameters=False,
        seed=config.seed,
        data_seed=config.seed,
        disable_tqdm=True,
        report_to=[],
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=plan.device == "cuda",
        use_cpu=plan.device == "cpu",
        bf16=precision.bf16,
        fp16=precision.fp16,
        **extra,
    )
