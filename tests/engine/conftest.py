"""Engine fixtures: the tiny demo model built once per session (real `build-model` child,
generated shop-support corpus) and one real 30-step LoRA training run."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from demo_corpus import shop_conversations, ticket_conversations, write_jsonl, write_parquet  # noqa: E402
from engine_helpers import ChildResult, run_engine  # noqa: E402

from workbench.core.records import TrainConfig  # noqa: E402
from workbench.jobs.specs import BuildModelSpec, TrainSpec  # noqa: E402


@dataclass
class BuiltModel:
    path: str
    result: ChildResult
    journal_path: str
    corpus_path: str


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("engine"))


@pytest.fixture(scope="session")
def tiny_model(engine_dir) -> BuiltModel:
    """The demo model built once through a real `build-model` child."""
    corpus = write_jsonl(shop_conversations(60), os.path.join(engine_dir, "corpus.jsonl"))
    journal = os.path.join(engine_dir, "build", "journal.jsonl")
    spec = BuildModelSpec(kind="tiny", output_dir=os.path.join(engine_dir, "tiny"),
                          journal_path=journal, corpus_path=corpus, pretrain_steps=150)
    result = run_engine("build-model", spec, os.path.join(engine_dir, "build", "spec.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return BuiltModel(result.last("completed").payload["path"], result, journal, corpus)


@dataclass
class TrainedRun:
    result: ChildResult
    spec: Any
    dataset_path: str


@pytest.fixture(scope="session")
def trained_run(engine_dir, tiny_model) -> TrainedRun:
    """30 LoRA steps on a house-style ticket dataset the demo model has never seen."""
    run_dir = os.path.join(engine_dir, "run-main")
    os.makedirs(run_dir, exist_ok=True)
    dataset = write_parquet(ticket_conversations(40), os.path.join(engine_dir, "tickets.parquet"))
    spec = TrainSpec(
        run_id="run-main", base_model_path=tiny_model.path, dataset_path=dataset,
        output_dir=run_dir, journal_path=os.path.join(run_dir, "journal.jsonl"),
        stop_file=os.path.join(run_dir, "STOP"),
        config=TrainConfig(r=8, alpha=16, learning_rate=2e-3, max_steps=30, batch_size=8,
                           max_length=128, seed=7),
    )
    result = run_engine("train", spec, os.path.join(run_dir, "spec.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return TrainedRun(result, spec, dataset)
