"""Will it fit: the peak memory of a LoRA training run, estimated before launch, in parts.

    peak = weights + adapter + optimizer state + gradients + activations + logits + overhead

Measured against real children (tests/engine/test_memory_fit.py, CPU, torch 2.13, transformers
5.24, peft 0.21): the tiny demo GPT-2 and SmolLM2-135M at several batch sizes, lengths, with and
without gradient checkpointing, fall within about 10% of the child's peak RSS. The CUDA numbers
follow the same arithmetic at 16-bit; they have not been measured on a GPU here.

Activations are counted in values saved for backward per token per decoder layer. These were
counted with torch.autograd.graph.saved_tensors_hooks on llama- and GPT-2-shaped models of
several widths (sdpa attention, LoRA r=8, fp32):
    6 h + 2 kv + c i        (c = 3 for a gated MLP: gate, up, silu(gate); 4 for GPT-2's gelu_new)
plus, per module carrying LoRA: r (lora_A's output), its input again when LoRA dropout is on
(the dropped copy lora_A keeps), and its input when nothing else keeps it (o_proj, down_proj...).
SmolLM2 (h 576, kv 192, i 1536, q/v LoRA): formula 9616, counted 9590.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from workbench.core.model_shape import Linear, ModelShape
from workbench.core.train_config import ALL_LINEAR, TrainConfig

MIB = 2**20
GIB = 2**30

# peft's default LoRA targets per architecture (peft.utils.constants
# TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING, 0.21); other types fall back to q/v.
PEFT_DEFAULT_TARGETS = {
    "gpt2": ("c_attn",), "gpt_bigcode": ("c_attn",), "gpt_neox": ("query_key_value",),
    "falcon": ("query_key_value",), "bloom": ("query_key_value",), "mpt": ("Wqkv",),
    "phi": ("q_proj", "v_proj", "fc1", "fc2"),
}
FALLBACK_TARGETS = ("q_proj", "v_proj")

# The training child's own memory on CPU before any tensor: python, torch, transformers (its
# Trainer), peft, pyarrow and the event machinery. Measured as the ru_maxrss of a real training
# child on the tiny demo model at batch 1 x 32 tokens (479 MiB), less that run's few MiB of
# tensors; importing torch + transformers.Trainer + peft alone reads 427 MiB (VmRSS).
CPU_PROCESS_BASELINE = 472 * MIB
# A loaded fast tokenizer takes about 13x its tokenizer.json (SmolLM2: 3.4 MB file, +46 MiB RSS).
TOKENIZER_RSS_PER_FILE_BYTE = 13
# On CPU, glibc keeps freed blocks below its mmap threshold for reuse, so the peak RSS runs above
# the peak of live tensors: measured 1.13-1.4x (tiny and SmolLM2, 3 steps) on the activation part.
CPU_ALLOCATOR_FACTOR = 1.2
# CUDA: the context (kernels, cuBLAS handles) is outside torch's allocator (max_memory_allocated
# does not count it) but uses the GPU's memory; typical of CUDA 12 + torch 2.x. Not measured here.
CUDA_CONTEXT = 500 * MIB
# The caching allocator reserves more than it hands out (block rounding, fragmentation).
CUDA_RESERVED_FACTOR = 1.1
# 16-bit activations still keep a few fp32 tensors (RMSNorm/LayerNorm upcast, softmax stats).
MIXED_ACTIVATION_FACTOR = 1.2
# Bytes per stored weight under bitsandbytes: NF4 with double quantisation (0.5 + absmax scales),
# int8 with per-row scales. prepare_model_for_kbit_training upcasts what is not quantised to fp32.
QUANT_BYTES = {"4bit": 0.53, "8bit": 1.02}
# Preference methods that keep a frozen copy of the starting adapter as their reference (ORPO has none).
REFERENCE_METHODS = ("dpo", "kto")
PREFERENCE_NOTES = {
    "dpo": "DPO: chosen and rejected replies train together (twice the tokens of a batch), plus a reference "
           "pass without gradients; TRL computes log-probabilities in chunks, so the logits part is an upper bound.",
    "orpo": "ORPO: chosen and rejected replies train together (twice the tokens of a batch); no reference "
            "model, so no reference adapter or reference pass.",
    "kto": "KTO: each pair becomes two rows (chosen: desirable, rejected: undesirable), and each row goes through "
           "the model twice (itself and a mismatched reply for the KL term), plus a reference pass without "
           "gradients; the logits part is an upper bound.",
}
# Trainable LoRA weights are fp32 (peft's autocast_adapter_dtype): the weight, its gradient and
# AdamW's m and v. They are their own master copy: no separate fp32 copy is kept.
ADAPTER_BYTES, GRAD_BYTES, ADAM_BYTES = 4, 4, 8
# The loss path keeps, at its peak in backward: the logits, log_softmax's output, and the two
# gradients flowing through them, each batch x length x vocab in fp32 (16-bit runs add the
# 16-bit logits before transformers upcasts them).
LOGIT_COPIES_FP32 = 4


@dataclass(frozen=True)
class DeviceMemory:
    """Where a run would train and how much memory it could use."""

    kind: str  # "cuda" | "cpu"
    name: str
    free_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class MemoryEstimate:
    parts: list[tuple[str, int]]
    peak_bytes: int  # what the device must have free
    measured_bytes: int  # what the run's own counter should read (CUDA: max allocated; CPU: peak RSS)
    measured_kind: str  # "cuda_max_allocated" | "peak_rss"
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FitEstimate:
    """The estimate against a device: a verdict and what to change when it does not fit."""

    verdict: str  # "fits" | "tight" | "will not fit"
    peak_bytes: int
    available_bytes: int
    device_name: str
    parts: list[tuple[str, int]]
    suggestions: list[str]
    device_kind: str = "cpu"
    measured_bytes: int = 0  # comparable with a finished run's measured peak
    notes: list[str] = field(default_factory=list)


FITS, TIGHT, NO_FIT = "fits", "tight", "will not fit"
FITS_FRACTION = 0.8  # beyond 80% of what is free, other programs or a longer batch can tip it over


def verdict_for(peak: int, available: int) -> str:
    if peak <= FITS_FRACTION * available:
        return FITS
    return TIGHT if peak <= available else NO_FIT


def target_linears(shape: ModelShape, targets: Union[None, str, list[str]]) -> list[Linear]:
    """The layer modules LoRA attaches to, as peft matches them (by the name's last parts)."""
    if targets == ALL_LINEAR or targets == [ALL_LINEAR]:
        return list(shape.linears)
    names = targets or PEFT_DEFAULT_TARGETS.get(shape.model_type) or FALLBACK_TARGETS
    return [lin for lin in shape.linears
            if any(lin.path == n or lin.path.endswith("." + n) or lin.leaf == n for n in names)]


def _precision(config: TrainConfig, kind: str) -> tuple[int, int, str]:
    """(weight bytes, activation bytes, name) as engine/train_args.resolve_precision loads them."""
    if config.precision == "fp32" or (config.precision == "auto" and kind != "cuda"):
        return 4, 4, "fp32"
    if config.precision == "fp16":  # fp16 mixed precision keeps fp32 weights, 16-bit activations
        return 4, 2, "fp32 weights, fp16 compute"
    return 2, 2, "bf16" if config.precision == "bf16" else "16-bit"


def gb(n: float) -> str:
    return f"{n / GIB:.2f} GB" if n >= GIB / 10 else f"{n / MIB:.0f} MB"


def estimate_memory(shape: ModelShape, config: TrainConfig, kind: str) -> MemoryEstimate:
    """The run's peak memory on a `kind` ("cuda" or "cpu") device, in parts."""
    notes: list[str] = []
    w_bytes, a_bytes, precision = _precision(config, kind)
    quant = config.quantization if config.quantization in QUANT_BYTES and kind == "cuda" else "none"
    if config.quantization != "none" and quant == "none":
        notes.append(f"{config.quantization} quantisation needs a CUDA GPU: estimated without it.")
    if quant != "none":
        rest = shape.total_params - shape.layer_linear_params
        weights = int(shape.layer_linear_params * QUANT_BYTES[quant] + rest * 4)
        weight_name = f"weights ({quant}, embeddings and norms fp32)"
    else:
        weights = shape.total_params * w_bytes
        weight_name = f"weights ({precision})"
    if not shape.exact:
        notes.append("Parameter count from config.json (no safetensors headers): approximate.")

    targets = target_linears(shape, config.target_modules)
    if not targets:
        notes.append("No layer matches the target modules: the run will stop with an error.")
    r = config.r
    lora = shape.layers * sum(r * (t.in_features + t.out_features) for t in targets)
    if config.use_dora:
        lora += shape.layers * sum(t.out_features for t in targets)  # DoRA's magnitude vectors

    tokens = config.batch_size * config.max_length  # packing: at most a batch of full rows
    if config.is_preference:
        # DPO / ORPO: each pair's chosen and rejected sequences go through the model in one batch;
        # KTO: each row and a mismatched one (its KL term). The reference pass (DPO, KTO; no
        # gradients) reuses that memory before the policy pass.
        tokens *= 2
        notes.append(PREFERENCE_NOTES[config.method])
    if config.packing:
        notes.append("Packing: assumes each packed batch is full (batch x max length tokens); "
                      "rows shorter than max length use less.")
    per_layer = _layer_values(shape, targets, config) * a_bytes * tokens
    if config.gradient_checkpointing:
        # Each layer keeps only its input; backward recomputes one layer and holds its gradients.
        saved = shape.layers * shape.hidden * a_bytes * tokens + 2 * per_layer
        act_name = "activations (gradient checkpointing)"
    else:
        saved = (shape.layers + 1) * per_layer  # + one layer's gradients in flight in backward
        act_name = "activations"
    if a_bytes == 2:
        saved = int(saved * MIXED_ACTIVATION_FACTOR)
    logits = tokens * shape.vocab * (4 * LOGIT_COPIES_FP32 + (2 if a_bytes == 2 else 0))
    mask = tokens * tokens * (1 + a_bytes) if config.packing else 0  # block-diagonal mask: bool + additive
    dora_tmp = max((t.in_features * t.out_features * 4 for t in targets), default=0) if config.use_dora else 0

    parts = [(weight_name, weights), ("LoRA adapter (fp32)", lora * ADAPTER_BYTES),
             ("optimizer state (AdamW m and v, fp32)", lora * ADAM_BYTES), ("gradients (fp32)", lora * GRAD_BYTES),
             (act_name, int(saved)), ("logits and loss (fp32)", logits)]
    if config.method in REFERENCE_METHODS:  # TRL keeps a frozen copy of the starting adapter as the reference
        parts.append((f"reference adapter ({config.method.upper()}, fp32)", lora * ADAPTER_BYTES))
    if mask:
        parts.append(("packing attention mask", mask))
    if dora_tmp:
        parts.append(("DoRA weight-norm temporary", dora_tmp))
    compute = int(saved) + logits + mask + dora_tmp
    if kind == "cuda":
        tensors = sum(b for _, b in parts)
        parts.append(("CUDA allocator reserve", int(tensors * (CUDA_RESERVED_FACTOR - 1))))
        parts.append(("CUDA context", CUDA_CONTEXT))
        return MemoryEstimate(parts, sum(b for _, b in parts), tensors, "cuda_max_allocated", notes)
    parts.append(("allocator (freed, kept by the process)", int(compute * (CPU_ALLOCATOR_FACTOR - 1))))
    parts.append(("tokenizer", shape.tokenizer_bytes * TOKENIZER_RSS_PER_FILE_BYTE))
    parts.append(("python, torch, transformers", CPU_PROCESS_BASELINE))
    total = sum(b for _, b in parts)
    return MemoryEstimate(parts, total, total, "peak_rss", notes)


def _layer_values(shape: ModelShape, targets: list[Linear], config: TrainConfig) -> float:
    """Values one decoder layer keeps for backward, per token (see the module docstring)."""
    kv = shape.kv_heads * shape.head_dim
    values = 6 * shape.hidden + 2 * kv + (3 if shape.gated_mlp else 4) * shape.intermediate
    for t in targets:
        values += config.r
        if config.dropout > 0:
            values += t.in_features
        if not t.input_kept:
            values += t.in_features
    if shape.resid_dropout > 0:
        values += shape.hidden
    if shape.attn_dropout > 0:
        # Attention dropout needs the probabilities: sdpa falls back to the math path, which keeps
        # scores, probabilities and the dropout mask, heads x length per token.
        values += 3 * shape.heads * config.max_length
    return values

