"""Engine fixtures: one real 30-step LoRA training run on the session's tiny model (built once
per session by tests/conftest.py, through the same path the app uses), three short runs sharing
a token cache, and SmolLM2 converted once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import ChildResult, run_engine, short_spec
from workbench.core.records import TrainConfig
from workbench.jobs.specs import BuildModelSpec, TrainSpec


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("engine"))


@dataclass
class TrainedRun:
    result: ChildResult
    spec: Any
    dataset_path: str


@pytest.fixture(scope="session")
def trained_run(engine_dir, tiny_model_dir) -> TrainedRun:
    """30 LoRA steps on a house-style ticket dataset the demo model has never seen."""
    run_dir = os.path.join(engine_dir, "run-main")
    os.makedirs(run_dir, exist_ok=True)
    dataset = write_parquet(ticket_conversations(40), os.path.join(engine_dir, "tickets.parquet"))
    spec = TrainSpec(
        run_id="run-main", base_model_path=tiny_model_dir, dataset_path=dataset,
        output_dir=run_dir, journal_path=os.path.join(run_dir, "journal.jsonl"),
        stop_file=os.path.join(run_dir, "STOP"),
        config=TrainConfig(r=8, alpha=16, learning_rate=5e-3, max_steps=30, batch_size=8,
                           max_length=128, seed=7),
    )
    result = run_engine("train", spec, os.path.join(run_dir, "spec.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return TrainedRun(result, spec, dataset)


@dataclass
class ShortRuns:
    results: dict[str, ChildResult]  # "a" and "b": seed 11, "c": seed 12, in that order
    root: str  # each run's folder is root/<name>

    @property
    def cache_dir(self) -> str:
        return os.path.join(self.root, "cache")


@pytest.fixture(scope="session")
def short_runs(tmp_path_factory, tiny_model_dir) -> ShortRuns:
    """Three 3-step runs on one dataset with one token cache: seed 11 twice, seed 12 once, so the
    first tokenises and the others read the cache (test_train_reproducible, test_token_cache:
    each child start costs seconds, the steps almost nothing)."""
    root = str(tmp_path_factory.mktemp("repro"))
    dataset = write_parquet(ticket_conversations(16), os.path.join(root, "tickets.parquet"))
    results = {}
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        spec = short_spec(root, tiny_model_dir, dataset, name, seed, cache_dir=os.path.join(root, "cache"))
        result = run_engine("train", spec, os.path.join(root, f"{name}.json"))
        assert result.rc == 0, result.stderr[-3000:]
        results[name] = result
    return ShortRuns(results, root)


@dataclass
class Converted:
    path: str
    result: ChildResult


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory) -> Converted:
    """SmolLM2-135M-Instruct converted from its GGUF by a real build-model child, once per session:
    test_smollm2 tests the conversion, the other SmolLM2 tests use the folder."""
    work = tmp_path_factory.mktemp("smollm2")
    spec = BuildModelSpec(kind="smollm2", output_dir=str(work / "SmolLM2"),
                          journal_path=str(work / "journal.jsonl"))
    result = run_engine("build-model", spec, str(work / "spec.json"), timeout=300)
    assert result.rc == 0, result.stderr[-3000:]
    return Converted(result.last("completed").payload["path"], result)
