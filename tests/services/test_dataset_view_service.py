"""services.dataset_view without Qt: text search over a version (escapes, case, role names,
the match limit, cancel), the invalid-rows import attempt and problem reports."""

from __future__ import annotations

import json

import pytest

from tests.helpers.dataset_ui import add_version, chat, write_jsonl
from workbench.core.progress import Cancelled, CancelToken
from workbench.services import dataset_view


@pytest.fixture
def version(store):
    convs = [chat(i) for i in range(30)]
    convs[7] = [{"role": "user", "content": 'She said "two shots"\nand a back\\slash'},
                {"role": "assistant", "content": "Ça marche, deux espressos."}]
    return add_version(store, convs)


def test_search_matches_message_text_only(store, version):
    def find(text, **kw):
        return dataset_view.search_rows(store, version.id, text, **kw).matches

    assert find("question 2") == [2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]
    assert find('"two shots"\nand') == [7]  # quotes and newlines are stored escaped
    assert find("back\\slash") == [7]
    assert find("ÇA MARCHE") == [7] and find("ÇA MARCHE", case_sensitive=True) == []
    assert find("user") == [] and find("content") == []  # roles and JSON keys are not text
    assert find("") == []
    result = dataset_view.search_rows(store, version.id, "answer", max_matches=5)
    assert result.matches == [0, 1, 2, 3, 4] and result.truncated


def test_search_reports_progress_and_cancels(store, version):
    seen = []
    dataset_view.search_rows(store, version.id, "answer", progress=lambda f, m: seen.append((f, m)))
    assert seen[-1][0] == 1.0 and "29 found" in seen[-1][1]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        dataset_view.search_rows(store, version.id, "answer", cancel=token)


def test_import_attempt_lists_invalid_rows_then_imports_the_valid_ones(store, tmp_path):
    records = [{"messages": chat(i)} for i in range(5)] + [{"messages": [{"role": "user", "content": ""}]}]
    path = write_jsonl(tmp_path / "mixed.jsonl", records)
    attempt = dataset_view.import_checked(store, path)
    assert attempt.version is None and store.list_versions() == []
    assert (attempt.bad_records, attempt.valid_rows) == (1, 5)
    assert attempt.problems[0].line == 6 and "nothing was imported" in attempt.refusal.user_message
    report = dataset_view.save_problem_report(attempt.problems, str(tmp_path / "report.jsonl"))
    rows = [json.loads(line) for line in open(report, encoding="utf-8")]
    assert rows[0]["line"] == 6 and rows[0]["file"] == "mixed.jsonl" and rows[0]["advice"]
    done = dataset_view.import_checked(store, path, on_invalid="skip")
    assert done.version.row_count == 5 and not done.reused
    again = dataset_view.import_checked(store, path, on_invalid="skip")
    assert again.reused and again.version.id == done.version.id


def test_a_file_with_no_valid_row_keeps_its_error(store, tmp_path):
    from workbench.core.errors import DataImportError

    path = write_jsonl(tmp_path / "bad.jsonl", [{"messages": [{"role": "user", "content": ""}]}])
    with pytest.raises(DataImportError):
        dataset_view.import_checked(store, path)
