"""The memory estimate's arithmetic: shapes from config.json and safetensors headers, LoRA
targets as peft resolves them, and how each knob moves each part."""

from __future__ import annotations

import json
import struct

import pytest

from workbench.core.errors import ModelError
from workbench.core.memory_estimate import (
    CPU_PROCESS_BASELINE,
    CUDA_CONTEXT,
    FITS,
    NO_FIT,
    TIGHT,
    estimate_memory,
    target_linears,
    verdict_for,
)
from workbench.core.model_shape import read_model_shape, read_safetensors_header, shape_from_config
from workbench.core.train_config import TrainConfig

# SmolLM2-135M's config.json, as far as the estimate reads it.
LLAMA = {"model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9,
         "num_key_value_heads": 3, "head_dim": 64, "intermediate_size": 1536, "vocab_size": 49152,
         "tie_word_embeddings": True, "hidden_act": "silu", "attention_dropout": 0.0}
GPT2 = {"model_type": "gpt2", "n_embd": 128, "n_layer": 3, "n_head": 4, "n_inner": None, "n_positions": 512,
        "vocab_size": 2562, "tie_word_embeddings": True, "activation_function": "gelu_new",
        "attn_pdrop": 0.0, "resid_pdrop": 0.0}


def write_safetensors(path, tensors: dict[str, tuple[str, list[int]]]) -> None:
    """A real safetensors file (zero-filled data) with the given tensors."""
    sizes = {"F32": 4, "BF16": 2}
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, (dtype, shape) in tensors.items():
        n = sizes[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def gpt2_tensors(cfg=GPT2) -> dict[str, tuple[str, list[int]]]:
    h, i, v = cfg["n_embd"], 4 * cfg["n_embd"], cfg["vocab_size"]
    out = {"transformer.wte.weight": ("F32", [v, h]), "transformer.wpe.weight": ("F32", [cfg["n_positions"], h]),
           "transformer.ln_f.weight": ("F32", [h]), "transformer.ln_f.bias": ("F32", [h])}
    for n in range(cfg["n_layer"]):
        p = f"transformer.h.{n}."
        out.update({p + "ln_1.weight": ("F32", [h]), p + "ln_1.bias": ("F32", [h]),
                    p + "ln_2.weight": ("F32", [h]), p + "ln_2.bias": ("F32", [h]),
                    p + "attn.c_attn.weight": ("F32", [h, 3 * h]), p + "attn.c_attn.bias": ("F32", [3 * h]),
                    p + "attn.c_proj.weight": ("F32", [h, h]), p + "attn.c_proj.bias": ("F32", [h]),
                    p + "mlp.c_fc.weight": ("F32", [h, i]), p + "mlp.c_fc.bias": ("F32", [i]),
                    p + "mlp.c_proj.weight": ("F32", [i, h]), p + "mlp.c_proj.bias": ("F32", [h])})
    return out


@pytest.fixture
def gpt2_folder(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(GPT2))
    write_safetensors(tmp_path / "model.safetensors", gpt2_tensors())
    return str(tmp_path)


def test_the_parameter_count_is_exact_from_the_safetensors_headers(gpt2_folder):
    shape = read_model_shape(gpt2_folder)
    h, i, v, layers = 128, 512, 2562, 3
    per_layer = 4 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h)
    assert shape.exact and shape.total_params == v * h + 512 * h + 2 * h + layers * per_layer
    assert shape.layer_linear_params == layers * (3 * h * h + h * h + 2 * h * i)
    # Conv1D stores [in, out]: c_attn reads the hidden state and writes q, k and v.
    linears = {lin.path: (lin.in_features, lin.out_features) for lin in shape.linears}
    assert linears == {"attn.c_attn": (h, 3 * h), "attn.c_proj": (h, h), "mlp.c_fc": (h, i), "mlp.c_proj": (i, h)}


def test_without_weights_the_count_comes_from_config_json(gpt2_folder, tmp_path):
    exact = read_model_shape(gpt2_folder)
    approx = shape_from_config(GPT2)
    assert not approx.exact
    # Only the biases are missing from the config-only count.
    assert 0 < exact.total_params - approx.total_params < 0.01 * exact.total_params
    assert [lin.path for lin in approx.linears] == sorted(lin.path for lin in exact.linears)


def test_a_truncated_weights_file_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 10_000) + b"{}")
    with pytest.raises(ModelError, match="Cannot read the weights file") as info:
        read_safetensors_header(str(path))
    assert "copy or download" in info.value.advice


def test_lora_targets_resolve_as_peft_does():
    llama, gpt2 = shape_from_config(LLAMA), shape_from_config(GPT2)
    leaves = lambda shape, targets: sorted(lin.leaf for lin in target_linears(shape, targets))  # noqa: E731
    assert leaves(llama, None) == ["q_proj", "v_proj"]  # peft's default for llama
    assert leaves(gpt2, None) == ["c_attn"]
    assert len(target_linears(llama, "all-linear")) == 7 and len(target_linears(gpt2, "all-linear")) == 4
    assert leaves(gpt2, ["c_proj"]) == ["c_proj", "c_proj"]  # peft matches the attention's and the MLP's
    assert leaves(llama, ["k_proj", "down_proj"]) == ["down_proj", "k_proj"]
    assert target_linears(llama, ["nope"]) == []


