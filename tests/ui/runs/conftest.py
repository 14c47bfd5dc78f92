"""Runs page fixtures: three real tiny training runs, trained once per session in one project
(different learning rates and LoRA ranks, so their curves and settings differ), which each test
gets as its own copy (tests rename, tag and delete runs)."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

import pytest

from workbench.core.records import TrainConfig

# name -> the settings that differ; every run evaluates (a split) and keeps checkpoints.
TRAINED = (("lr-high", dict(learning_rate=5e-3, r=8, alpha=16)),
           ("lr-low", dict(learning_rate=1e-3, r=8, alpha=16)),
           ("rank-4", dict(learning_rate=5e-3, r=4, alpha=8)))
STEPS = 4


@dataclass(frozen=True)
class TrainedRuns:
    path: str  # the project folder (closed)
    ids: dict[str, str]  # run name -> run id


def _train(root: str) -> TrainedRuns:
    from workbench.services import dataset_ops, datasets, models, paths
    from workbench.services.runs import RunManager
    from workbench.store import ProjectStore

    store = ProjectStore.create(os.path.join(root, "Trained.wbproj"))
    try:
        version = datasets.import_dataset(store, paths.demo_dataset_path(), name="Shop support chats")
        parts = dataset_ops.make_split(store, version.id, seed=3)
        model = models.ensure_builtin_model(store, "tiny")
        manager = RunManager(store, max_parallel=len(TRAINED))
        ids = {}
        for name, knobs in TRAINED:
            config = TrainConfig(max_steps=STEPS, batch_size=4, max_length=96, eval_steps=2, save_steps=2,
                                 keep_checkpoints=2, **knobs)
            ids[name] = manager.start(parts["train"].id, model.id, config, name=name).id
        deadline = time.monotonic() + 600
        while manager.active_run_ids():
            assert time.monotonic() < deadline, "training did not finish in time"
            manager.poll()
            time.sleep(0.1)
        for name, run_id in ids.items():
            run = store.get_run(run_id)
            assert run.status == "completed", (name, run.error)
        manager.shutdown()
        return TrainedRuns(store.path, ids)
    finally:
        store.close()


@pytest.fixture(scope="session")
def trained_runs_master(tmp_path_factory, tiny_model_dir) -> TrainedRuns:
    return _train(str(tmp_path_factory.mktemp("runs-ui")))


@pytest.fixture
def trained_runs(trained_runs_master, tmp_path) -> TrainedRuns:
    """A fresh copy of the trained project for this test (its folders are relative to it)."""
    path = str(tmp_path / os.path.basename(trained_runs_master.path))
    shutil.copytree(trained_runs_master.path, path)
    return TrainedRuns(path, dict(trained_runs_master.ids))
