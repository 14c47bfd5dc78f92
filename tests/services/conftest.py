"""Service fixtures: a project whose runs the stand-in children of test_run_manager and
test_run_failures train (no torch)."""

from __future__ import annotations

import pytest

from tests.helpers.rows import chat, write_jsonl


@pytest.fixture
def project(store, tmp_path):
    """(store, dataset version id, base model id): a six-row dataset and a base model folder that
    start() accepts (the stand-in children never load it)."""
    from workbench.services import datasets

    version = datasets.import_dataset(store, str(write_jsonl(tmp_path / "chats.jsonl",
                                                             [chat(f"q{i}", f"a{i}") for i in range(6)])))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    model = store.add_base_model("stand-in", "hf_folder", str(model_dir), "b" * 64)
    return store, version.id, model.id
