"""Exporting eval results as CSV (long format) and JSONL, read back."""

from __future__ import annotations

import csv
import json
import os

import pytest

from tests.helpers.eval_results import add_eval, make_suite, stand_in_model
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalModel


@pytest.fixture
def two_runs(store):
    suite = make_suite(store, [["Paris"], ["4", "four"], ["blue"]], metrics=("exact_match", "length"))
    base = add_eval(store, suite, ["Paris", "5", None], errors={2: "prompt longer than the context"},
                    scores=[{"exact_match": 1.0, "length": 1.0}, {"exact_match": 0.0, "length": 1.0}, {}],
                    label="tiny (base)")
    tuned = add_eval(store, suite, ["Paris, France", "four", "blue,\n\"sky\""],
                     model=EvalModel(stand_in_model(store), run_id="run-1", checkpoint="final", step=40, label="run-1 · final"),
                     scores=[{"exact_match": 0.0, "length": 2.0}, {"exact_match": 1.0, "length": 1.0},
                             {"exact_match": None, "length": 2.0}], judge=[1.0, None, 0.0])
    store.add_rating(tuned.id, "q0", "pass_fail", 1.0, "good", rater="ann")
    store.add_rating(tuned.id, "q0", "pass_fail", 0.0, "on second thought, too long", rater="ann")
    store.add_rating(tuned.id, "q2", "pass_fail", 0.0, "", rater="bob")
    return suite, base, tuned


def test_csv_has_one_row_per_item_run_and_metric(store, two_runs, tmp_path):
    from workbench.services.eval_export import CSV_COLUMNS, export_results

    suite, base, tuned = two_runs
    path = export_results(store, [base.id, tuned.id], str(tmp_path / "results.csv"))
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    # base: 2 scored items x 2 metrics + the failed item's one row; tuned: 3 x 2
    assert len(rows) == 5 + 6
    failed = [r for r in rows if r["eval_run_id"] == base.id and r["item_id"] == "q2"]
    assert len(failed) == 1 and failed[0]["error"] == "prompt longer than the context" and failed[0]["metric"] == ""
    cell = next(r for r in rows if r["eval_run_id"] == tuned.id and r["item_id"] == "q2" and r["metric"] == "length")
    assert cell["output"] == 'blue,\n"sky"' and float(cell["score"]) == 2.0  # quoting survives commas, newlines
    assert cell["prompt"] == "Question 2?" and cell["reference"] == "blue" and cell["model"] == "run-1 · final"
    none_score = next(r for r in rows if r["eval_run_id"] == tuned.id and r["item_id"] == "q2"
                      and r["metric"] == "exact_match")
    assert none_score["score"] == ""
    assert {r["suite"] for r in rows} == {suite.title}


def test_jsonl_has_one_object_per_item_and_run_with_judge_and_ratings(store, two_runs, tmp_path):
    from workbench.services.eval_export import export_results

    suite, base, tuned = two_runs
    path = export_results(store, [tuned.id, base.id], str(tmp_path / "results.jsonl"))
    objs = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert [(o["eval_run_id"], o["item_id"]) for o in objs] == \
        [(tuned.id, "q0"), (tuned.id, "q1"), (tuned.id, "q2"), (base.id, "q0"), (base.id, "q1"), (base.id, "q2")]
    first = objs[0]
    assert first["model"]["checkpoint"] == "final" and first["model"]["step"] == 40
    assert first["references"] == ["Paris"] and first["messages"][-1]["content"] == "Question 0?"
    assert first["scores"] == {"exact_match": 0.0, "length": 2.0}
    assert first["judge"] == {"score": 1.0, "reason": "looks right", "error": None}
    # The latest rating of each rater and item only.
    assert [(r["rater"], r["value"], r["comment"]) for r in first["ratings"]] == \
        [("ann", 0.0, "on second thought, too long")]
    assert objs[1]["judge"] is None and objs[1]["references"] == ["4", "four"]
    assert objs[5]["output"] is None and objs[5]["error"] == "prompt longer than the context"


def test_bad_suffix_missing_folder_and_unwritable_folder_are_clear_errors(store, two_runs, tmp_path):
    from workbench.services.eval_export import export_results

    _suite, base, _tuned = two_runs
    with pytest.raises(WorkbenchError, match="as .xlsx"):
        export_results(store, [base.id], str(tmp_path / "results.xlsx"))
    with pytest.raises(WorkbenchError, match="does not exist"):
        export_results(store, [base.id], str(tmp_path / "nowhere" / "results.csv"))
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        # root writes anywhere chmod allows nothing: /proc refuses new files even to root
        folder = locked if not os.access(locked, os.W_OK) else "/proc"
        with pytest.raises(WorkbenchError, match="Cannot write in the folder"):
            export_results(store, [base.id], os.path.join(folder, "results.csv"))
    finally:
        os.chmod(locked, 0o700)
    with pytest.raises(WorkbenchError, match="No eval run"):
        export_results(store, ["no-such-run"], str(tmp_path / "results.csv"))
    assert not os.path.exists(tmp_path / "results.csv")


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(store, two_runs, tmp_path, monkeypatch):
    from workbench.services import eval_export

    _suite, base, _tuned = two_runs
    target = tmp_path / "results.jsonl"
    target.write_text("earlier export\n")

    def broken(*_args):
        yield {"ok": 1}
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(eval_export, "_jsonl_rows", broken)
    with pytest.raises(WorkbenchError, match="Could not write"):
        eval_export.export_results(store, [base.id], str(target))
    assert target.read_text() == "earlier export\n"
    assert sorted(os.listdir(tmp_path)) == ["Test.wbproj", "results.jsonl"]
