"""A run started through RunManager on a split's train part evaluates on its validation part,
records provenance in its adapter, and fills the project's token cache: what the service adds
to the engine's spec reaches the engine."""

from __future__ import annotations

import dataclasses
import json
import os

from tests.helpers.runs import wait_until_ended
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
    done = wait_until_ended(manager, run.id)
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
    # What the Runs table and charts read (issue 9): kept on the run row, curves from the store,
    # the checkpoints marked with the best one, no heartbeat or progress kept as events.
    from workbench.services.run_metrics import checkpoints, load_metrics

    evals = store.metric_series(run.id, "eval_loss")
    assert done.best_eval_loss == min(v for _, v in evals) and done.last_eval_loss == evals[-1][1]
    assert done.best_loss == min(v for _, v in store.metric_series(run.id, "loss"))
    assert done.tokens_per_s == env["tokens_per_s"] and done.peak_memory_bytes >= env["peak_memory_bytes"]
    curves = load_metrics(store.path, run.id)
    assert list(curves["epoch"].step) == sorted(curves["epoch"].step) and curves["memory_bytes"].value.min() > 0
    assert curves["loss"].t.min() > 1e9  # wall times, epoch seconds
    assert not {e["kind"] for e in store.run_events(run.id)} & {"heartbeat", "progress"}
    marks = checkpoints(store, done)
    best_step = min(evals, key=lambda p: p[1])[0]
    assert [m.step for m in marks] == [2, 4] and [m.step for m in marks if m.best] == [best_step]
    assert all(os.path.isdir(m.path) for m in marks)
    # While a run trains there is no best/ yet: the newest checkpoint's trainer state names it.
    best_dir = os.path.join(store.abspath(done.work_dir), "best")
    os.rename(best_dir, best_dir + "-away")
    assert checkpoints(store, dataclasses.replace(done, environment={})) == marks
    os.rename(best_dir + "-away", best_dir)

    # Its log, its metrics exported, and deleting it leave nothing of it behind.
    from workbench.services import metrics_export, run_edit
    from workbench.services.run_logs import read_log

    log = read_log(store.path, done, 0, max_bytes=10 ** 7)
    assert log.size > 0 and log.offset == log.size and log.text.strip()
    out = os.path.join(os.path.dirname(store.path), "metrics.parquet")
    points = sum(len(s) for name, s in curves.items() if name != "epoch")
    assert metrics_export.export_metrics(store.path, [run.id], out) == points
    preview = run_edit.delete_preview(store, run.id)
    assert preview.checkpoints == 2 and preview.adapter and preview.bytes > 10_000
    assert run_edit.delete_run(store, run.id) == preview
    assert not os.path.exists(store.abspath(done.work_dir)) and store.list_runs() == []
