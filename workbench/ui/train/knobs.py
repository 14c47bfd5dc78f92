"""What the Train form shows for each TrainConfig field: its label, its tooltip (what it does and
a good value), the choices of the enumerated ones, where it sits (basics or an advanced group).

One source: the form builds its widgets from these tables, and a test checks that every
TrainConfig field has a place, a widget and a tooltip.
"""

from __future__ import annotations

from typing import Optional

from workbench.core.train_config import ALL_LINEAR, FIELD_LABELS, PRESETS, TrainConfig

# The knobs a first run needs; the rest sit behind "Advanced".
BASIC_FIELDS = ("method", "beta", "epochs", "max_steps", "learning_rate", "batch_size", "max_length", "r", "alpha")
ADVANCED_GROUPS = (
    ("Adapter", ("dropout", "target_modules", "use_dora", "use_rslora", "quantization")),
    ("Optimiser", ("lr_scheduler", "warmup_ratio", "weight_decay", "max_grad_norm", "grad_accum")),
    ("Data", ("packing", "loss_on")),
    ("Machine", ("precision", "gradient_checkpointing", "seed")),
    ("Evaluation && checkpoints", ("eval_steps", "save_steps", "keep_checkpoints", "auto_retry_oom")),
)

# The form's labels: FIELD_LABELS, with a unit or a hint where the bare name is unclear.
LABELS = {**FIELD_LABELS, "r": "LoRA rank r", "max_length": "Max length (tokens)", "warmup_ratio": "Warmup ratio",
          "eval_steps": "Evaluate every (steps)", "save_steps": "Save every (steps)",
          "keep_checkpoints": "Keep last (checkpoints)", "beta": "Beta (preference)"}
# Check boxes carry their label as their text.
CHECK_TEXTS = {
    "use_dora": "DoRA (weight-decomposed LoRA)",
    "use_rslora": "rsLoRA (rank-stabilised scaling)",
    "packing": "Pack short conversations into full rows",
    "gradient_checkpointing": "Gradient checkpointing (less memory, slower)",
    "auto_retry_oom": "On out-of-memory, retry with half the batch",
}

