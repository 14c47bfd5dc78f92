"""Versions derived from a preference version (split, cleaned) are preference versions that keep
every pair's rejected reply; dedup compares whole pairs; PII scrubbing reaches the rejected side."""

from __future__ import annotations

from workbench.services import dataset_ops, datasets


def _pair(q: str, good: str, bad: str) -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": good}],
            "rejected": [{"role": "assistant", "content": bad}], "source": {"q": q}}


def _version(store, rows):
    return datasets.create_version_from_rows(store, dataset_name="pairs", rows=rows, kind="preference",
                                             source_name="test rows")


def _pairs(store, version):
    return [(r["messages"][-1]["content"], r["rejected"][0]["content"])
            for r in datasets.read_rows(store, version.id, 0, version.row_count)]


def test_a_split_of_a_preference_version_is_pairs(store):
    parent = _version(store, [_pair(f"q{i}", f"good {i}", f"bad {i}") for i in range(20)])
    parts = dataset_ops.make_split(store, parent.id, ratios={"train": 0.5, "validation": 0.25, "test": 0.25})
    assert sum(v.row_count for v in parts.values()) == 20
    for version in parts.values():
        assert version.kind == "preference" and store.get_version(version.id).kind == "preference"
        for good, bad in _pairs(store, version):
            assert good.replace("good", "bad") == bad  # each row kept its own rejected reply


def test_dedup_compares_both_sides_of_a_pair(store):
    rows = [_pair("q", "good", "bad one"), _pair("q", "good", "bad two"), _pair("q", "good", "bad one")]
    parent = _version(store, rows)
    cleaned = dataset_ops.apply_clean(store, parent.id, "exact_dedup")
    assert cleaned.kind == "preference" and cleaned.row_count == 2
    assert cleaned.options["removed_rows"] == [2] and cleaned.options["duplicate_of"] == [0]
    assert _pairs(store, cleaned) == [("good", "bad one"), ("good", "bad two")]
    near = dataset_ops.preview_clean(store, parent.id, "near_dedup", {"threshold": 0.99})
    assert near.removed == [2]


def test_pii_is_scrubbed_from_the_rejected_reply_too(store):
    parent = _version(store, [_pair("Who to mail?", "I cannot share that.", "Mail ann@example.com"),
                              _pair("q", "good", "bad")])
    cleaned = dataset_ops.apply_clean(store, parent.id, "pii")
    assert cleaned.kind == "preference" and cleaned.options["changed_rows"] == [0]
    rejected = datasets.read_rows(store, cleaned.id, 0, 1)[0]["rejected"]
    assert rejected == [{"role": "assistant", "content": "Mail [EMAIL]"}]


def test_search_finds_text_in_the_rejected_reply(store):
    from workbench.services import dataset_view

    version = _version(store, [_pair("q0", "good", "a soggy biscuit"), _pair("q1", "biscuits", "bad"),
                               _pair("q2", "good", "bad")])
    assert dataset_view.search_rows(store, version.id, "biscuit").matches == [0, 1]
    assert dataset_view.search_rows(store, version.id, "soggy").matches == [0]
