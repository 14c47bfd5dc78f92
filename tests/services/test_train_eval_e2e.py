"""A run started through RunManager on a split's train part evaluates on its validation part,
records provenance in its adapter, and fills the project's token cache: what the service adds
to the engine's spec reaches the engine."""

from __future__ import annotations

import json
import os
import time

from workbench.core.records import TrainConfig
from workbench.services import dataset_ops
from workbench.services.runs import RunManager


def test_a_split_run_evaluates_on_its_validation_part_and_records_where_it_came_from(demo_store):
    store = demo_store
    parts = dataset_ops.make_split(store, store.list_versions()[0].id, seed=5)
    model = store.list_base_models()[0]
    manager = RunManager(store)
    run = manager.start(parts["train"].id, model.id,
                        TrainConfig(max_steps=4, batch_size=4, max_length=96, eval_steps=2, save_steps=2))
    deadline = time.monotonic() + 300
    while run.id in manager.active_run_ids():
        assert time.monotonic() < deadline, "training did not finish in time"
        manager.poll()
        time.sleep(0.1)
    done = store.get_run(run.id)
    assert done.status == "completed", done.error
    assert [s for s, _ in store.metric_series(run.id, "eval_loss")] == [2, 4]
    assert len(store.metric_series(run.id, "eval_perplexity")) == 2
    record = json.load(open(os.path.join(store.abspath(done.adapter_path), "workbench_run.json")))
    assert record["dataset_version_id"] == parts["train"].id
    assert record["dataset_hash"] == parts["train"].content_hash and record["split_seed"] == 5
    assert record["base_model_fingerprint"] == model.fingerprint and record["author"] == store.user
    assert os.listdir(store.abspath("cache/tokens"))
    assert os.path.isdir(os.path.join(store.abspath(done.work_dir), "best"))
    env = done.environment
    assert env["tokens_per_s"] > 0 and env["best_eval_loss"] == min(v for _, v in store.metric_series(run.id, "eval_loss"))
    assert env["peak_memory_bytes"] > 0 and env["estimated_peak_bytes"] > 0 and env["best_path"].endswith("best")
