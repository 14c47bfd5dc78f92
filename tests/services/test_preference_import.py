"""The issue's report through the service every importer uses (Datasets page, `workbench data
import`): a file of `conversations` + `chosen` + `rejected` rows becomes a preference version
that keeps the rejected replies; importing it again finds the same version."""

from __future__ import annotations

import json

from workbench.services import datasets


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


RECORDS = [
    {"conversations": [{"from": "human", "value": f"Write a poem about {topic}"}],
     "chosen": {"from": "gpt", "value": f"A fine poem about {topic}."},
     "rejected": {"from": "gpt", "value": "No."}}
    for topic in ("rain", "snow", "sun")
]


def test_a_standard_preference_file_imports_as_a_preference_version(store, tmp_path):
    path = _write(tmp_path / "prefs.jsonl", RECORDS)
    version = datasets.import_dataset(store, path)
    assert (version.kind, version.row_count, version.format) == ("preference", 3, "sharegpt_preference")
    assert store.get_version(version.id).kind == "preference"
    rows = datasets.read_rows(store, version.id, 0, 10)
    assert rows[0]["messages"] == [{"role": "user", "content": "Write a poem about rain"},
                                   {"role": "assistant", "content": "A fine poem about rain."}]
    assert [r["rejected"] for r in rows] == [[{"role": "assistant", "content": "No."}]] * 3
    assert datasets.import_dataset(store, path).id == version.id


def test_an_sft_file_still_imports_as_sft(store, tmp_path):
    records = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}]
    version = datasets.import_dataset(store, _write(tmp_path / "chats.jsonl", records))
    assert version.kind == "sft" and "rejected" not in datasets.read_rows(store, version.id, 0, 1)[0]
