"""The evaluation records in the project store: suites are versioned and immutable, results
idempotent by (eval run, item), ratings keep history, gates and cross-validations round-trip."""

import pytest

from workbench.core.errors import ProjectError
from workbench.core.eval_records import EvalItem, EvalModel, GateRule, GenerationSettings, ItemResult, MetricSpec, RunGate
from workbench.store import ProjectStore

ITEMS = [EvalItem(id="a", messages=[{"role": "user", "content": "2+2?"}], references=["4"], label="math"),
         EvalItem(id="b", messages=[{"role": "user", "content": "Capital of France?"}], references=["Paris"])]
METRICS = [MetricSpec("exact_match"), MetricSpec("regex", {"pattern": r"\d"})]


@pytest.fixture
def model_id(store):
    return store.add_base_model("tiny", "tiny", "/nowhere", "fp").id


def test_suite_versions_share_a_lineage_and_keep_their_items(store):
    v1 = store.add_suite("probe", ITEMS, METRICS, GenerationSettings(), {"kind": "hand"})
    v2 = store.add_suite("probe", ITEMS[:1], METRICS, GenerationSettings(max_new_tokens=32), {"kind": "hand"},
                         parent_id=v1.id)
    assert (v1.version, v2.version) == (1, 2) and v2.lineage_id == v1.lineage_id == v1.id
    assert v1.content_hash != v2.content_hash
    assert [s.id for s in store.list_suites()] == [v2.id]
    assert {s.id for s in store.list_suites(latest_only=False)} == {v1.id, v2.id}
    assert store.suite_items(v1.id) == ITEMS and store.suite_items(v2.id) == ITEMS[:1]
    assert store.get_suite(v2.id).metrics == METRICS and store.get_suite(v2.id).generation.max_new_tokens == 32
    with pytest.raises(ProjectError, match="same id"):
        store.add_suite("dup", [ITEMS[0], ITEMS[0]], METRICS, GenerationSettings(), {"kind": "hand"})


def test_eval_run_results_are_idempotent_and_ratings_keep_history(store, model_id, tmp_path):
    suite = store.add_suite("probe", ITEMS, METRICS, GenerationSettings(), {"kind": "hand"})
    run = store.add_eval_run(suite, EvalModel(model_id, label="tiny (base)"), "evals/x")
    assert run.status == "queued" and run.total_items == 2 and run.suite_hash == suite.content_hash
    assert store.queued_eval_run_ids() == [run.id]
    result = ItemResult(run.id, "a", 0, "4", tokens=1, scores={"exact_match": 1.0})
    store.put_item_results(run.id, [result])
    store.put_item_results(run.id, [result])
    store.set_judgement(run.id, "a", 1.0, "right", None)
    [got] = store.item_results(run.id)
    assert got.output == "4" and got.scores == {"exact_match": 1.0} and got.judge_score == 1.0
    store.update_eval_run(run.id, status="completed", summary={"exact_match": 1.0}, done_items=1)
    assert store.get_eval_run(run.id).summary == {"exact_match": 1.0}
    with pytest.raises(ValueError):
        store.update_eval_run(run.id, suite_id="x")
    store.add_rating(run.id, "a", "pass_fail", 0.0, "wrong", rater="ann")
    store.add_rating(run.id, "a", "pass_fail", 1.0, "on second look fine", rater="ann")
    store.add_rating(run.id, "a", "pass_fail", 1.0, rater="bob")
    latest = store.ratings(run.id)
    assert sorted((r.rater, r.value) for r in latest) == [("ann", 1.0), ("bob", 1.0)]
    assert len(store.ratings(run.id, latest_only=False)) == 3
    store.delete_eval_run(run.id)
    assert store.list_eval_runs() == [] and store.item_results(run.id) == []


def test_gates_and_cross_validations_survive_reopening(store, model_id):
    suite = store.add_suite("probe", ITEMS, METRICS, GenerationSettings(), {"kind": "hand"})
    version = store.add_version(dataset_id=store.add_dataset("d").id, content_hash="h", blob_path="b", row_count=1,
                                format="x", source_name="s", source_size=1, source_hash="sh")
    run = store.add_run(name="r", dataset_version_id=version.id, base_model_id=model_id, config={}, work_dir="runs/r")
    gate = RunGate(run.id, suite.id, [GateRule("exact_match", ">=", "base", 0.05)], True, "", "")
    store.set_run_gate(gate)
    cv = store.add_cross_validation("cv", version.id, model_id, 3, 7, {"r": 4}, METRICS, GenerationSettings(),
                                    [run.id], [suite.id])
    path = store.path
    store.close()
    again = ProjectStore.open(path)
    try:
        got = again.run_gate(run.id)
        assert got.rules == gate.rules and got.every_checkpoint and got.created_by
        assert again.get_cross_validation(cv.id).run_ids == [run.id]
        again.delete_run(run.id)
        assert again.run_gate(run.id) is None
    finally:
        again.close()
