"""TrainConfig: validation that names the field, presets, and config files (YAML and JSON)."""

from __future__ import annotations

import json

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.train_config import (
    ALL_LINEAR,
    PRESETS,
    TrainConfig,
    apply_preset,
    load_config_file,
    save_config_file,
)


def test_defaults_are_valid_and_checkpoints_are_on_by_default():
    config = TrainConfig()
    assert config.problems() == []
    assert config.save_steps > 0 and config.keep_checkpoints >= 1
    assert config.loss_on == "assistant" and config.precision == "auto"


@pytest.mark.parametrize("changes, field", [
    ({"r": 0}, "r"), ({"dropout": 1.0}, "dropout"), ({"learning_rate": 2.0}, "learning_rate"),
    ({"lr_scheduler": "exp"}, "lr_scheduler"), ({"warmup_ratio": 1.5}, "warmup_ratio"),
    ({"grad_accum": 0}, "grad_accum"), ({"precision": "fp8"}, "precision"),
    ({"quantization": "2bit"}, "quantization"), ({"loss_on": "user"}, "loss_on"),
    ({"target_modules": "attention"}, "target_modules"), ({"target_modules": []}, "target_modules"),
    ({"keep_checkpoints": 0}, "keep_checkpoints"), ({"max_steps": 0, "epochs": 0}, "epochs"),
    ({"use_dora": True, "quantization": "4bit"}, "use_dora"), ({"max_length": 8}, "max_length"),
])
def test_each_problem_names_its_field_and_what_to_do(changes, field):
    problems = TrainConfig(**changes).problems()
    assert [p.field for p in problems] == [field]
    assert len(problems[0].message) > 20


def test_validate_messages_start_with_the_label():
    assert TrainConfig(grad_accum=0).validate()[0].startswith("Gradient accumulation:")


def test_presets_change_capacity_and_length_but_keep_the_rest():
    base = TrainConfig(max_length=512, seed=3, batch_size=2)
    for name in PRESETS:
        c = apply_preset(base, name)
        assert c.problems() == [] and (c.max_length, c.seed, c.batch_size) == (512, 3, 2)
    assert apply_preset(base, "quick test").max_steps > 0
    assert apply_preset(base, "quality").target_modules == ALL_LINEAR
    assert apply_preset(base, "quality").epochs > apply_preset(base, "balanced").epochs
    with pytest.raises(WorkbenchError):
        apply_preset(base, "turbo")


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_config_file_round_trips(tmp_path, suffix):
    config = TrainConfig(r=32, target_modules=["q_proj", "v_proj"], use_dora=True, lr_scheduler="cosine",
                         warmup_ratio=0.05, grad_accum=4, packing=True, loss_on="all", precision="bf16")
    path = save_config_file(str(tmp_path / f"run{suffix}"), config, base_model="tiny", dataset="chats", name="x")
    loaded = load_config_file(path)
    assert loaded.config == config
    assert (loaded.base_model, loaded.dataset, loaded.name) == ("tiny", "chats", "x")


def test_a_hand_written_yaml_file_with_top_level_settings(tmp_path):
    path = tmp_path / "run.yml"
    path.write_text("base_model: tiny\nlearning_rate: 1e-4\nr: 16\ntarget_modules: all-linear\n"
                    "epochs: 2\ngradient_checkpointing: true\n")
    loaded = load_config_file(str(path))
    assert loaded.config.learning_rate == pytest.approx(1e-4)  # YAML 1.1 reads 1e-4 as a string
    assert loaded.config.target_modules == ALL_LINEAR and loaded.config.epochs == 2.0
    assert loaded.config.gradient_checkpointing is True and loaded.base_model == "tiny"


def test_unknown_key_suggests_the_nearest_setting(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"config": {"learning_rte": 1e-4}}))
    with pytest.raises(WorkbenchError) as err:
        load_config_file(str(path))
    assert "learning_rte" in err.value.user_message and "learning_rate" in err.value.advice


def test_wrong_type_names_the_key(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"batch_size": "eight"}))
    with pytest.raises(WorkbenchError) as err:
        load_config_file(str(path))
    assert "batch_size" in err.value.user_message


def test_broken_yaml_is_a_clear_error(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("r: [1, 2\n")
    with pytest.raises(WorkbenchError) as err:
        load_config_file(str(path))
    assert "not valid YAML" in err.value.user_message