TIPS = {
    "r": "The adapter's capacity: the rank of the low-rank update added to each target layer. "
         "Good value: 8–16 for a few hundred conversations, 32–64 for large or varied data.",
    "alpha": "Scales the adapter's update (the effective scale is alpha / r). "
             "Good value: twice the rank (r 16 → alpha 32).",
    "dropout": "Randomly drops adapter inputs while training, against overfitting small data. "
               "Good value: 0.05; 0.1 for a few dozen rows; 0 for large data.",
    "target_modules": "Which of the model's layers get an adapter. The architecture's default is its "
                      "attention projections; all-linear adapts every linear layer (more capacity, more memory); "
                      "or choose the layers yourself. Good value: the default for a first run, all-linear for quality.",
    "use_dora": "DoRA splits each update into a direction and a magnitude: often a little better than LoRA "
                "at the same rank, ~20% slower. Good value: off for a first run. Not with 4/8-bit quantisation.",
    "use_rslora": "Rank-stabilised LoRA scales the update by alpha / √r instead of alpha / r, so high ranks "
                  "keep learning. Good value: on when r ≥ 32, otherwise off.",
    "quantization": "QLoRA: load the base model in 4-bit (or 8-bit) to train a model that would not fit "
                    "otherwise; slower, slightly less exact. Needs a CUDA GPU and bitsandbytes. "
                    "Good value: none when the model fits; 4-bit when it does not.",
    "learning_rate": "How big each optimisation step is. Too high: the loss jumps or explodes; too low: it "
                     "barely falls. Good value: 1e-4 to 5e-4 for real models (2e-4 is a safe start); "
                     "the tiny demo model likes 5e-3.",
    "lr_scheduler": "How the learning rate changes over the run. Good value: cosine (or linear) decay; "
                    "constant for quick tests.",
    "warmup_ratio": "The fraction of the steps over which the learning rate ramps up from 0, which steadies "
                    "the first updates. Good value: 0.03 (3%); 0 for very short runs.",
    "weight_decay": "Pulls the adapter's weights toward zero, a mild guard against overfitting. "
                    "Good value: 0 to 0.01.",
    "max_grad_norm": "Clips each step's gradient to this size, so one odd batch cannot throw training off. "
                     "Good value: 1.0; 0 turns clipping off.",
    "epochs": "How many passes over the data (ignored when Max steps is set). "
              "Good value: 1–3; more passes on small data overfit.",
    "max_steps": "Stop after this many optimisation steps; overrides epochs. Good value: 0 (use epochs); "
                 "30–100 for a quick test.",
    "batch_size": "Conversations per forward pass: more uses more memory and gives smoother steps. "
                  "Good value: as large as fits, 4–16; raise gradient accumulation instead when memory is short.",
    "grad_accum": "Add up the gradients of this many batches before one optimisation step: a larger effective "
                  "batch without more memory. Good value: 1; 4–8 when the batch size must be small.",
    "max_length": "Conversations are cut to this many tokens (longer ones lose their end; one whose first "
                  "reply starts beyond it is dropped). Memory grows with it. Good value: a little above "
                  "your typical conversation, 512–2048; the check below counts what it cuts.",
    "packing": "Put several short conversations in one row (no padding, no attention across them): "
               "faster on data of short chats, the same loss. Good value: on for short conversations.",
    "loss_on": "Which tokens the model learns to produce: only the assistant's replies (it learns to answer, "
               "not to write questions) or every token. Good value: assistant replies only.",
    "precision": "The number format of training: auto picks bf16 where the device has it, else fp16 on CUDA "
                 "and fp32 on CPU. Good value: auto.",
    "gradient_checkpointing": "Recompute activations in the backward pass instead of keeping them: much less "
                              "memory for long rows, ~30% slower. Good value: on when memory is tight.",
    "seed": "The random seed for shuffling and initialisation: the same seed and data give the same run. "
            "Good value: any; keep it fixed to compare settings.",
    "eval_steps": "Compute the loss on the version's validation part every N steps (and keep the best "
                  "checkpoint). Needs a version that is the train part of a split. Good value: 50–200; 0: never.",
    "save_steps": "Save a checkpoint every N steps, so a stopped or crashed run can resume. "
                  "Good value: 50–500; 0: only when you stop the run.",
    "keep_checkpoints": "How many of the newest periodic checkpoints to keep on disk (the best one is kept "
                        "too). Good value: 2–3.",
    "auto_retry_oom": "When the run runs out of memory, start again with half the batch size and twice the "
                      "gradient accumulation (the same effective batch). Good value: on for unattended runs.",
    "method": "SFT teaches the model to write the replies of a conversation dataset. DPO (direct preference "
              "optimisation) teaches it to prefer the chosen reply of each pair over the rejected one, on a "
              "preference version (pairs from an import or from chat votes and corrections). ORPO does both at "
              "once (learns the chosen reply and prefers it) without a reference model, so it can start from "
              "the base model and needs less memory. KTO judges each reply on its own (chosen: good, "
              "rejected: bad). Good value: SFT first; then DPO on preference pairs, starting from the SFT "
              "run's adapter.",
    "beta": "DPO and KTO: how far the model may move from its reference (the model it starts from): low values "
            "follow the preferences more strongly, high values stay closer to the start. ORPO: the weight of "
            "the preference term beside learning the chosen reply. Not used by SFT. "
            "Good value: 0.1 (0.05–0.5) for DPO and KTO; 0.1–1 for ORPO.",
}

SCHEDULER_LABELS = {"linear": "linear decay", "cosine": "cosine decay", "cosine_with_restarts": "cosine with restarts",
                    "polynomial": "polynomial decay", "constant": "constant", "constant_with_warmup": "constant after warmup"}
