"""The training configuration: one typed record, its validation, presets, and config files.

Every knob the Train page, a config file and `workbench train` offer is a field here; the
engine maps them onto peft's LoraConfig and transformers' TrainingArguments (engine/train_args.py).
Validation names the field and says what to do, so the form can mark the field and a config
file's error can point at the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from workbench.core.chat_records import PREFERENCE_METHODS, TRAIN_METHODS
from workbench.core.errors import WorkbenchError

# One default max length for training and for the Datasets page's statistics.
DEFAULT_MAX_LENGTH = 256
# Below this not even a short chat-template turn fits (role markers alone take ~10 tokens).
MIN_MAX_LENGTH = 32

# The choices of the enumerated knobs: one source for validation, the form and the CLI.
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")  # auto: bf16 where the device has it, else fp16 (CUDA) / fp32
QUANTIZATIONS = ("none", "4bit", "8bit")  # QLoRA through bitsandbytes: CUDA only
LOSS_MODES = ("assistant", "all")  # which tokens carry the loss
ALL_LINEAR = "all-linear"  # peft's shorthand: every linear layer except the output head
# The methods a run can train with, all through TRL's trainers (engine/train_pref_trainers.py):
# ORPO from trl.experimental.orpo (no reference model); KTO takes unpaired rows, so each pair
# becomes a desirable and an undesirable row. A method of TRAIN_METHODS left out here is refused
# with a clear message.
TRAINABLE_METHODS = ("sft", "dpo", "orpo", "kto")
METHOD_NAMES = {"sft": "SFT", "dpo": "DPO", "orpo": "ORPO", "kto": "KTO"}


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid field: `field` is the TrainConfig field name, `message` says what to do."""

    field: str
    message: str


