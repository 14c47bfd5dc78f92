"""Runs page: a run that ran out of memory says so in its status, and "Retry with batch N"
starts it again as the same run with half the batch (the real RunManager; the training child is
a stand-in that completes)."""

from __future__ import annotations

import dataclasses
import os
import sys
import textwrap

from workbench.core.clock import new_id, now_iso
from workbench.core.records import TrainConfig
from workbench.jobs import launch
from workbench.services import datasets
from workbench.store import ProjectStore
from workbench.ui.runs.table_model import COLUMN_KEYS
from workbench.ui.shell.main_window import RUNS

COMPLETES = textwrap.dedent("""
    import json, os, sys, time
    spec = json.load(open(sys.argv[1]))
    seq = max([json.loads(l)["seq"] for l in open(spec["journal_path"])] or [0])
    adapter = os.path.join(spec["output_dir"], "adapter")
    os.makedirs(adapter, exist_ok=True)
    open(os.path.join(adapter, "adapter_config.json"), "w").write("{}")
    with open(spec["journal_path"], "a") as f:
        for i, (kind, payload) in enumerate([("started", {"total_steps": 4}), ("progress", {"step": 4, "total_steps": 4}),
                                             ("completed", {"adapter_path": adapter, "steps": 4, "peak_memory_bytes": 812 * 2**20,
                                                           "peak_memory_kind": "peak_rss", "tokens_per_s": 1234.5,
                                                           "examples_per_s": 6.5, "best_eval_loss": 1.75})]):
            f.write(json.dumps({"seq": seq + 1 + i, "kind": kind, "t": time.time(), "payload": payload}) + "\\n")
""")


def test_an_out_of_memory_run_is_labelled_and_retried_with_half_the_batch(window, qtbot, tmp_path, make_jsonl,
                                                                           monkeypatch):
    monkeypatch.setattr(launch, "engine_argv", lambda verb, spec, *_: [sys.executable, "-c", COMPLETES, spec])
    store = ProjectStore.create(str(tmp_path / "Oom.wbproj"))
    version = datasets.import_dataset(store, make_jsonl(10))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    model = store.add_base_model("tiny", "tiny", str(model_dir), "a" * 64)
    run_id = new_id()
    os.makedirs(store.abspath(os.path.join("runs", run_id)))
    store.add_run(id=run_id, name="big-batch", dataset_version_id=version.id, base_model_id=model.id,
                  config=dataclasses.asdict(TrainConfig(batch_size=8, max_steps=4)), status="queued",
                  work_dir=os.path.join("runs", run_id), started_at=now_iso())
    store.start_segment(run_id, 0, 0, 0, from_queue=False)
    store.finish_run(run_id, "failed", error="Out of memory.", advice="Retry with half the batch size.",
                     failure_kind="oom")
    path = store.path
    store.close()

    assert window.open_project(path)
    window.set_page(RUNS)
    page = window.runs_page
    status = page.proxy.index(0, COLUMN_KEYS.index("status"))
    assert status.data() == "failed · Out of memory"
    assert page.retry_button.isVisible() and page.retry_button.text() == "Retry with batch 4"
    page.retry_button.click()
    # The stand-in starts and ends between two polls: the page still follows.
    qtbot.waitUntil(lambda: status.data() == "completed", timeout=15000)
    assert not page.retry_button.isVisible()
    run = window.ctx.store.get_run(run_id)
    assert (run.train_config.batch_size, run.train_config.grad_accum) == (4, 2)
    text = page.details.toPlainText()
    assert "batch 8 -> 4" in text
    assert "measured 0.79 GB (peak RSS)" in text and "1,234 tokens/s" in text and "Best eval loss" in text