def test_lora_parts_follow_rank_and_targets():
    shape = shape_from_config(LLAMA)
    parts = dict(estimate_memory(shape, TrainConfig(r=8), "cpu").parts)
    lora = 30 * (8 * (576 + 576) + 8 * (576 + 192))  # q_proj + v_proj: 460,800 (what peft reports)
    assert parts["LoRA adapter (fp32)"] == lora * 4
    assert parts["gradients (fp32)"] == lora * 4
    assert parts["optimizer state (AdamW m and v, fp32)"] == lora * 8
    r16 = dict(estimate_memory(shape, TrainConfig(r=16), "cpu").parts)
    assert r16["LoRA adapter (fp32)"] == 2 * lora * 4
    dora = dict(estimate_memory(shape, TrainConfig(r=8, use_dora=True), "cpu").parts)
    assert dora["LoRA adapter (fp32)"] == (lora + 30 * (576 + 192)) * 4  # + the magnitude vectors
    assert "DoRA weight-norm temporary" in dora


def test_weights_at_each_precision_and_quantisation():
    shape = shape_from_config(LLAMA)
    n = shape.total_params

    def weights(kind, **knobs):
        return estimate_memory(shape, TrainConfig(**knobs), kind).parts[0]

    assert weights("cpu") == ("weights (fp32)", 4 * n)  # auto on a CPU: fp32
    assert weights("cuda")[1] == 2 * n  # auto on a GPU: 16-bit
    assert weights("cuda", precision="fp16")[1] == 4 * n  # fp16 mixed precision keeps fp32 weights
    assert weights("cpu", precision="bf16")[1] == 2 * n
    q4, q8 = weights("cuda", quantization="4bit")[1], weights("cuda", quantization="8bit")[1]
    rest = n - shape.layer_linear_params
    assert 4 * rest < q4 < q8 < 4 * rest + 1.1 * shape.layer_linear_params
    cpu_q = estimate_memory(shape, TrainConfig(quantization="4bit"), "cpu")
    assert cpu_q.parts[0][1] == 4 * n and "needs a CUDA GPU" in cpu_q.notes[0]


def test_activations_scale_with_tokens_and_shrink_with_checkpointing():
    shape = shape_from_config(LLAMA)

    def part(name, **knobs):
        return dict(estimate_memory(shape, TrainConfig(**knobs), "cpu").parts)[name]

    base = part("activations", batch_size=4, max_length=256)
    assert part("activations", batch_size=8, max_length=256) == 2 * base
    assert part("activations", batch_size=4, max_length=512) == 2 * base  # no length^2 term with sdpa
    ckpt = part("activations (gradient checkpointing)", batch_size=4, max_length=256, gradient_checkpointing=True)
    assert ckpt < base / 5
    # The loss path: batch x length x vocab fp32 values, four copies at its peak.
    assert part("logits and loss (fp32)", batch_size=4, max_length=256) == 4 * 256 * 49152 * 16
    packed = dict(estimate_memory(shape, TrainConfig(batch_size=4, max_length=256, packing=True), "cpu").parts)
    assert packed["packing attention mask"] == (4 * 256) ** 2 * 5
    assert packed["activations"] == base  # packing counted as full rows: the conservative case


def test_lora_dropout_and_attention_dropout_add_saved_values():
    gpt2 = shape_from_config(GPT2)

    def act(shape, **knobs):
        return dict(estimate_memory(shape, TrainConfig(batch_size=1, max_length=128, **knobs), "cpu").parts)["activations"]

    # Per layer (3, + the one whose gradients are in flight in backward), per token, fp32:
    assert act(gpt2, dropout=0.05) - act(gpt2, dropout=0.0) == 4 * 128 * 4 * 128  # c_attn's dropped input
    dropped = shape_from_config({**GPT2, "attn_pdrop": 0.1})
    assert act(dropped) - act(gpt2) == 4 * (3 * 4 * 128) * 4 * 128  # scores kept: heads x length per token


def test_overheads_per_device():
    shape = shape_from_config(LLAMA)
    cpu = estimate_memory(shape, TrainConfig(), "cpu")
    assert dict(cpu.parts)["python, torch, transformers"] == CPU_PROCESS_BASELINE
    assert cpu.measured_bytes == cpu.peak_bytes == sum(b for _, b in cpu.parts) and cpu.measured_kind == "peak_rss"
    cuda = estimate_memory(shape, TrainConfig(), "cuda")
    assert dict(cuda.parts)["CUDA context"] == CUDA_CONTEXT
    # max_memory_allocated counts torch's tensors only: not the context, not the allocator's reserve.
    assert cuda.measured_kind == "cuda_max_allocated"
    assert cuda.measured_bytes == cuda.peak_bytes - CUDA_CONTEXT - dict(cuda.parts)["CUDA allocator reserve"]


def test_verdicts():
    assert verdict_for(80, 100) == FITS
    assert verdict_for(81, 100) == TIGHT
    assert verdict_for(100, 100) == TIGHT
    assert verdict_for(101, 100) == NO_FIT
