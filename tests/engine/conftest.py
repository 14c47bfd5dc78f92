"""Engine fixtures: one real 30-step LoRA training run on the session's tiny model (built once
per session by tests/conftest.py, through the same path the app uses)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import ChildResult, run_engine
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
