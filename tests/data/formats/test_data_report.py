"""Skipped rows are exportable: write_problems and import_file(problems_path=...) write JSONL or
CSV reports with where, what, advice and the row's original text."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench.core.errors import DataImportError
from workbench.data import import_file, write_problems
from workbench.data.formats.problems import RAW_KEPT_CHARS, Problem, ProblemKind
from workbench.data.formats.report import REPORT_FIELDS

GOOD = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
BAD = {"messages": [{"role": "user", "content": "q"}]}


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def bad_jsonl(write):
    lines = [json.dumps(GOOD), "  " + json.dumps(BAD), "{broken", json.dumps(GOOD), json.dumps(["not", "object"])]
    return write("mixed.jsonl", "\n".join(lines) + "\n")


def test_write_problems_jsonl_and_csv_with_raw_rows(bad_jsonl, dest, tmp_path):
    outcome = import_file(bad_jsonl, dest_dir=dest, on_invalid="skip")
    assert outcome.skipped_count == 3
    jsonl_report = write_problems(outcome.problems, tmp_path / "reports" / "problems.jsonl")
    rows = read_jsonl(jsonl_report)
    assert [tuple(r) for r in rows] == [REPORT_FIELDS] * 3
    assert [(r["line"], r["kind"], r["field"]) for r in rows] == [
        (2, "role_order", "messages"), (3, "malformed_json", None), (5, "not_an_object", None)]
    assert [r["raw"] for r in rows] == [json.dumps(BAD), "{broken", json.dumps(["not", "object"])]
    assert all(r["file"] == "mixed.jsonl" and r["message"] and r["advice"] for r in rows)

    csv_rows = read_csv(write_problems(outcome.problems, tmp_path / "problems.csv"))
    assert [(r["line"], r["row"], r["kind"], r["raw"]) for r in csv_rows] == [
        ("2", "", "role_order", json.dumps(BAD)), ("3", "", "malformed_json", "{broken"),
        ("5", "", "not_an_object", json.dumps(["not", "object"]))]
    assert list(tmp_path.glob("**/.partial-*")) == []


def test_raw_text_per_file_kind(write, dest, tmp_path):
    csv_path = write("rows.csv", 'prompt,completion\nok,fine\n"multi\nline",\nragged\n')
    outcome = import_file(csv_path, dest_dir=dest, on_invalid="skip")
    assert [(p.row, p.line, p.raw) for p in outcome.problems] == [
        (3, 3, '"multi\nline",'), (4, 5, "ragged")]

    json_path = write("arr.json", json.dumps([GOOD, BAD], indent=1))
    (problem,) = import_file(json_path, dest_dir=dest, on_invalid="skip").problems
    assert json.loads(problem.raw) == BAD and problem.index == 1

    text_path = write("t.txt", "fine\n\n   \t\n")
    assert import_file(text_path, dest_dir=dest, text_mode="file", on_invalid="skip").row_count == 1

    parquet_path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"prompt": ["p", None], "completion": ["c", "c2"]}), parquet_path)
    (problem,) = import_file(parquet_path, dest_dir=dest, on_invalid="skip").problems
    assert json.loads(problem.raw) == {"prompt": None, "completion": "c2"} and problem.index == 1


def test_streamed_report_holds_every_problem_even_when_the_import_aborts(write, dest, tmp_path, monkeypatch):
    import workbench.data.formats.problems as problems_module

    monkeypatch.setattr(problems_module, "MAX_KEPT_PROBLEMS", 5)
    lines = [json.dumps(GOOD if i % 3 else BAD) for i in range(30)]  # 10 bad rows
    path = write("many.jsonl", "\n".join(lines) + "\n")
    report = tmp_path / "all.csv"
    with pytest.raises(DataImportError) as err:
        import_file(path, dest_dir=dest, problems_path=report)
    assert str(report) in err.value.advice and "10 problems" in err.value.details
    assert [int(r["line"]) for r in read_csv(report)] == list(range(1, 31, 3))
    assert not dest.exists() or list(dest.iterdir()) == []

    skipped = import_file(path, dest_dir=dest, on_invalid="skip", problems_path=tmp_path / "skip.jsonl")
    assert len(skipped.problems) == 5 and skipped.problem_count == 10  # only the first kept in memory
    assert skipped.problems_path == tmp_path / "skip.jsonl" and len(read_jsonl(skipped.problems_path)) == 10


def test_huge_raw_rows_are_cut_in_memory_but_whole_in_the_report(write, dest, tmp_path):
    huge = json.dumps({"messages": [{"role": "user", "content": "x" * (RAW_KEPT_CHARS * 2)}]})
    path = write("huge.jsonl", json.dumps(GOOD) + "\n" + huge + "\n")
    outcome = import_file(path, dest_dir=dest, on_invalid="skip", problems_path=tmp_path / "r.jsonl")
    kept = outcome.problems[0].raw
    assert kept.startswith(huge[:100]) and len(kept) < RAW_KEPT_CHARS + 100 and "more characters" in kept
    assert read_jsonl(tmp_path / "r.jsonl")[0]["raw"] == huge


def test_report_problems_built_by_hand_and_unwritable_path(tmp_path):
    problem = Problem(file="f.jsonl", kind=ProblemKind.EMPTY_MESSAGE, message="m", advice="a", field="x",
                      line=3, raw="bad \ud800 surrogate")
    path = write_problems([problem], tmp_path / "p.jsonl")
    assert read_jsonl(path)[0]["raw"] == problem.raw  # JSON's own escape for a lone surrogate
    assert read_csv(write_problems([problem], tmp_path / "p.csv"))[0]["raw"] == "bad \\ud800 surrogate"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DataImportError, match="cannot be written"):
        write_problems([problem], blocker / "p.jsonl")
