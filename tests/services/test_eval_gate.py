"""The regression gate: attaching a suite to a run, its status against the base model's score
or a number, the per-checkpoint series, and reconcile queueing each eval once."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers.eval_results import add_eval, make_suite
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalModel, GateRule
from workbench.jobs.protocol import Event
from workbench.store import RunReport


@pytest.fixture
def gated(project):
    """(store, training run, suite, base model id): a completed 40-step run with a final adapter
    folder, and a two-item suite."""
    store, version_id, model_id = project
    run = store.add_run(id="run-a", name="run-a", dataset_version_id=version_id, base_model_id=model_id, config={},
                        status="completed", work_dir="runs/run-a", step=40, total_steps=40,
                        adapter_path="runs/run-a/adapter")
    _adapter(store.abspath("runs/run-a/adapter"))
    suite = make_suite(store, [["Paris"], ["four"]], metrics=("exact_match", "perplexity"))
    return store, run, suite, model_id


def _adapter(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "r": 4}, f)


def _eval(store, suite, model_id, summary, run=None, checkpoint="final", step=None, status="completed",
          purpose="gate"):
    model = (EvalModel(model_id, label="base") if run is None else
             EvalModel(model_id, run_id=run.id, checkpoint=checkpoint, step=step if step is not None else run.step,
                       label=f"{run.name} · {checkpoint}"))
    return add_eval(store, suite, ["Paris", "five"], model=model, summary=summary, status=status, purpose=purpose)


def test_gate_passes_against_the_base_model_and_fails_below_it(gated):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", "base", 0.02)],
                          every_checkpoint=False)
    assert eval_gate.gate_status(store, run.id).state == "pending"  # nothing measured yet
    _eval(store, suite, model_id, {"exact_match": 0.5, "perplexity": 9.0})
    assert eval_gate.gate_status(store, run.id).state == "pending"  # the final adapter's eval is missing
    final = _eval(store, suite, model_id, {"exact_match": 0.49, "perplexity": 7.0}, run=run)
    status = eval_gate.gate_status(store, run.id)
    assert status.state == "passed", status.message  # 0.49 >= 0.5 - 0.02
    rule = status.rules[0]
    assert (rule.value, rule.baseline, rule.passed) == (0.49, 0.5, True)
    assert status.final_eval_id == final.id and "Gate passed" in status.message

    store.update_eval_run(final.id, summary={"exact_match": 0.47, "perplexity": 7.0})
    status = eval_gate.gate_status(store, run.id)
    assert status.state == "failed" and status.rules[0].passed is False
    assert "exact_match 0.47 is not exact_match >= the base model - 0.02 (0.5)" in status.message


def test_gate_against_numbers_for_both_directions(gated):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", 0.4),
                                                    GateRule("perplexity", "<=", 8.0, 0.5)])
    _eval(store, suite, model_id, {"exact_match": 0.45, "perplexity": 8.4}, run=run)
    status = eval_gate.gate_status(store, run.id)
    assert status.state == "passed", status.message
    assert [(r.baseline, r.passed) for r in status.rules] == [(0.4, True), (8.0, True)]
    _eval(store, suite, model_id, {"exact_match": 0.45, "perplexity": 8.6}, run=run)  # the newer one counts
    status = eval_gate.gate_status(store, run.id)
    assert status.state == "failed" and [r.passed for r in status.rules] == [True, False]


def test_per_step_results_and_series_with_the_final_adapter_at_the_last_step(gated):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", 0.3)])
    _eval(store, suite, model_id, {"exact_match": 0.2, "perplexity": 12.0}, run=run, checkpoint="checkpoint-20",
          step=20)
    _eval(store, suite, model_id, {"exact_match": 0.4, "perplexity": 10.0}, run=run, checkpoint="checkpoint-40",
          step=40)
    _eval(store, suite, model_id, {"exact_match": 0.9}, run=run, checkpoint="checkpoint-30", step=30,
          status="running")  # not finished: not a point yet
    _eval(store, suite, model_id, {"exact_match": 0.5, "perplexity": 9.0, "_details": {"x": 1}}, run=run)
    status = eval_gate.gate_status(store, run.id)
    assert [(s.step, s.passed) for s in status.per_step] == [(20, False), (40, True)]
    assert status.state == "passed"
    series = eval_gate.gate_series(store, run.id)
    assert series == {"exact_match": [(20, 0.2), (40, 0.5)], "perplexity": [(20, 12.0), (40, 9.0)]}


def test_a_failed_final_eval_or_a_run_without_adapter_fails_the_gate_with_a_reason(gated):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", 0.3)])
    bad = _eval(store, suite, model_id, {}, run=run, status="failed")
    store.update_eval_run(bad.id, error="The adapter was trained on another base model.")
    status = eval_gate.gate_status(store, run.id)
    assert status.state == "failed" and "another base model" in status.message
    assert eval_gate.gate_status(store, "no-gate-run").state == "none"

    other = store.add_run(id="run-b", name="run-b", dataset_version_id=run.dataset_version_id,
                          base_model_id=model_id, config={}, status="failed", work_dir="runs/run-b")
    eval_gate.attach_gate(store, other.id, suite.id, [GateRule("exact_match", ">=", 0.3)])
    status = eval_gate.gate_status(store, other.id)
    assert status.state == "failed" and "without a final adapter" in status.message


def test_attach_gate_checks_its_rules(gated):
    from workbench.services import eval_gate

    store, run, suite, _model_id = gated
    with pytest.raises(WorkbenchError, match="does not compute rouge_l"):
        eval_gate.attach_gate(store, run.id, suite.id, [GateRule("rouge_l")])
    with pytest.raises(WorkbenchError, match="not '>'"):
        eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">")])
    with pytest.raises(WorkbenchError, match="'base' or a number"):
        eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", "last week")])
    with pytest.raises(WorkbenchError, match="margin"):
        eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", 0.5, -0.1)])
    assert store.run_gate(run.id) is None
    gate = eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", "0.5")])
    assert gate.rules == [GateRule("exact_match", ">=", 0.5, 0.0)] and gate.every_checkpoint


# -- reconcile ----------------------------------------------------------------------------------
@pytest.fixture
def held_manager(store):
    """The real EvalManager with its queue held (as while a project closes): start() queues and
    launches no child, so what reconcile queued stays to be seen."""
    from workbench.services.eval_runs import EvalManager

    manager = EvalManager(store)
    manager.shutdown()
    return manager


def _checkpoint_events(store, run, steps, first_seq=1):
    work = store.abspath(run.work_dir)
    events = []
    for n, step in enumerate(steps):
        folder = os.path.join(work, "checkpoints", f"checkpoint-{step}")
        _adapter(folder)
        events.append(Event(first_seq + n, "checkpoint", {"step": step, "path": folder}, 0.0))
    store.record_events(run.id, events, [], RunReport())


def test_reconcile_queues_each_checkpoint_the_final_adapter_and_the_base_once(gated, held_manager):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    store.set_run_status(run.id, "running")
    eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", "base")])
    _checkpoint_events(store, run, [10, 20])
    queued = eval_gate.reconcile(store, held_manager)
    assert sorted((e.model.checkpoint, e.model.step) for e in queued) == \
        [("base", None), ("checkpoint-10", 10), ("checkpoint-20", 20)]
    assert {e.purpose for e in queued} == {"gate"} and all(e.status == "queued" for e in queued)
    assert eval_gate.reconcile(store, held_manager) == []  # idempotent

    # A checkpoint rotated away before it was seen is gone; a new one is queued.
    _checkpoint_events(store, run, [30, 40], first_seq=3)
    import shutil
    shutil.rmtree(os.path.join(store.abspath(run.work_dir), "checkpoints", "checkpoint-30"))
    assert [e.model.checkpoint for e in eval_gate.reconcile(store, held_manager)] == ["checkpoint-40"]

    # The run completes: its final adapter once; nothing after that, even for a fresh manager.
    store.finish_run(run.id, "completed")
    queued = eval_gate.reconcile(store, held_manager)
    assert [(e.model.checkpoint, e.model.run_id) for e in queued] == [("final", run.id)]
    assert eval_gate.reconcile(store, held_manager) == []
    from workbench.services.eval_runs import EvalManager
    fresh = EvalManager(store)
    fresh.shutdown()
    assert eval_gate.reconcile(store, fresh) == []
    assert len(store.list_eval_runs(suite_id=suite.id)) == 5
    assert eval_gate.gate_status(store, run.id).state == "pending"


def test_reconcile_shares_the_base_eval_and_skips_checkpoints_when_asked(gated, held_manager):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    other = store.add_run(id="run-b", name="run-b", dataset_version_id=run.dataset_version_id,
                          base_model_id=model_id, config={}, status="running", work_dir="runs/run-b")
    eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", "base")], every_checkpoint=False)
    eval_gate.attach_gate(store, other.id, suite.id, [GateRule("exact_match", ">=", "base")], every_checkpoint=False)
    _checkpoint_events(store, other, [10])
    queued = eval_gate.reconcile(store, held_manager)
    # run-a completed already: its final adapter; one base eval for both gates; no checkpoint.
    assert sorted((e.model.checkpoint, e.model.run_id) for e in queued) == [("base", None), ("final", run.id)]
    assert eval_gate.reconcile(store, held_manager) == []


def test_reconcile_queues_no_eval_of_an_adapter_that_is_gone(gated, held_manager):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    eval_gate.attach_gate(store, run.id, suite.id, [], every_checkpoint=False)
    os.remove(os.path.join(store.abspath(run.adapter_path), "adapter_config.json"))
    assert eval_gate.reconcile(store, held_manager) == []
    assert store.list_eval_runs(suite_id=suite.id) == []


def test_an_eval_the_manager_refuses_is_not_tried_again_on_every_poll(gated, held_manager, caplog):
    from workbench.services import eval_gate

    store, run, suite, model_id = gated
    eval_gate.attach_gate(store, run.id, suite.id, [], every_checkpoint=False)
    os.remove(os.path.join(store.get_base_model(model_id).path, "config.json"))  # the base model is gone
    with caplog.at_level("WARNING", logger="workbench.services.eval_gate"):
        assert eval_gate.reconcile(store, held_manager) == []
        assert eval_gate.reconcile(store, held_manager) == []
    refusals = [r for r in caplog.records if "cannot evaluate" in r.getMessage()]
    assert len(refusals) == 1 and "missing" in refusals[0].getMessage()


def test_a_gate_attached_again_with_another_suite_is_reconciled_anew(gated, held_manager):
    from workbench.services import eval_gate

    store, run, suite, _model_id = gated
    eval_gate.attach_gate(store, run.id, suite.id, [], every_checkpoint=False)
    assert [e.suite_id for e in eval_gate.reconcile(store, held_manager)] == [suite.id]
    assert eval_gate.reconcile(store, held_manager) == []  # settled
    other = make_suite(store, [["x"]], name="other")
    eval_gate.attach_gate(store, run.id, other.id, [], every_checkpoint=False)
    assert [e.suite_id for e in eval_gate.reconcile(store, held_manager)] == [other.id]
