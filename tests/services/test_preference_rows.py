"""create_version_from_rows: rows in the stored shape become a version (SFT or preference pairs),
checked like an import, content-hashed, all or nothing."""

from __future__ import annotations

import os

import pytest

from workbench.core.errors import DataImportError
from workbench.data.formats.preference import PreferencePair, split_pair
from workbench.services import datasets


def _pair(q: str, good: str, bad: str, system: bool = False) -> dict:
    prompt = ([{"role": "system", "content": "Be brief."}] if system else []) + [{"role": "user", "content": q}]
    return {"messages": prompt + [{"role": "assistant", "content": good}],
            "rejected": [{"role": "assistant", "content": bad}], "source": {"session_id": "s1", "q": q}}


def test_split_pair_takes_the_trailing_assistant_turns():
    msgs = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]
    prompt, chosen = split_pair(msgs)
    assert prompt == msgs[:3] and chosen == msgs[3:]
    pair = PreferencePair.from_row({"messages": msgs, "rejected": [{"role": "assistant", "content": "x"}]})
    assert pair.messages == msgs and pair.rejected == [{"role": "assistant", "content": "x"}]


def test_preference_rows_make_a_preference_version(store):
    rows = [_pair("What is 2+2?", "4", "5"), _pair("Capital of France?", "Paris", "Lyon", system=True)]
    v = datasets.create_version_from_rows(store, dataset_name="From chat", rows=rows, kind="preference",
                                          source_name="chat feedback", options={"made_from": "votes"})
    assert v.kind == "preference" and v.row_count == 2 and v.options["made_from"] == "votes"
    assert store.dataset_name(v.dataset_id) == "From chat"
    assert os.path.basename(v.blob_path) == f"{v.content_hash}.parquet"
    back = datasets.read_rows(store, v.id, 0, 10)
    assert [r["messages"] for r in back] == [r["messages"] for r in rows]
    assert [r["rejected"] for r in back] == [r["rejected"] for r in rows]
    assert back[1]["source"] == {"session_id": "s1", "q": "Capital of France?"}
    # the same rows again: the same version; into the same dataset by id
    again = datasets.create_version_from_rows(store, dataset_name="ignored", rows=rows, kind="preference",
                                              source_name="chat feedback", dataset_id=v.dataset_id)
    assert again.id == v.id
    assert len(store.list_datasets()) == 1


def test_sft_rows_make_an_sft_version_that_hashes_like_its_rows(store):
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
             "source": {"message_id": "m1"}}]
    v = datasets.create_version_from_rows(store, dataset_name="Corrections", rows=rows, kind="sft",
                                          source_name="corrections")
    assert v.kind == "sft"
    assert "rejected" not in datasets.read_rows(store, v.id, 0, 1)[0]
    # a preference version of the same conversations is another blob (the kind is in the hash)
    pref = datasets.create_version_from_rows(
        store, dataset_name="Corrections", rows=[{**rows[0], "rejected": [{"role": "assistant", "content": "yo"}]}],
        kind="preference", source_name="corrections")
    assert pref.id != v.id and pref.content_hash != v.content_hash


@pytest.mark.parametrize("row, where, words", [
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "same"}],
      "rejected": [{"role": "assistant", "content": "same"}]}, "rejected", "identical"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "  "}]}, "rejected", "rejected reply is empty"),
    ({"messages": [{"role": "user", "content": "q"}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "messages", "chosen reply is empty"),
    ({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "messages", "no user turn"),
    ({"messages": [{"role": "boss", "content": "q"}, {"role": "assistant", "content": "a"}],
      "rejected": [{"role": "assistant", "content": "b"}]}, "messages[0].role", "Unknown role"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
     "rejected", "no rejected reply"),
])
def test_a_bad_pair_is_refused_naming_the_row_and_nothing_is_written(store, row, where, words):
    rows = [_pair("fine", "yes", "no"), row]
    with pytest.raises(DataImportError) as info:
        datasets.create_version_from_rows(store, dataset_name="Bad", rows=rows, kind="preference",
                                          source_name="votes")
    text = f"{info.value.user_message}\n{info.value.details}"
    assert "row 2" in text and words in text and f"'{where}" in text, text
    assert store.list_datasets() == [] and store.list_versions() == []
    blobs = store.abspath(datasets.DATASET_BLOBS)
    assert not os.path.isdir(blobs) or os.listdir(blobs) == []


def test_sft_rows_are_checked_like_an_import(store):
    rows = [{"messages": [{"role": "user", "content": "q"}], "source": None}]
    with pytest.raises(DataImportError, match="row 1") as info:
        datasets.create_version_from_rows(store, dataset_name="x", rows=rows, kind="sft", source_name="c")
    assert "no assistant turn" in info.value.details
    with pytest.raises(DataImportError, match="kind"):
        datasets.create_version_from_rows(store, dataset_name="x", rows=rows, kind="dpo", source_name="c")
    with pytest.raises(DataImportError, match="no rows"):
        datasets.create_version_from_rows(store, dataset_name="x", rows=[], kind="sft", source_name="c")
