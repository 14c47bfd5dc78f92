"""Evaluation end to end with real children: a tiny model fine-tuned on a few rows scores
better than its base model on a suite built from those rows — side by side, with confidence
intervals and a significant paired difference — and the regression gate attached to the run
marks it passed against the base model's score."""

from __future__ import annotations

import time

import pytest

from tests.helpers.rows import chat, write_jsonl
from workbench.core.eval_records import GateRule, MetricSpec
from workbench.core.records import TrainConfig

pytestmark = pytest.mark.slow

ANIMALS = ["otter", "heron", "badger", "falcon", "lynx", "marten", "walrus", "ibis", "gecko", "bison",
           "ferret", "puffin"]
CODES = ["red kettle", "blue spoon", "green mug", "gold filter", "grey grinder", "pink saucer",
         "white scale", "black tray", "brown jar", "amber cup", "silver lid", "violet pot"]


def _wait(managers, done, timeout: float = 300.0):
    """Poll the real managers (as the app's poller does) until `done()` holds."""
    deadline = time.monotonic() + timeout
    while not done():
        for manager in managers:
            manager.poll()
        assert time.monotonic() < deadline, "still not done"
        time.sleep(0.05)


def test_adapter_beats_its_base_model_and_the_gate_passes(demo_store, tmp_path):
    from workbench.services import datasets, eval_compare, eval_gate, eval_suites
    from workbench.services.eval_runs import EvalManager
    from workbench.services.runs import RunManager

    store = demo_store
    rows = [chat(f"What is the code word for the {a}?", f"The {a} code is {c}.") for a, c in zip(ANIMALS, CODES)]
    version = datasets.import_dataset(store, str(write_jsonl(tmp_path / "codes.jsonl", rows)), name="codes")
    model = next(m for m in store.list_base_models() if m.kind == "tiny")
    suite = eval_suites.suite_from_version(
        store, version.id, "codes", [MetricSpec("exact_match"), MetricSpec("token_f1"), MetricSpec("rouge_l"),
                                     MetricSpec("chrf")])
    assert suite.item_count == len(rows) and suite.source["kind"] == "dataset_version"

    runs = RunManager(store)
    evals = EvalManager(store)
    try:
        run = runs.start(version.id, model.id, TrainConfig(max_steps=40, batch_size=4, learning_rate=5e-3, r=16,
                                                           alpha=32, max_length=64, save_steps=40,
                                                           target_modules=["c_attn", "c_proj", "c_fc"]))
        eval_gate.attach_gate(store, run.id, suite.id, [GateRule("rouge_l", ">=", "base", 0.0)],
                              every_checkpoint=False)
        assert eval_gate.gate_status(store, run.id).state == "pending"
        _wait([runs, evals], lambda: store.get_run(run.id).status not in ("queued", "running"))
        assert store.get_run(run.id).status == "completed", store.get_run(run.id).error
        # The gate queued the final adapter's eval and the base model's (its baseline) by itself.
        _wait([evals], lambda: eval_gate.gate_status(store, run.id).state in ("passed", "failed"))
        status = eval_gate.gate_status(store, run.id)
        assert status.state == "passed", status.message
        gated = store.list_eval_runs(suite_id=suite.id)
        assert {r.purpose for r in gated} == {"gate"} and all(r.status == "completed" for r in gated)
        base_eval = next(r for r in gated if r.model.is_base)
        final_eval = next(r for r in gated if not r.model.is_base)
        assert final_eval.model.run_id == run.id and final_eval.done_items == len(rows)
        series = eval_gate.gate_series(store, run.id)
        assert series["rouge_l"][-1] == (40, pytest.approx(final_eval.summary["rouge_l"]))

        # Side by side: the adapter is better, with intervals, and the difference is significant.
        comparison = eval_compare.compare(store, [base_eval.id, final_eval.id], n_boot=500, seed=1)
        base_rouge = comparison.table[base_eval.id]["rouge_l"]
        tuned_rouge = comparison.table[final_eval.id]["rouge_l"]
        assert tuned_rouge.value > base_rouge.value
        assert tuned_rouge.low <= tuned_rouge.value <= tuned_rouge.high
        test = next(p for p in comparison.pairs(base_eval.id, final_eval.id) if p.metric == "rouge_l")
        assert test.diff > 0 and test.p_value < 0.05
        assert len(comparison.items) == len(rows)
    finally:
        evals.shutdown()
        runs.shutdown()

