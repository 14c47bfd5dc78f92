"""Splits: seeded, frozen, stratified; and the leakage check across splits."""

from __future__ import annotations

import random

import pytest

from tests.helpers.rows import chat, rows_of, write_jsonl
from workbench.core.errors import WorkbenchError
from workbench.services import dataset_ops


def _records(n: int, **extra_fn) -> list[dict]:
    rng = random.Random(n)
    return [chat(f"question {i} " + " ".join(f"q{rng.randrange(10_000)}" for _ in range(8)),
                 f"answer {i} " + " ".join(f"a{rng.randrange(10_000)}" for _ in range(20)),
                 **{k: f(i) for k, f in extra_fn.items()}) for i in range(n)]


def _source_rows(store, version) -> list[int]:
    return [r["source_row"] for r in rows_of(store, version)]


def test_split_by_ratio_is_seeded_complete_and_frozen(store, import_records, tmp_path):
    from workbench.services import datasets
    from workbench.store import ProjectStore

    records = _records(50)
    v = import_records(records)
    made = dataset_ops.make_split(store, v.id, ratios={"train": 0.6, "validation": 0.2, "test": 0.2}, seed=7)
    assert {k: x.row_count for k, x in made.items()} == {"train": 30, "validation": 10, "test": 10}
    parts = {k: _source_rows(store, x) for k, x in made.items()}
    assert sorted(sum(parts.values(), [])) == list(range(1, 51))  # every row once, no overlap
    assert all(p == sorted(p) for p in parts.values())  # original order kept inside a split
    for name, x in made.items():
        assert x.parent_id == v.id and x.dataset_id == v.dataset_id
        o = x.options
        assert o["split"] == name and o["seed"] == 7 and o["stratify_by"] is None
        assert o["ratios"] == {"train": 0.6, "validation": 0.2, "test": 0.2} and o["counts"] is None
        assert o["split_id"] == made["train"].options["split_id"]

    # The same request returns the same versions: nothing new is written.
    before = len(store.list_versions())
    again = dataset_ops.make_split(store, v.id, ratios={"train": 0.6, "validation": 0.2, "test": 0.2}, seed=7)
    assert {k: x.id for k, x in again.items()} == {k: x.id for k, x in made.items()}
    assert len(store.list_versions()) == before

    # A teammate making the same split of the same data gets the same rows (and split id).
    other = ProjectStore.create(str(tmp_path / "Other.wbproj"))
    try:
        ov = datasets.import_dataset(other, str(write_jsonl(tmp_path / "copy.jsonl", records)))
        theirs = dataset_ops.make_split(other, ov.id, ratios={"train": 0.6, "validation": 0.2, "test": 0.2}, seed=7)
        assert {k: x.content_hash for k, x in theirs.items()} == {k: x.content_hash for k, x in made.items()}
        assert theirs["test"].options["split_id"] == made["test"].options["split_id"]
    finally:
        other.close()

    reseeded = dataset_ops.make_split(store, v.id, ratios={"train": 0.6, "validation": 0.2, "test": 0.2}, seed=8)
    assert _source_rows(store, reseeded["test"]) != parts["test"]
    assert reseeded["test"].options["split_id"] != made["test"].options["split_id"]


def test_split_by_count(store, import_records):
    v = import_records(_records(40))
    made = dataset_ops.make_split(store, v.id, counts={"validation": 5, "test": 3})
    assert {k: x.row_count for k, x in made.items()} == {"train": 32, "validation": 5, "test": 3}
    some = dataset_ops.make_split(store, v.id, counts={"train": 10, "validation": 5, "test": 5})
    assert {k: x.row_count for k, x in some.items()} == {"train": 10, "validation": 5, "test": 5}
    assert some["train"].options["sizes"]["unused"] == 20
    with pytest.raises(WorkbenchError, match="exceed"):
        dataset_ops.make_split(store, v.id, counts={"validation": 30, "test": 30})
    with pytest.raises(WorkbenchError, match="add up"):
        dataset_ops.make_split(store, v.id, ratios={"train": 0.9, "validation": 0.2, "test": 0.0})


def test_stratified_split_keeps_label_proportions(store, import_records):
    records = _records(60, category=lambda i: "billing" if i % 4 == 0 else "shipping")  # 15 / 45
    v = import_records(records)
    made = dataset_ops.make_split(store, v.id, ratios={"train": 0.6, "validation": 0.2, "test": 0.2},
                                  stratify_by="category", seed=3)
    counts = {}
    for name, x in made.items():
        labels = [r["source"]["category"] for r in rows_of(store, x)]
        counts[name] = {lab: labels.count(lab) for lab in ("billing", "shipping")}
    assert counts == {"train": {"billing": 9, "shipping": 27}, "validation": {"billing": 3, "shipping": 9},
                      "test": {"billing": 3, "shipping": 9}}
    assert made["train"].options["stratify_by"] == "category"
    assert made["train"].options["strata"]["billing"] == {"train": 9, "validation": 3, "test": 3}
    plain = dataset_ops.make_split(store, v.id, ratios={"train": 0.6, "validation": 0.2, "test": 0.2}, seed=3)
    assert plain["train"].options["split_id"] != made["train"].options["split_id"]
    with pytest.raises(WorkbenchError, match="no_such_field"):
        dataset_ops.make_split(store, v.id, stratify_by="no_such_field")


def test_leakage_between_versions(store, import_records):
    train = _records(12)
    copy = train[2]
    para = chat(train[5]["messages"][0]["content"],
                train[5]["messages"][1]["content"].replace("answer 5", "answer five") + " ok")
    test = [copy, para] + _records(6)[3:]  # the last rows share nothing with train
    vt, vs = import_records(train, "train"), import_records(test, "test")
    report = dataset_ops.leakage_report(store, {"train": vt.id, "test": vs.id}, threshold=0.7)
    assert report.exact_pairs == 1 and report.near_pairs == 1
    pairs = {(p.kind, p.split_a, p.row_a, p.split_b, p.row_b) for p in report.pairs}
    assert pairs == {("exact", "train", 2, "test", 0), ("near", "train", 5, "test", 1)}
    assert report.by_splits == {"train/test": 2} and report.rows == {"train": 12, "test": 5}


def test_leakage_of_a_split_counts_every_cross_pair(store, import_records):
    records = _records(30) + [chat("same question", "same answer")] * 6
    v = import_records(records)
    made = dataset_ops.make_split(store, v.id, ratios={"train": 0.5, "validation": 0.25, "test": 0.25}, seed=1)
    copies = {k: sum(r["messages"][0]["content"] == "same question" for r in rows_of(store, x))
              for k, x in made.items()}
    expected = (copies["train"] * copies["validation"] + copies["train"] * copies["test"]
                + copies["validation"] * copies["test"])
    assert expected > 0
    report = dataset_ops.leakage_report(store, made["validation"].id)  # any member names the split
    assert report.exact_pairs == expected and report.near_pairs == 0
    assert all(p.kind == "exact" and p.split_a != p.split_b for p in report.pairs)
    with pytest.raises(WorkbenchError, match="not part of a split"):
        dataset_ops.leakage_report(store, v.id)
