"""A model's shape from its folder, without torch: config.json and the safetensors headers.

The memory estimate (core/memory_estimate.py) needs the sizes that set a training run's memory:
hidden size, layers, heads, the MLP width, the vocabulary, and the exact parameter count and the
layers' linear modules (LoRA's targets). A safetensors file starts with an 8-byte little-endian
header length and a JSON header naming every tensor's dtype and shape, so the count is exact and
costs one small read per file.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from typing import Any, Optional

from workbench.core.errors import ModelError

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
# GPT-2 keeps its linear weights as Conv1D, stored [in, out]; every other family stores [out, in].
CONV1D_TYPES = ("gpt2",)
# Layers whose input is saved for backward only when they carry LoRA: they take the attention
# output or the MLP's inner activation, which nothing else keeps. The others read the normalised
# hidden state, which the norm keeps anyway.
OUTPUT_PROJECTIONS = ("o_proj", "out_proj", "dense", "c_proj", "down_proj", "fc2", "dense_4h_to_h", "wo", "w2")
_LAYER = re.compile(r"^(?:.*\.)?(?:layers|h|blocks|layer)\.(\d+)\.(.+)\.weight$")
_MAX_HEADER = 100 * 2**20  # a header larger than this is not a safetensors file


@dataclass(frozen=True)
class Linear:
    """One linear module of a decoder layer: `path` inside the layer (e.g. self_attn.q_proj)."""

    path: str
    in_features: int
    out_features: int

    @property
    def leaf(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def input_kept(self) -> bool:
        """Whether backward keeps this layer's input even without LoRA on it."""
        return self.leaf not in OUTPUT_PROJECTIONS


@dataclass(frozen=True)
class ModelShape:
    model_type: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    gated_mlp: bool  # SwiGLU-style gate * up (llama, qwen, mistral, gemma...)
    attn_dropout: float
    resid_dropout: float
    total_params: int
    layer_linear_params: int  # what 4-/8-bit quantisation shrinks (embeddings and norms stay)
    linears: tuple[Linear, ...]  # one decoder layer's linear modules
    exact: bool  # the counts come from the safetensors headers (else from config.json)
    tokenizer_bytes: int = 0  # tokenizer.json's size on disk