@dataclass(frozen=True)
class TrainConfig:
    """LoRA fine-tuning options. max_steps > 0 overrides epochs."""

    # -- the adapter
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    # None: the engine's default for the architecture; "all-linear"; or a list of layer names.
    target_modules: Union[None, str, list[str]] = None
    use_dora: bool = False
    use_rslora: bool = False
    quantization: str = "none"
    # -- the optimiser
    learning_rate: float = 2e-4
    lr_scheduler: str = "linear"
    warmup_ratio: float = 0.0  # fraction of the steps the learning rate ramps up over
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0  # 0 turns clipping off
    epochs: float = 1.0
    max_steps: int = 0
    batch_size: int = 4
    grad_accum: int = 1  # effective batch = batch_size x grad_accum
    # -- the data
    max_length: int = DEFAULT_MAX_LENGTH
    packing: bool = False  # several short conversations per row, no padding, no cross-attention
    loss_on: str = "assistant"
    # -- the machine
    precision: str = "auto"
    gradient_checkpointing: bool = False
    seed: int = 42
    # -- evaluation and checkpoints
    eval_steps: int = 50  # on the version's validation part when it has one; 0: never
    save_steps: int = 50  # 0: no periodic checkpoints (a run stopped with Cancel still saves one)
    keep_checkpoints: int = 3  # the last K periodic checkpoints are kept (the best one too)
    auto_retry_oom: bool = False  # on out-of-memory, retry with half the batch, double accumulation
    # -- the method: SFT on conversations, or DPO / ORPO / KTO on preference pairs (prompt, chosen, rejected)
    method: str = "sft"
    # DPO / KTO: how far the adapter may move from the reference model; ORPO: the weight of the
    # odds-ratio term beside the chosen reply's loss (the paper's lambda).
    beta: float = 0.1

    @property
    def is_preference(self) -> bool:
        return self.method in PREFERENCE_METHODS

    @property
    def rows_per_example(self) -> int:
        """Training rows per conversation or pair: KTO trains each pair as two unpaired rows."""
        return 2 if self.method == "kto" else 1

    @property
    def min_batch_size(self) -> int:
        """KTO estimates its KL term from the other rows of a batch: it needs two at least."""
        return 2 if self.method == "kto" else 1

    @property
    def effective_batch(self) -> int:
        return self.batch_size * self.grad_accum

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def problems(self) -> list[ConfigProblem]:
        """Problems a user must fix before a run can start (empty when valid)."""
        out: list[ConfigProblem] = []

        def bad(name: str, message: str) -> None:
            out.append(ConfigProblem(name, message))

        if self.r < 1:
            bad("r", "LoRA rank r must be at least 1 (typical: 8 to 64).")
        if self.alpha < 1:
            bad("alpha", "LoRA alpha must be at least 1 (typical: twice the rank).")
        if not 0.0 <= self.dropout < 1.0:
            bad("dropout", "LoRA dropout must be in [0, 1) (typical: 0.05).")
        tm = self.target_modules
        if isinstance(tm, str) and tm != ALL_LINEAR:
            bad("target_modules", f"Target modules must be {ALL_LINEAR!r}, a list of layer names, or empty "
                                  "for the architecture's default.")
        if isinstance(tm, list) and (not tm or not all(isinstance(m, str) and m.strip() for m in tm)):
            bad("target_modules", "Target modules must list at least one layer name (e.g. q_proj, v_proj).")
        if self.use_dora and self.quantization != "none":
            bad("use_dora", "DoRA cannot be combined with 4-bit/8-bit quantisation here: turn one of them off.")
        if self.quantization not in QUANTIZATIONS:
            bad("quantization", f"Quantisation must be one of {', '.join(QUANTIZATIONS)}.")
        if not 0.0 < self.learning_rate < 1.0:
            bad("learning_rate", "Learning rate must be between 0 and 1 (typical: 1e-4 to 5e-4).")
        if self.lr_scheduler not in SCHEDULERS:
            bad("lr_scheduler", f"Scheduler must be one of {', '.join(SCHEDULERS)}.")
        if not 0.0 <= self.warmup_ratio < 1.0:
            bad("warmup_ratio", "Warmup must be a fraction of the steps in [0, 1) (typical: 0.03).")
        if self.weight_decay < 0:
            bad("weight_decay", "Weight decay cannot be negative (typical: 0 to 0.1).")
        if self.max_grad_norm < 0:
            bad("max_grad_norm", "Max grad norm cannot be negative (typical: 1.0; 0 turns clipping off).")
        if self.max_steps < 0:
            bad("max_steps", "Max steps cannot be negative (0 means: train for the epochs).")
        if self.max_steps <= 0 and self.epochs <= 0:
            bad("epochs", "Set a number of epochs or a maximum number of steps.")
        if self.batch_size < 1:
            bad("batch_size", "Batch size must be at least 1.")
        if self.grad_accum < 1:
            bad("grad_accum", "Gradient accumulation must be at least 1 (1: update after every batch).")
        if self.max_length < MIN_MAX_LENGTH:
            bad("max_length", f"Max length must be at least {MIN_MAX_LENGTH} tokens "
                              "(a chat turn's role markers alone take about 10).")
        if self.loss_on not in LOSS_MODES:
            bad("loss_on", "Train on must be 'assistant' (the replies only) or 'all' (every token).")
        if self.precision not in PRECISIONS:
            bad("precision", f"Precision must be one of {', '.join(PRECISIONS)}.")
        if self.eval_steps < 0:
            bad("eval_steps", "Evaluate every N steps cannot be negative (0: never).")
        if self.save_steps < 0:
            bad("save_steps", "Save every N steps cannot be negative (0: only when stopped).")
        if self.keep_checkpoints < 1:
            bad("keep_checkpoints", "Keep at least 1 checkpoint, or the run cannot resume.")
        if self.method not in TRAIN_METHODS:
            bad("method", f"Method must be one of {', '.join(TRAINABLE_METHODS)} (got {self.method!r}).")
        elif self.method not in TRAINABLE_METHODS:
            bad("method", f"{METHOD_NAMES[self.method]} training is not available yet: use "
                          f"{' or '.join(TRAINABLE_METHODS)}.")
        if not 0.0 < self.beta <= 10.0:
            bad("beta", "Beta must be above 0 and at most 10 (typical: 0.1; higher keeps the adapter "
                        "closer to the reference model).")
        if self.method == "kto" and self.batch_size < self.min_batch_size:
            bad("batch_size", "KTO needs a batch size of at least 2: it estimates its KL term from the other "
                              "rows of the batch.")
        if self.is_preference and self.packing:
            bad("packing", f"Packing is for SFT: {METHOD_NAMES.get(self.method, self.method)} compares whole "
                           "chosen and rejected replies, so turn packing off.")
        return out

    def validate(self) -> list[str]:
        """The problems as messages that start with the field's label."""
        return [f"{FIELD_LABELS.get(p.field, p.field)}: {p.message}" for p in self.problems()]


# What the form, tooltips and file errors call each field.
FIELD_LABELS = {
    "r": "LoRA rank", "alpha": "LoRA alpha", "dropout": "LoRA dropout", "target_modules": "Target modules",
    "use_dora": "DoRA", "use_rslora": "rsLoRA", "quantization": "Quantisation",
    "learning_rate": "Learning rate", "lr_scheduler": "Scheduler", "warmup_ratio": "Warmup",
    "weight_decay": "Weight decay", "max_grad_norm": "Max grad norm", "epochs": "Epochs",
    "max_steps": "Max steps", "batch_size": "Batch size", "grad_accum": "Gradient accumulation",
    "max_length": "Max length", "packing": "Packing", "loss_on": "Train on", "precision": "Precision",
    "gradient_checkpointing": "Gradient checkpointing", "seed": "Seed", "eval_steps": "Evaluate every",
    "save_steps": "Save every", "keep_checkpoints": "Keep checkpoints", "auto_retry_oom": "Auto-retry on OOM",
    "method": "Method", "beta": "Beta",
}

