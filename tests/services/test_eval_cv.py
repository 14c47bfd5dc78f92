"""Cross-validation: seeded, disjoint, covering folds; k runs queued with a fold gate each; the
report's mean ± standard deviation over the folds scored."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.eval_results import add_eval
from tests.helpers.rows import chat, write_jsonl
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalModel, MetricSpec
from workbench.core.records import TrainConfig

ROWS = [chat(f"question {i}", f"answer {i}") for i in range(10)]


@pytest.fixture
def cv_project(project, tmp_path):
    from workbench.services import datasets
    from workbench.services.runs import RunManager

    store, _version_id, model_id = project
    version = datasets.import_dataset(store, str(write_jsonl(tmp_path / "ten.jsonl", ROWS)), name="ten")
    return store, RunManager(store), version, model_id


def _questions(store, version):
    from workbench.data import read_rows

    return [row["messages"][0]["content"] for row in read_rows(store.abspath(version.blob_path), 0, version.row_count)]


def test_folds_are_seeded_disjoint_covering_and_balanced():
    from workbench.services.eval_cv import fold_assignment

    a = fold_assignment(103, 5, seed=7)
    assert np.array_equal(a, fold_assignment(103, 5, seed=7))
    assert not np.array_equal(a, fold_assignment(103, 5, seed=8))
    sizes = np.bincount(a, minlength=5)
    assert sizes.sum() == 103 and sizes.max() - sizes.min() <= 1 and set(a.tolist()) == set(range(5))


def test_start_cv_queues_k_runs_each_gated_on_its_held_out_fold(cv_project):
    from workbench.services import eval_cv

    store, runs, version, model_id = cv_project
    config = TrainConfig(max_steps=5)
    cv = eval_cv.start_cv(store, runs, version.id, model_id, config, k=3, seed=1,
                          metrics=[MetricSpec("exact_match"), MetricSpec("token_f1")], name="ten")
    assert store.get_cross_validation(cv.id) == cv
    assert cv.k == 3 and len(cv.run_ids) == len(cv.suite_ids) == 3
    all_questions = {f"question {i}" for i in range(10)}
    held_out = []
    for i, (run_id, suite_id) in enumerate(zip(cv.run_ids, cv.suite_ids)):
        run = store.get_run(run_id)
        assert run.name == f"cv-ten-fold-{i + 1}" and run.status == "queued"
        gate = store.run_gate(run_id)
        assert (gate.suite_id, gate.cv_id, gate.fold, gate.rules, gate.every_checkpoint) == \
            (suite_id, cv.id, i, [], False)
        suite = store.get_suite(suite_id)
        assert suite.source["kind"] == "cv_fold" and suite.source["fold"] == i
        test_questions = [it.messages[-1]["content"] for it in store.suite_items(suite_id)]
        train_questions = _questions(store, store.get_version(run.dataset_version_id))
        # Fold i trains on every row not in fold i, and only on those.
        assert set(train_questions) | set(test_questions) == all_questions
        assert not set(train_questions) & set(test_questions)
        assert {it.references[0] for it in store.suite_items(suite_id)} == \
            {q.replace("question", "answer") for q in test_questions}
        held_out.append(set(test_questions))
    assert set().union(*held_out) == all_questions and sum(len(h) for h in held_out) == 10  # disjoint, covering

    # The same folds again reuse the versions made for them (a split, once made, stays frozen).
    before = len(store.list_versions())
    again = eval_cv.start_cv(store, runs, version.id, model_id, config, k=3, seed=1,
                             metrics=[MetricSpec("exact_match")], name="ten-again")
    assert len(store.list_versions()) == before
    assert [store.get_run(r).dataset_version_id for r in again.run_ids] == \
        [store.get_run(r).dataset_version_id for r in cv.run_ids]


def test_start_cv_refuses_bad_input_before_queueing_anything(cv_project):
    from workbench.services import eval_cv

    store, runs, version, model_id = cv_project
    with pytest.raises(WorkbenchError, match="k of 2 or more"):
        eval_cv.start_cv(store, runs, version.id, model_id, TrainConfig(), k=1, seed=0,
                         metrics=[MetricSpec("exact_match")])
    with pytest.raises(WorkbenchError, match="too few for 11 folds"):
        eval_cv.start_cv(store, runs, version.id, model_id, TrainConfig(), k=11, seed=0,
                         metrics=[MetricSpec("exact_match")])
    with pytest.raises(WorkbenchError, match="no metric called 'blue'"):
        eval_cv.start_cv(store, runs, version.id, model_id, TrainConfig(), k=2, seed=0, metrics=[MetricSpec("blue")])
    assert store.queued_run_ids() == [] and store.list_cross_validations() == []


def test_cv_report_is_mean_and_sample_std_over_the_folds_scored(cv_project):
    from workbench.services import eval_cv

    store, runs, version, model_id = cv_project
    cv = eval_cv.start_cv(store, runs, version.id, model_id, TrainConfig(max_steps=5), k=4, seed=3,
                          metrics=[MetricSpec("exact_match"), MetricSpec("token_f1")], name="ten")
    report = eval_cv.cv_report(store, cv.id)
    assert report.pending == [0, 1, 2, 3] and report.done == [] and report.metrics["exact_match"].mean is None

    values = {0: (0.5, 0.7), 1: (0.25, 0.6), 2: (0.75, 0.8)}
    for fold, (em, f1) in values.items():
        run = store.get_run(cv.run_ids[fold])
        store.finish_run(run.id, "completed")
        suite = store.get_suite(cv.suite_ids[fold])
        add_eval(store, suite, ["x"] * suite.item_count, purpose="cv",
                 model=EvalModel(model_id, run_id=run.id, checkpoint="final", step=5),
                 summary={"exact_match": em, "token_f1": f1})
    report = eval_cv.cv_report(store, cv.id)
    assert report.done == [0, 1, 2] and report.pending == [3] and report.failed == []
    em = report.metrics["exact_match"]
    assert em.values == [0.5, 0.25, 0.75, None]
    assert em.mean == pytest.approx(np.mean([0.5, 0.25, 0.75]))
    assert em.std == pytest.approx(np.std([0.5, 0.25, 0.75], ddof=1))
    assert report.metrics["token_f1"].mean == pytest.approx(0.7)
    assert "3 of 4 folds" in em.describe() and "±" in em.describe()

    store.finish_run(cv.run_ids[3], "failed", error="Out of memory.")
    report = eval_cv.cv_report(store, cv.id)
    assert report.failed == [3] and report.pending == [] and "Out of memory" in report.folds[3].message
    assert report.message == "3 of 4 folds scored (1 failed)."

