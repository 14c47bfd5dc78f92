"""`workbench estimate --config FILE`: the estimate as a script reads it."""

from __future__ import annotations

import json

from tests.test_cli import wb
from workbench.core.memory_estimate import estimate_memory
from workbench.core.model_shape import read_model_shape
from workbench.core.records import TrainConfig


def test_estimate_prints_parts_verdict_and_suggestions_as_json(tmp_path, tiny_model_dir):
    setup = tmp_path / "run.yaml"
    setup.write_text(f"base_model: {tiny_model_dir}\nconfig:\n  batch_size: 8\n  max_length: 128\n")
    done = wb("estimate", "--config", str(setup), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    expected = estimate_memory(read_model_shape(tiny_model_dir), TrainConfig(batch_size=8, max_length=128),
                               out["device"]["kind"])
    assert out["peak_bytes"] == expected.peak_bytes == sum(p["bytes"] for p in out["parts"])
    assert out["verdict"] == "fits" and out["suggestions"] == [] and out["model_path"] == tiny_model_dir
    assert out["available_bytes"] == out["device"]["free_bytes"] > 0
    human = wb("estimate", "--config", str(setup))
    assert human.returncode == 0 and human.stdout.startswith("FITS: about ") and "weights (fp32)" in human.stdout


def test_a_project_model_by_built_in_kind(tmp_path, tiny_model_dir):
    from workbench.services import models
    from workbench.store import ProjectStore

    project = str(tmp_path / "P.wbproj")
    store = ProjectStore.create(project)
    try:
        models.ensure_builtin_model(store, "tiny")
    finally:
        store.close()
    setup = tmp_path / "run.json"
    setup.write_text(json.dumps({"base_model": "tiny", "batch_size": 2}))
    done = wb("estimate", "--config", str(setup), "--project", project, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model_path"] == tiny_model_dir


def test_no_model_and_bad_settings_are_clear_errors(tmp_path):
    setup = tmp_path / "run.yaml"
    setup.write_text("batch_size: 4\n")
    done = wb("estimate", "--config", str(setup))
    assert done.returncode == 1 and "names no base model" in done.stderr and "--model" in done.stderr
    setup.write_text(f"base_model: {tmp_path}\nbatch_size: 0\n")
    done = wb("estimate", "--config", str(setup))
    assert done.returncode == 1 and "Batch size must be at least 1" in done.stderr
    setup.write_text("batch_size: 4\n")
    done = wb("estimate", "--config", str(setup), "--model", str(tmp_path))
    assert done.returncode == 1 and "not a Hugging Face model folder" in done.stderr
