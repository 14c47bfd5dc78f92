"""services.models.linear_layer_names: the layers the Train form offers as target modules,
read from safetensors headers (no torch)."""

from __future__ import annotations

import json
import struct

import pytest

from workbench.core.errors import ModelError
from workbench.services.models import linear_layer_names


def _write_safetensors(path, shapes: dict[str, list[int]]) -> None:
    """A valid safetensors file: header of (dtype, shape, offsets), then zero bytes of data."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 2
        for d in shape:
            size *= d
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def test_the_tiny_models_layers_are_gpt2s_projections(tiny_model_dir):
    assert linear_layer_names(tiny_model_dir) == ["c_attn", "c_proj", "c_fc"]


def test_llama_style_names_leave_out_embeddings_norms_and_head_across_shards(tmp_path):
    _write_safetensors(tmp_path / "model-00001-of-00002.safetensors", {
        "model.embed_tokens.weight": [64, 8],
        "model.layers.0.input_layernorm.weight": [8],
        "model.layers.0.self_attn.q_proj.weight": [8, 8],
        "model.layers.0.self_attn.v_proj.weight": [8, 8],
    })
    _write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {
        "model.layers.1.self_attn.q_proj.weight": [8, 8],
        "model.layers.1.mlp.gate_proj.weight": [16, 8],
        "model.layers.1.mlp.gate_proj.bias": [16],
        "model.norm.weight": [8],
        "lm_head.weight": [64, 8],
    })
    assert linear_layer_names(str(tmp_path)) == ["q_proj", "v_proj", "gate_proj"]


def test_a_folder_without_safetensors_or_with_a_broken_one_says_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="no .safetensors weights") as info:
        linear_layer_names(str(tmp_path))
    assert "all-linear" in info.value.advice
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ModelError, match="Cannot read the weight names"):
        linear_layer_names(str(tmp_path))
    with pytest.raises(ModelError, match="missing on this machine"):
        linear_layer_names(str(tmp_path / "gone"))
