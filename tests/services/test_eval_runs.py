"""EvalManager through the real store and, where marked slow, the real eval child on the tiny
model: an eval of the base model end to end with its scores stored, cancel then resume without
regenerating finished items, a dead child becoming interrupted (owned and re-attached), the
suite without references scored with the reference-free metrics only; and, without a child,
the checks start() makes (wrong base model, missing checkpoint, empty suite) and the adapter
snapshot it takes."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalModel, GenerationSettings, MetricSpec
from workbench.services import eval_suites
from workbench.services.eval_runs import EvalManager, model_choices

FAST = GenerationSettings(max_new_tokens=6, batch_size=1)


def _poll_until(manager, done, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    events = []
    while not done():
        events += manager.poll()
        assert time.monotonic() < deadline, "the eval run did not get there in time"
        time.sleep(0.05)
    return events


def _ended(store, eval_run_id):
    return lambda: store.get_eval_run(eval_run_id).status not in ("queued", "running")


def _tiny(store):
    return next(m for m in store.list_base_models() if m.kind == "tiny")


def _spec(store, eval_run):
    with open(os.path.join(store.abspath(eval_run.work_dir), "eval.spec.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.slow
def test_an_eval_of_the_base_model_stores_outputs_scores_and_a_summary(demo_store):
    store = demo_store
    suite = eval_suites.suite_from_items(store, "probe", [
        {"prompt": "Where is my order?", "reference": "Please send me the order number."},
        {"prompt": "Do you sell mugs?", "reference": "Yes, we sell mugs."},
    ], [MetricSpec("exact_match"), MetricSpec("rouge_l"), MetricSpec("length"), MetricSpec("loss"),
        MetricSpec("judge", {"model_id": _tiny(store).id, "scale": "pass_fail", "max_new_tokens": 12})], FAST)
    manager = EvalManager(store)
    try:
        [run] = manager.start(suite.id, [EvalModel(_tiny(store).id)])
        events = _poll_until(manager, _ended(store, run.id))
    finally:
        manager.shutdown()
    run = store.get_eval_run(run.id)
    assert run.status == "completed", run.error
    assert (run.label, run.done_items, run.failed_items, run.total_items) == (f"{_tiny(store).name} (base)", 2, 0, 2)
    assert {k for k, _e in events} == {run.id} and [e.kind for _k, e in events].count("item") == 2
    results = store.item_results(run.id)
    assert [r.idx for r in results] == [0, 1] and all(r.output is not None and r.error is None for r in results)
    for r in results:  # each item scored as it arrived, the loss from the child's reference NLL
        assert {"exact_match", "rouge_l", "length", "loss"} <= set(r.scores)
        assert r.ref_tokens and r.scores["loss"] == pytest.approx(r.ref_nll / r.ref_tokens)
        # The tiny model judged each output: a verdict, or (it writes no verdict) the parse error
        # on the item, with its raw text kept as the reason.
        assert (r.judge_score in (0.0, 1.0)) != bool(r.judge_error) and r.judge_reason is not None
    judged = [r for r in results if r.judge_score is not None]
    assert run.summary["_n"]["judge"] == len(judged) and "judge" in run.summary
    assert run.summary["length"] == pytest.approx(sum(r.scores["length"] for r in results) / 2)
    assert run.summary["_n"]["rouge_l"] == 2 and run.summary["_failed"] == 0 and "_note" not in run.summary
    spec = _spec(store, run)
    assert spec["reference_loss"] is True and spec["adapter_path"] is None and spec["done_outputs"] == {}
    assert spec["judge"]["model_path"] == _tiny(store).path and spec["judge"]["rubric"]
    assert run.judge_model_id == _tiny(store).id
    assert len(open(spec["items_path"], encoding="utf-8").read().splitlines()) == 2


@pytest.mark.slow
def test_cancel_then_resume_finishes_without_regenerating_finished_items(demo_store):
    """Also: a suite without references is scored with the reference-free metrics only."""
    store = demo_store
    n = 10
    suite = eval_suites.suite_from_items(store, "ten", [
        {"prompt": f"Question number {i}: where is parcel {i}?"} for i in range(n)],
        [MetricSpec("rouge_l"), MetricSpec("length")], GenerationSettings(max_new_tokens=8, batch_size=1))
    first_manager = EvalManager(store)
    [run] = first_manager.start(suite.id, [EvalModel(_tiny(store).id)])
    _poll_until(first_manager, lambda: store.get_eval_run(run.id).done_items >= 1)
    # The app closes (the child goes on, journal only) and opens again: the live child is
    # re-attached through its journal. Cancelled once the first item is in, it stops before its
    # next batch, so most of the suite (every later batch) is left for the resume.
    first_manager.shutdown()
    manager = EvalManager(store)
    try:
        assert manager.active_ids() == [run.id]
        manager.cancel(run.id)
        _poll_until(manager, _ended(store, run.id))
        cancelled = store.get_eval_run(run.id)
        assert cancelled.status == "cancelled" and "Resume" in (cancelled.error_advice or "")
        first = {r.item_id: r.output for r in store.item_results(run.id)}
        assert 1 <= len(first) < n and cancelled.done_items == len(first)
        journal = os.path.join(store.abspath(run.work_dir), "journal.jsonl")
        before = os.path.getsize(journal)

        assert manager.resume(run.id).status == "running"
        spec = _spec(store, run)
        assert spec["done_outputs"] == first  # the second child is told what is done
        _poll_until(manager, _ended(store, run.id))
    finally:
        manager.shutdown()
    done = store.get_eval_run(run.id)
    assert done.status == "completed", done.error
    assert (done.done_items, done.failed_items) == (n, 0) and done.error is None
    results = store.item_results(run.id)
    assert len(results) == n and all(first[r.item_id] == r.output for r in results if r.item_id in first)
    with open(journal, "rb") as f:
        f.seek(before)
        second = [json.loads(line) for line in f.read().decode().splitlines() if line.strip()]
    generated = [e["payload"]["item_id"] for e in second if e["kind"] == "item"]
    assert sorted(generated) == sorted(set(r.item_id for r in results) - set(first))
    assert done.summary["_n"]["length"] == n and "rouge_l" not in done.summary
    assert "reference" in done.summary["_note"] and "ROUGE" in done.summary["_note"]
    assert spec["reference_loss"] is False and all(set(r.scores) == {"length"} for r in results)


@pytest.mark.slow
def test_a_dead_eval_child_becomes_interrupted_and_resumable(demo_store):
    store = demo_store
    suite = eval_suites.suite_from_items(store, "probe", [{"prompt": "Hi", "reference": "Hello"}],
                                         [MetricSpec("rouge_l")], FAST)
    manager = EvalManager(store)
    [run] = manager.start(suite.id, [EvalModel(_tiny(store).id)])
    pid = store.get_eval_run(run.id).pid
    assert pid and store.get_eval_run(run.id).status == "running"
    # The app closes while the child works (it goes on, journal only); then the child dies.
    manager.shutdown()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{pid}") and ") Z " not in open(f"/proc/{pid}/stat").read():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    reopened = EvalManager(store)  # re-attach on open: the process is gone
    try:
        gone = store.get_eval_run(run.id)
        assert gone.status == "interrupted" and "while Workbench was closed" in gone.error
        assert "Resume" in gone.error_advice and reopened.active_ids() == []

        # Resumed, then killed while this manager owns it: interrupted with the signal named.
        reopened.resume(run.id)
        again = store.get_eval_run(run.id)
        assert again.status == "running" and again.pid != pid
        os.kill(again.pid, signal.SIGKILL)
        _poll_until(reopened, _ended(store, run.id))
        killed = store.get_eval_run(run.id)
        assert killed.status == "interrupted" and "SIGKILL" in killed.error
    finally:
        reopened.shutdown()


@pytest.mark.slow
def test_a_model_that_cannot_load_fails_the_run_with_the_childs_message(project):
    store, _version_id, model_id = project  # its folder has a config.json and no weights
    suite = eval_suites.suite_from_items(store, "probe", [{"prompt": "Hi", "reference": "Hello"}],
                                         [MetricSpec("rouge_l")], FAST)
    manager = EvalManager(store)
    try:
        [run] = manager.start(suite.id, [EvalModel(model_id)])
        _poll_until(manager, _ended(store, run.id))
    finally:
        manager.shutdown()
    failed = store.get_eval_run(run.id)
    assert failed.status == "failed" and failed.error and failed.error_advice
    assert "stand-in" in failed.error or store.get_base_model(model_id).path in failed.error
    assert store.item_results(run.id) == [] and failed.summary == {}


# -- no child ------------------------------------------------------------------------------------
def _run_record(store, base_model_id, name="run-1", status="completed"):
    from workbench.core.clock import new_id

    run_id = new_id()
    return store.add_run(id=run_id, name=name, dataset_version_id=store.list_versions()[0].id,
                         base_model_id=base_model_id, config={}, status=status, work_dir=f"runs/{run_id}", seed=0)


def _checkpoint(store, run, name):
    folder = os.path.join(store.abspath(run.work_dir), "checkpoints", name)
    os.makedirs(folder)
    for file in ("adapter_config.json", "adapter_model.safetensors", "optimizer.pt", "rng_state.pth"):
        with open(os.path.join(folder, file), "w", encoding="utf-8") as f:
            f.write("{}")
    return folder


@pytest.fixture
def two_models(project, tmp_path):
    store, _version_id, model_id = project
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    (other_dir / "config.json").write_text("{}")
    other = store.add_base_model("other", "hf_folder", str(other_dir), "c" * 64)
    suite = eval_suites.suite_from_items(store, "probe", [{"prompt": "Hi", "reference": "Hello"}],
                                         [MetricSpec("rouge_l")])
    return store, store.get_base_model(model_id), other, suite


def test_start_refuses_an_adapter_of_another_base_model_a_missing_checkpoint_and_an_empty_suite(two_models):
    store, model, other, suite = two_models
    run = _run_record(store, model.id)
    _checkpoint(store, run, "checkpoint-5")
    manager = EvalManager(store)
    with pytest.raises(WorkbenchError) as wrong:
        manager.start(suite.id, [EvalModel(model.id), EvalModel(other.id, run.id, "checkpoint-5")])
    assert "trained on stand-in, not on other" in wrong.value.user_message and "stand-in" in wrong.value.advice
    with pytest.raises(WorkbenchError) as missing:
        manager.start(suite.id, [EvalModel(model.id, run.id, "best")])
    assert "no best adapter" in missing.value.user_message and "checkpoint-5 (step 5)" in missing.value.advice
    empty = store.add_suite("empty", [], [MetricSpec("rouge_l")], GenerationSettings(), {"kind": "hand"})
    with pytest.raises(WorkbenchError, match="has no items"):
        manager.start(empty.id, [EvalModel(model.id)])
    with pytest.raises(WorkbenchError, match="judge"):
        manager.start(eval_suites.suite_from_items(store, "judged", [{"prompt": "Hi"}], [MetricSpec("judge")]).id,
                      [EvalModel(model.id)])
    # Refused as a whole: not even the good model of the first call was queued.
    assert store.list_eval_runs() == [] and manager.active_ids() == []


def test_start_snapshots_the_checkpoint_so_a_rotated_one_cannot_vanish(two_models):
    import shutil

    store, model, _other, suite = two_models
    run = _run_record(store, model.id, name="ship-bot", status="interrupted")
    folder = _checkpoint(store, run, "checkpoint-5")
    choices = {(c.run_id, c.checkpoint, c.base_model_id): c for c in model_choices(store)}
    assert choices[(None, "base", model.id)].label == "stand-in (base)"
    choice = choices[(run.id, "checkpoint-5", model.id)]
    assert (choice.label, choice.step, choice.base_model_id) == ("ship-bot · checkpoint-5 (step 5)", 5, model.id)

    manager = EvalManager(store)
    manager.shutdown()  # the queue is held: start() queues and snapshots, no child starts
    [queued] = manager.start(suite.id, [choice])
    shutil.rmtree(folder)  # the training run rotated its checkpoints away
    snapshot = os.path.join(store.abspath(queued.work_dir), "adapter")
    assert sorted(os.listdir(snapshot)) == ["adapter_config.json", "adapter_model.safetensors"]
    assert queued.status == "queued" and queued.model.step == 5 and queued.label == choice.label
    assert store.queued_eval_run_ids() == [queued.id]
    manager.cancel(queued.id)  # a waiting eval run leaves the queue
    assert store.get_eval_run(queued.id).status == "cancelled" and store.queued_eval_run_ids() == []