def _get(cfg: dict[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if cfg.get(name) is not None:
            return cfg[name]
    return default


def read_safetensors_header(path: str) -> dict[str, Any]:
    """The JSON header of one .safetensors file: tensor name -> {dtype, shape, data_offsets}."""
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("shorter than 8 bytes")
            (length,) = struct.unpack("<Q", raw)
            if not 0 < length <= _MAX_HEADER:
                raise ValueError(f"header length {length}")
            raw = f.read(length)
            if len(raw) != length:
                raise ValueError(f"the header says {length} bytes, the file has {len(raw)}")
            header = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot read the weights file {os.path.basename(path)}.", details=f"{path}: {exc}",
                         advice="The file may be incomplete: copy or download the model again.") from exc
    header.pop("__metadata__", None)
    return header


def weight_files(folder: str) -> list[str]:
    """The folder's safetensors files (all shards of an index); empty for .bin-only models."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(index):
        try:
            with open(index, encoding="utf-8") as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
            return [os.path.join(folder, s) for s in shards]
        except (OSError, ValueError, KeyError):
            pass
    single = os.path.join(folder, "model.safetensors")
    return [single] if os.path.isfile(single) else []


def _config_linears(model_type: str, h: int, q: int, kv: int, i: int) -> tuple[Linear, ...]:
    """A layer's linear modules from config.json alone, per family."""
    if model_type in ("gpt2", "gpt_bigcode"):
        return (Linear("attn.c_attn", h, q + 2 * kv), Linear("attn.c_proj", q, h),
                Linear("mlp.c_fc", h, i), Linear("mlp.c_proj", i, h))
    if model_type in ("gpt_neox", "falcon", "bloom"):
        return (Linear("attention.query_key_value", h, q + 2 * kv), Linear("attention.dense", q, h),
                Linear("mlp.dense_h_to_4h", h, i), Linear("mlp.dense_4h_to_h", i, h))
    return (Linear("self_attn.q_proj", h, q), Linear("self_attn.k_proj", h, kv), Linear("self_attn.v_proj", h, kv),
            Linear("self_attn.o_proj", q, h), Linear("mlp.gate_proj", h, i), Linear("mlp.up_proj", h, i),
            Linear("mlp.down_proj", i, h))


def _header_linears(headers: list[dict[str, Any]], conv1d: bool) -> tuple[tuple[Linear, ...], int]:
    """Layer 0's 2-D weights as linear modules, and every layer's linear parameter count."""
    first: dict[str, Linear] = {}
    layer_linear = 0
    for header in headers:
        for name, info in header.items():
            m = _LAYER.match(name)
            shape = info.get("shape") or []
            if not m or len(shape) != 2:
                continue
            layer_linear += shape[0] * shape[1]
            if m.group(1) == "0":
                n_in, n_out = (shape[0], shape[1]) if conv1d else (shape[1], shape[0])
                first[m.group(2)] = Linear(m.group(2), n_in, n_out)
    return tuple(first[k] for k in sorted(first)), layer_linear


def shape_from_config(cfg: dict[str, Any], headers: Optional[list[dict[str, Any]]] = None,
                      tokenizer_bytes: int = 0) -> ModelShape:
    """The shape from a config.json dict, exact where the safetensors headers are given."""
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    model_type = str(text.get("model_type") or cfg.get("model_type") or "")
    h = _get(text, "hidden_size", "n_embd", "d_model")
    layers = _get(text, "num_hidden_layers", "n_layer", "num_layers")
    heads = _get(text, "num_attention_heads", "n_head")
    vocab = _get(text, "vocab_size")
    if not all(isinstance(v, int) and v > 0 for v in (h, layers, heads, vocab)):
        raise ModelError("The model's config.json does not give its size.",
                         details=f"hidden size {h!r}, layers {layers!r}, heads {heads!r}, vocabulary {vocab!r}",
                         advice="Use a Hugging Face causal language model folder with a complete config.json.")
    kv_heads = int(_get(text, "num_key_value_heads", default=heads))
    head_dim = int(_get(text, "head_dim", default=h // heads))
    i = int(_get(text, "intermediate_size", "n_inner", "ffn_dim", default=4 * h))
    act = str(_get(text, "hidden_act", "activation_function", default=""))
    gated = model_type not in ("gpt2", "gpt_bigcode", "gpt_neox", "falcon", "bloom", "opt", "gptj", "phi") \
        and act in ("silu", "swish", "gelu_pytorch_tanh", "gelu")
    tied = bool(_get(cfg, "tie_word_embeddings", default=True))
    q, kv = heads * head_dim, kv_heads * head_dim
    tensors = [t for hd in (headers or []) for t in hd.values()]
    if tensors:
        linears, layer_linear = _header_linears(headers or [], model_type in CONV1D_TYPES)
        total = sum(_numel(t.get("shape") or []) for t in tensors)
    else:
        linears = _config_linears(model_type, h, q, kv, i)
        layer_linear = layers * sum(lin.in_features * lin.out_features for lin in linears)
        norms = layers * 2 * h + h
        positions = h * int(_get(text, "n_positions", default=0)) if model_type == "gpt2" else 0
        total = layer_linear + norms + vocab * h * (1 if tied else 2) + positions
    return ModelShape(
        model_type=model_type, hidden=h, layers=layers, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
        intermediate=i, vocab=vocab, tied=tied, gated_mlp=gated,
        attn_dropout=float(_get(text, "attention_dropout", "attn_pdrop", default=0.0) or 0.0),
        resid_dropout=float(_get(text, "resid_pdrop", "hidden_dropout", default=0.0) or 0.0),
        total_params=total, layer_linear_params=layer_linear, linears=linears, exact=bool(tensors),
        tokenizer_bytes=tokenizer_bytes)


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def read_model_shape(folder: str) -> ModelShape:
    """The shape of the model in `folder` (config.json plus the safetensors headers, if any)."""
    path = os.path.join(folder, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot read {path}.", details=str(exc),
                         advice="Pick a Hugging Face model folder (config.json, weights, tokenizer).") from exc
    if not isinstance(cfg, dict):
        raise ModelError(f"{path} does not hold a model configuration.", advice="Pick another model folder.")
    headers = [read_safetensors_header(p) for p in weight_files(folder)]
    tok = os.path.join(folder, "tokenizer.json")
    return shape_from_config(cfg, headers, os.path.getsize(tok) if os.path.isfile(tok) else 0)