PRECISION_LABELS = {"auto": "auto", "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"}
QUANTIZATION_LABELS = {"none": "none", "4bit": "4-bit (QLoRA)", "8bit": "8-bit"}
LOSS_LABELS = {"assistant": "assistant replies only", "all": "all tokens"}
METHOD_LABELS = {"sft": "SFT (conversations)", "dpo": "DPO (preference pairs)",
                 "orpo": "ORPO (preference pairs)", "kto": "KTO (preference pairs, unpaired)"}
CHOICE_LABELS = {"lr_scheduler": SCHEDULER_LABELS, "precision": PRECISION_LABELS,
                 "quantization": QUANTIZATION_LABELS, "loss_on": LOSS_LABELS, "method": METHOD_LABELS}

# (minimum, maximum, step, decimals) of the numeric knobs. The ranges admit invalid values on
# purpose (rank 0, dropout 1): TrainConfig.problems() is the one judge and says what to change.
INT_RANGES = {"r": (0, 1024, 1), "alpha": (0, 4096, 1), "max_steps": (0, 10_000_000, 10),
              "batch_size": (0, 4096, 1), "grad_accum": (0, 1024, 1), "max_length": (0, 131_072, 64),
              "seed": (0, 2**31 - 1, 1), "eval_steps": (0, 10_000_000, 10), "save_steps": (0, 10_000_000, 10),
              "keep_checkpoints": (0, 1000, 1)}
FLOAT_RANGES = {"dropout": (0.0, 1.0, 0.05, 2), "warmup_ratio": (0.0, 1.0, 0.01, 3),
                "weight_decay": (0.0, 10.0, 0.01, 3), "max_grad_norm": (0.0, 1000.0, 0.1, 2),
                "epochs": (0.0, 1000.0, 0.5, 2), "beta": (0.0, 10.0, 0.05, 3)}
# What a spin box shows at its minimum, where 0 means something.
SPECIAL_ZERO = {"max_steps": "use epochs", "eval_steps": "never", "save_steps": "only when stopped",
                "max_grad_norm": "off (no clipping)"}

CUSTOM = "custom"
PRESET_TIPS = {
    "quick test": "Minutes: 30 steps at a constant rate, to see that the pipeline works and the loss falls.",
    "balanced": "One pass over the data with a cosine schedule, rank 16: a sound default.",
    "quality": "Three passes, rank 32 with rsLoRA on every linear layer, a lower rate: more capacity, "
               "more time and memory.",
    CUSTOM: "Your own values. Picking a preset sets the run's length, rank, rate and schedule; "
            "the other knobs keep their values.",
}
PRESET_TIP = ("Presets set the run's length, rank, learning rate and schedule in one go; the other "
              "knobs keep your values. It shows the preset the form matches, custom after you change one "
              "of them. Good value: quick test first, then balanced.")


def matching_preset(config: TrainConfig) -> str:
    """The preset whose every value `config` has, else "custom"."""
    for name, values in PRESETS.items():
        if all(_same(getattr(config, k), v) for k, v in values.items()):
            return name
    return CUSTOM


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= 1e-12 * max(1, abs(b))
    return a == b


def targets_text(value: Optional[object]) -> str:
    """How a run's target modules read in a summary."""
    if value is None:
        return "architecture default"
    if value == ALL_LINEAR:
        return ALL_LINEAR
    return ", ".join(value) if isinstance(value, list) else str(value)


def number_text(value: float) -> str:
    """A learning rate as the user would type it (2e-4 → "0.0002"), exact on the way back."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def tooltip(name: str, extra: str = "") -> str:
    """A knob's tooltip as rich text (Qt wraps only rich-text tooltips): its name, what it
    does, and the good value on a line of its own."""
    import html

    text = TIPS[name]
    what, _, good = text.partition("Good value:")
    out = f"<b>{html.escape(LABELS[name])}</b><br>{html.escape(what.strip())}"
    if good:
        out += f"<br><br><b>Good value:</b> {html.escape(good.strip())}"
    return out + (f"<br><br>{extra}" if extra else "")
