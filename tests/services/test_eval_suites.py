"""Eval suites through the real store and dataset services: from a split's test part, from any
version, by hand, from a JSONL file; editing makes a new version; bad input is a clear error."""

from __future__ import annotations

import json

import pytest

from tests.helpers.rows import chat, write_jsonl
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalItem, GenerationSettings, MetricSpec
from workbench.services import eval_suites

TEXT = [MetricSpec("exact_match"), MetricSpec("rouge_l")]


def test_a_suite_from_a_splits_test_part_cuts_each_row_at_its_last_reply(store, import_records):
    from workbench.services import dataset_ops

    rows = [chat(f"question {i}", f"answer {i}", system="Be brief.", topic=f"t{i % 2}") for i in range(20)]
    version = import_records(rows, "qa")
    parts = dataset_ops.make_split(store, version.id, counts={"train": 14, "validation": 2, "test": 4}, seed=3)
    test = parts["test"]

    assert [v.id for v in eval_suites.test_part_versions(store)] == [test.id]
    suite = eval_suites.suite_from_version(store, test.id, "held out", TEXT, label_field="topic")
    items = store.suite_items(suite.id)

    assert suite.source["kind"] == "test_split" and suite.source["dataset_version_id"] == test.id
    assert suite.item_count == len(items) == 4 and suite.version == 1 and suite.created_by == "tester"
    for item in items:
        n = item.messages[1]["content"].split()[-1]
        assert item.messages == [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": f"question {n}"}]
        assert item.references == [f"answer {n}"] and item.label == f"t{int(n) % 2}"
    whole = eval_suites.suite_from_version(store, version.id, "all", TEXT, limit=5)
    assert whole.source["kind"] == "dataset_version" and whole.item_count == 5


def test_rows_without_a_reply_have_no_references_and_tool_calls_are_kept(store, add_raw_version):
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    version = add_raw_version([
        [{"role": "user", "content": "Weather in Paris?"}, {"role": "assistant", "content": "", "tool_calls": [call]},
         {"role": "tool", "content": "18 C", "name": "get_weather"}, {"role": "assistant", "content": "18 C, sunny."}],
        [{"role": "user", "content": "Call the weather tool for Paris."},
         {"role": "assistant", "content": "", "tool_calls": [call]}],
        [{"role": "user", "content": "Nobody answered this one."}],
    ])
    items = store.suite_items(eval_suites.suite_from_version(store, version.id, "tools", TEXT).id)

    assert items[0].messages[1]["tool_calls"] == [call] and items[0].messages[2]["role"] == "tool"
    assert items[0].references == ["18 C, sunny."]
    assert json.loads(items[1].references[0]) == call["function"]
    assert items[2].messages == [{"role": "user", "content": "Nobody answered this one."}] and items[2].references == []


def test_a_hand_suite_takes_prompts_or_conversations(store):
    suite = eval_suites.suite_from_items(store, "probe", [
        {"prompt": "Where is my order?", "reference": "Please send the order number."},
        {"messages": [{"role": "user", "content": "Do you sell mugs?"}, {"role": "assistant", "content": "Yes."}],
         "label": "yes", "tags": ["sales"]},
        EvalItem(id="kept", messages=[{"role": "user", "content": "Hi"}], references=["Hello", "Hi there"]),
    ], TEXT, GenerationSettings(max_new_tokens=32))
    items = store.suite_items(suite.id)

    assert suite.source["kind"] == "hand" and suite.generation.max_new_tokens == 32
    assert items[0].messages == [{"role": "user", "content": "Where is my order?"}]
    assert items[0].references == ["Please send the order number."]
    assert items[1].messages == [{"role": "user", "content": "Do you sell mugs?"}]
    assert (items[1].references, items[1].label, items[1].tags) == (["Yes."], "yes", ["sales"])
    assert items[2].id == "kept" and items[2].references == ["Hello", "Hi there"]


def test_bad_items_metrics_and_settings_are_clear_errors(store):
    with pytest.raises(WorkbenchError, match="no items"):
        eval_suites.suite_from_items(store, "empty", [], TEXT)
    with pytest.raises(WorkbenchError, match="Item 2 has no prompt"):
        eval_suites.suite_from_items(store, "bad", [{"prompt": "ok"}, {"reference": "no prompt"}], TEXT)
    with pytest.raises(WorkbenchError, match="Item 1: message 1"):
        eval_suites.suite_from_items(store, "bad", [{"messages": [{"role": "robot", "content": "x"}]}], TEXT)
    with pytest.raises(WorkbenchError, match="no_such_metric"):
        eval_suites.suite_from_items(store, "bad", [{"prompt": "ok"}], [MetricSpec("no_such_metric")])
    with pytest.raises(WorkbenchError, match="at least 1"):
        eval_suites.suite_from_items(store, "bad", [{"prompt": "ok"}], TEXT, GenerationSettings(batch_size=0))
    with pytest.raises(WorkbenchError, match="No base model|no base model"):
        eval_suites.suite_from_items(store, "bad", [{"prompt": "ok"}],
                                     [MetricSpec("judge", {"model_id": "missing", "scale": "pass_fail"})])
    assert store.list_suites() == []


def test_a_suite_from_a_jsonl_file_names_the_bad_line(store, tmp_path):
    good = write_jsonl(tmp_path / "probe.jsonl", [{"prompt": "a?", "references": ["A", "a"]},
                                                  {"prompt": "b?", "reference": "B", "label": 1}])
    suite = eval_suites.suite_from_file(store, str(good), TEXT)
    assert (suite.name, suite.source["kind"], suite.item_count) == ("probe", "file", 2)
    assert [i.label for i in store.suite_items(suite.id)] == [None, "1"]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n\n{"prompt": "broken"\n', encoding="utf-8")
    with pytest.raises(WorkbenchError, match=r"bad\.jsonl, line 3: not valid JSON"):
        eval_suites.suite_from_file(store, str(bad), TEXT)
    bad.write_text('{"prompt": "fine"}\n{"prompt": "x", "references": [{"no": 1}]}\n', encoding="utf-8")
    with pytest.raises(WorkbenchError, match=r"bad\.jsonl, line 2: the references"):
        eval_suites.suite_from_file(store, str(bad), TEXT)


def test_editing_makes_a_new_version_only_when_something_changed(store):
    first = eval_suites.suite_from_items(store, "probe", [{"id": "a", "prompt": "a?", "reference": "A"},
                                                          {"id": "b", "prompt": "b?", "reference": "B"}], TEXT)
    assert eval_suites.edit_suite(store, first.id).id == first.id
    assert eval_suites.edit_suite(store, first.id, metrics=list(TEXT), name="probe").id == first.id

    second = eval_suites.edit_suite(store, first.id, metrics=[MetricSpec("token_f1")])
    assert (second.version, second.lineage_id, second.parent_id) == (2, first.lineage_id, first.id)
    assert second.content_hash != first.content_hash and [m.name for m in second.metrics] == ["token_f1"]
    assert store.suite_items(second.id) == store.suite_items(first.id)

    items = store.suite_items(second.id)[:1] + [EvalItem(id="c", messages=[{"role": "user", "content": "c?"}])]
    third = eval_suites.edit_suite(store, second.id, items=items)
    assert third.version == 3 and [i.id for i in store.suite_items(third.id)] == ["a", "c"]
    # Every version stays: an eval run of an older one still knows what it asked.
    assert [s.version for s in store.suite_versions(first.lineage_id)] == [1, 2, 3]
    assert [s.id for s in store.list_suites()] == [third.id]
    assert store.suite_items(first.id)[1].id == "b"


def test_a_suite_without_references_says_which_metrics_it_cannot_compute(store):
    suite = eval_suites.suite_from_items(store, "no refs", [{"prompt": "Say hi."}],
                                         [MetricSpec("rouge_l"), MetricSpec("length")])
    note = eval_suites.references_note(suite)
    assert note is not None and "rouge" in note.lower() and "reference" in note.lower()
    with_refs = eval_suites.suite_from_items(store, "refs", [{"prompt": "Say hi.", "reference": "Hi"}],
                                             [MetricSpec("rouge_l"), MetricSpec("length")])
    assert eval_suites.references_note(with_refs) is None
    names = {c[0]: c[3] for c in eval_suites.metric_choices(True)}
    assert names["rouge_l"] is True and names["length"] is False
    assert "rouge_l" not in {c[0] for c in eval_suites.metric_choices(False)}
