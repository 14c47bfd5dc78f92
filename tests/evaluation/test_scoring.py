"""scoring: keys, strictness, the metrics a suite without references keeps, worker processes
giving the same numbers, and the JSONL files of `workbench eval score`."""

from __future__ import annotations

import json

import pytest
import sacrebleu

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import MetricSpec
from workbench.evaluation.registry import ItemInput
from workbench.evaluation.scoring import metric_keys, read_jsonl_pairs, score, usable_metrics


def test_keys_number_repeated_metrics_and_empty_items_score_nothing():
    specs = [MetricSpec("regex", {"pattern": "a"}), MetricSpec("bleu"), MetricSpec("regex", {"pattern": "b"})]
    assert metric_keys(specs) == ["regex", "bleu", "regex#2"]
    result = score(specs, [])
    assert list(result) == ["regex", "bleu", "regex#2"] and all(s.value is None and s.n == 0 for s in result.values())


def test_usable_metrics_drops_the_reference_metrics_with_a_message_naming_them():
    specs = [MetricSpec("bleu"), MetricSpec("length"), MetricSpec("rouge_l"), MetricSpec("contains"),
             MetricSpec("contains", {"text": "BB-"}), MetricSpec("valid_json"), MetricSpec("loss")]
    kept, message = usable_metrics(specs, has_references=False)
    assert [s.name for s in kept] == ["length", "contains", "valid_json"] and kept[1].params == {"text": "BB-"}
    for title in ("BLEU", "ROUGE-L", "Contains", "Reference loss"):
        assert title in message
    assert "reference-free" in message
    assert usable_metrics(specs, has_references=True) == (specs, None)
    with pytest.raises(WorkbenchError, match="no metric called 'nope'"):
        usable_metrics([MetricSpec("nope")], has_references=False)


def test_worker_processes_give_the_same_rows_and_numbers_as_one_process():
    items = [ItemInput(f"answer number {i} is {'yes' if i % 3 else 'no'} today", [f"answer {i} is yes", f"no {i}"])
             for i in range(120)]
    specs = [MetricSpec("rouge_l"), MetricSpec("bleu"), MetricSpec("chrf"), MetricSpec("exact_match")]
    one, many = score(specs, items, workers=1), score(specs, items, workers=2)
    for key in one:
        assert many[key].value == one[key].value and many[key].item_scores == one[key].item_scores
        assert (many[key].stats == one[key].stats).all()
    hyps, refs = [i.prediction for i in items], [[i.references[0] for i in items], [i.references[1] for i in items]]
    assert many["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(hyps, refs).score, abs=1e-12)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_read_jsonl_pairs_by_order_by_id_and_self_contained(tmp_path):
    preds = _write(tmp_path / "p.jsonl", [{"prediction": "a"}, "b", {"output": "c"}])
    refs = _write(tmp_path / "r.jsonl", [{"reference": "A"}, {"references": ["B", "bb"]}, "C"])
    items = read_jsonl_pairs(preds, refs)
    assert [(i.prediction, i.references) for i in items] == [("a", ["A"]), ("b", ["B", "bb"]), ("c", ["C"])]
    preds = _write(tmp_path / "p2.jsonl", [{"id": 2, "output": "two"}, {"id": 1, "output": "one"}])
    refs = _write(tmp_path / "r2.jsonl", [{"id": 1, "reference": "uno", "label": "x"}, {"id": 2, "reference": "dos"}])
    items = read_jsonl_pairs(preds, refs)
    assert [(i.prediction, i.references, i.label) for i in items] == [("two", ["dos"], None), ("one", ["uno"], "x")]
    alone = _write(tmp_path / "p3.jsonl", [{"prediction": "p", "references": ["r"], "label": "L"}, {"prediction": "q"}])
    assert [(i.references, i.label) for i in read_jsonl_pairs(alone)] == [(["r"], "L"), ([], None)]


def test_read_jsonl_pairs_names_the_file_and_line_of_bad_input(tmp_path):
    good = _write(tmp_path / "good.jsonl", ["x", "y"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"x"\n{not json\n', encoding="utf-8")
    with pytest.raises(WorkbenchError, match=r"Line 2 of .*bad.jsonl is not JSON"):
        read_jsonl_pairs(bad, good)
    nofield = _write(tmp_path / "nofield.jsonl", ["x", {"answer_text": "y"}])
    with pytest.raises(WorkbenchError, match=r"Line 2 of .*nofield.jsonl has no prediction"):
        read_jsonl_pairs(nofield, good)
    with pytest.raises(WorkbenchError, match=r"Line 2 of .*nofield.jsonl has no reference"):
        read_jsonl_pairs(good, nofield)
    short = _write(tmp_path / "short.jsonl", ["x"])
    with pytest.raises(WorkbenchError, match="has 2 predictions but .* has 1 references"):
        read_jsonl_pairs(good, short)
    with pytest.raises(WorkbenchError, match="does not exist"):
        read_jsonl_pairs(tmp_path / "missing.jsonl", good)
    ids = _write(tmp_path / "ids.jsonl", [{"id": 1, "output": "a"}, {"id": 9, "output": "b"}])
    ref_ids = _write(tmp_path / "refids.jsonl", [{"id": 1, "reference": "a"}, {"id": 2, "reference": "b"}])
    with pytest.raises(WorkbenchError, match="1 prediction id"):
        read_jsonl_pairs(ids, ref_ids)
