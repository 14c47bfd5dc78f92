"""Comparing runs: only the settings that differ, and each run's final and best metrics, from
runs as the store keeps them after ingesting what their children reported."""

from __future__ import annotations

import dataclasses
import uuid

from workbench.core.records import TrainConfig
from workbench.jobs.protocol import Event
from workbench.services import run_compare
from workbench.services.run_compare import MISSING, DiffRow
from workbench.services.run_ingest import ingest


def _runs(store, *configs):
    ds = store.add_dataset("d")
    v = store.add_version(dataset_id=ds.id, content_hash="c", blob_path="b", row_count=1, format="t",
                          source_name="f", source_size=1, source_hash="h")
    m = store.add_base_model("m", "tiny", "/p", "fp")
    return [store.add_run(id=str(uuid.uuid4()), name=f"r{i}", dataset_version_id=v.id, base_model_id=m.id,
                          config=config, work_dir=f"runs/r{i}", status="completed")
            for i, config in enumerate(configs)]


def test_config_diff_lists_only_the_settings_that_differ(store):
    base = dataclasses.asdict(TrainConfig(r=8, learning_rate=2e-4, batch_size=4))
    a, b, c = _runs(store, base, {**base, "r": 16, "learning_rate": 1e-3},
                    {**base, "learning_rate": 1e-3, "packing": not base["packing"]})
    diff = run_compare.config_diff([a, b, c])
    packing = ("yes", "yes", "no") if base["packing"] else ("no", "no", "yes")
    expected = {"learning_rate": ("0.0002", "0.001", "0.001"), "r": ("8", "16", "8"), "packing": packing}
    # In the order the settings are listed; the ones every run shares are left out.
    assert diff == [DiffRow(k, expected[k]) for k in base if k in expected]
    assert run_compare.config_diff([a, a]) == [] and run_compare.config_diff([a]) == []


def test_config_diff_puts_the_facts_beside_the_settings_first_and_marks_missing_ones(store):
    base = dataclasses.asdict(TrainConfig())
    older = {k: v for k, v in base.items() if k != "packing"}  # a run from before the setting existed
    a, b = _runs(store, {**base, "lora": {"r": 8, "alpha": 16}}, {**older, "lora": {"r": 8, "alpha": 32}})
    extra = {a.id: {"base model": "tiny", "dataset": "chats v1"}, b.id: {"base model": "smol", "dataset": "chats v1"}}
    diff = run_compare.config_diff([a, b], extra)
    assert diff[0] == DiffRow("base model", ("tiny", "smol"))
    assert DiffRow("lora.alpha", ("16", "32")) in diff and "lora.r" not in {d.key for d in diff}
    assert DiffRow("packing", ("yes" if base["packing"] else "no", MISSING)) in diff
    assert "dataset" not in {d.key for d in diff}
    # 1 and 1.0 are the same setting; True and 1 are not.
    c, d = _runs(store, {"x": 1, "y": True}, {"x": 1.0, "y": 1})
    assert run_compare.config_diff([c, d]) == [DiffRow("y", ("yes", "1"))]


def test_summaries_come_from_the_run_rows_ingest_keeps(store):
    a, b = _runs(store, {}, {})
    store.start_segment(a.id, 0, 0, 0, from_queue=False)
    ingest(store, a.id, [Event(1, "started", {"total_steps": 3}, 100.0),
                         *[Event(i + 1, "log", {"step": i, "values": {"loss": l, "tokens_per_s": 10.0 * i,
                                                                      "memory_bytes": 1e6 * i}}, 100.0 + i)
                           for i, l in ((1, 3.0), (2, 1.0), (3, 2.0))],
                         Event(5, "log", {"step": 3, "values": {"eval_loss": 2.5}}, 104.0),
                         Event(6, "progress", {"step": 3, "total_steps": 3}, 104.0)])
    store.finish_run(a.id, "completed")
    run_a, run_b = store.get_run(a.id), store.get_run(b.id)
    first, second = run_compare.summaries([run_a, run_b], now=0.0)
    assert (first.final_loss, first.best_loss, first.final_eval_loss, first.best_eval_loss) == (2.0, 1.0, 2.5, 2.5)
    assert (first.steps, first.tokens_per_s, first.peak_memory_bytes) == (3, 30.0, 3_000_000)
    assert first.duration_s == run_a.duration_s() and first.duration_s is not None and first.name == "r0"
    assert (second.final_loss, second.best_loss, second.steps, second.duration_s) == (None, None, 0, None)