# Presets change the knobs that set a run's length and capacity; the others keep the user's values.
PRESETS: dict[str, dict[str, Any]] = {
    # Minutes: does the pipeline work, does the loss fall at all.
    "quick test": {"r": 8, "alpha": 16, "learning_rate": 3e-4, "lr_scheduler": "constant",
                   "warmup_ratio": 0.0, "max_steps": 30, "epochs": 1.0, "eval_steps": 10, "save_steps": 10},
    # One pass over the data with a cosine schedule: a sound default.
    "balanced": {"r": 16, "alpha": 32, "learning_rate": 2e-4, "lr_scheduler": "cosine",
                 "warmup_ratio": 0.03, "max_steps": 0, "epochs": 1.0, "weight_decay": 0.0,
                 "eval_steps": 50, "save_steps": 50},
    # More capacity (every linear layer, higher rank), three passes, a lower rate.
    "quality": {"r": 32, "alpha": 64, "target_modules": ALL_LINEAR, "use_rslora": True,
                "learning_rate": 1e-4, "lr_scheduler": "cosine", "warmup_ratio": 0.05, "max_steps": 0,
                "epochs": 3.0, "weight_decay": 0.01, "eval_steps": 100, "save_steps": 100},
}


def apply_preset(config: TrainConfig, name: str) -> TrainConfig:
    if name not in PRESETS:
        raise WorkbenchError(f"There is no preset called {name!r}.", advice=f"Use one of: {', '.join(PRESETS)}.")
    return config.replace(**PRESETS[name])


_FIELD_TYPES = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value: Any, where: str) -> Any:
    """A file's value as the field's type (ints written as 2e-4-style floats stay floats)."""
    default = _FIELD_TYPES[name].default
    label = FIELD_LABELS.get(name, name)
    if name == "target_modules":
        if value is None or value == "" or value == []:
            return None
        if isinstance(value, str):
            return value if value == ALL_LINEAR else [m.strip() for m in value.split(",") if m.strip()]
        if isinstance(value, list):
            return [str(m) for m in value]
    elif isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 2e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    raise WorkbenchError(
        f"{where}: `{name}` ({label}) has the value {value!r}, which is not a {type(default).__name__}.",
        advice=f"Write {name}: {default!r} or another {type(default).__name__}.")


def config_from_mapping(data: dict[str, Any], where: str = "The configuration") -> TrainConfig:
    """A TrainConfig from a dict; unknown keys are errors that suggest the nearest known key."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _FIELD_TYPES:
            near = difflib.get_close_matches(key, list(_FIELD_TYPES), n=1)
            raise WorkbenchError(
                f"{where}: `{key}` is not a training setting.",
                advice=(f"Did you mean `{near[0]}`? " if near else "")
                + f"Known settings: {', '.join(_FIELD_TYPES)}.")
        values[key] = _coerce(key, value, where)
    return TrainConfig(**values)


@dataclass(frozen=True)
class ConfigFile:
    """A saved run setup: the knobs, and optionally what to train and on what."""

    config: TrainConfig
    base_model: Optional[str] = None  # a model's name, id, built-in kind or folder
    dataset: Optional[str] = None  # a dataset name or version id
    name: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)


_FILE_KEYS = ("base_model", "dataset", "name")


def _parse(text: str, path: str) -> Any:
    if path.lower().endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise WorkbenchError(f"{path} is not valid YAML.", details=str(exc),
                                 advice="Fix the line the details name, or save the settings again.") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WorkbenchError(f"{path} is not valid JSON.", details=str(exc),
                             advice="Fix the position the details name, or save the settings again.") from exc


def load_config_file(path: str) -> ConfigFile:
    """Read a JSON or YAML run setup: training settings at the top level or under `config`."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise WorkbenchError(f"Cannot read the config file {path}.", details=str(exc),
                             advice="Check the path and that the file is readable.") from exc
    data = _parse(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorkbenchError(f"{path} does not hold a mapping of settings.",
                             advice="Write one `setting: value` per line (YAML) or a JSON object.")
    settings = dict(data.get("config") or {}) if isinstance(data.get("config"), dict) else {}
    settings.update({k: v for k, v in data.items() if k not in _FILE_KEYS and k != "config"})
    config = config_from_mapping(settings, where=os.path.basename(path))
    return ConfigFile(config=config, **{k: (str(data[k]) if data.get(k) is not None else None) for k in _FILE_KEYS})


def save_config_file(path: str, config: TrainConfig, base_model: Optional[str] = None,
                     dataset: Optional[str] = None, name: Optional[str] = None) -> str:
    """Write a run setup as YAML (.yaml/.yml) or JSON (anything else), atomically."""
    data: dict[str, Any] = {k: v for k, v in (("name", name), ("base_model", base_model), ("dataset", dataset)) if v}
    data["config"] = dataclasses.asdict(config)
    if path.lower().endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
