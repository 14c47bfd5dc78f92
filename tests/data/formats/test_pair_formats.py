"""Preference files in the common shapes import as pairs (prompt + chosen in `messages`, the
rejected reply in `rejected`): ShareGPT-style conversations + chosen + rejected, TRL's
prompt/chosen/rejected as text or as messages (an implicit prompt too), with a system field or a
system message; bad pairs are named by their line; a CSV of pairs reads the same."""

from __future__ import annotations

import csv
import io
import json

import pytest

from workbench.core.errors import DataImportError
from workbench.data import ProblemKind, import_file, preview_file, read_rows

U = {"role": "user", "content": "What is 2+2?"}
S = {"role": "system", "content": "Be brief."}
GOOD = {"role": "assistant", "content": "4"}
BAD = {"role": "assistant", "content": "5"}


def jsonl(records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _rows(outcome):
    return [(r["messages"], r["rejected"]) for r in read_rows(outcome.parquet_path, 0, 100)]


def test_the_issues_report_conversations_chosen_rejected_is_accepted(write, dest):
    """The issue's report: such a file was refused as having no assistant turn."""
    records = [
        {"conversations": [{"from": "human", "value": "What is 2+2?"}],
         "chosen": {"from": "gpt", "value": "4"}, "rejected": {"from": "gpt", "value": "5"}},
        {"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "What is 2+2?"}],
         "chosen": {"from": "gpt", "value": "4"}, "rejected": {"from": "gpt", "value": "5"}},
    ]
    outcome = import_file(write("pairs.jsonl", jsonl(records)), dest_dir=dest)
    assert (outcome.kind, outcome.format, outcome.row_count) == ("preference", "sharegpt_preference", 2)
    assert outcome.unused_fields == ()
    assert _rows(outcome) == [([U, GOOD], [BAD]), ([S, U, GOOD], [BAD])]
    assert read_rows(outcome.parquet_path, 0, 1)[0]["source"] == records[0]


@pytest.mark.parametrize("side", [
    lambda text: {"from": "gpt", "value": text},  # a message object
    lambda text: [{"from": "gpt", "value": text}],  # a list of messages
    lambda text: text,  # plain text
    lambda text: [{"role": "assistant", "content": text}],
], ids=["object", "list", "text", "openai-list"])
def test_sharegpt_sides_as_object_list_or_text_with_a_system_field(write, dest, side):
    records = [{"system": "Be brief.", "conversations": [{"from": "human", "value": "What is 2+2?"}],
                "chosen": side("4"), "rejected": side("5")}]
    outcome = import_file(write("pairs.jsonl", jsonl(records)), dest_dir=dest)
    assert outcome.kind == "preference" and _rows(outcome) == [([S, U, GOOD], [BAD])]


def test_trl_standard_text_shape(write, dest):
    records = [{"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"},
               {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "system": "Be brief."}]
    outcome = import_file(write("dpo.jsonl", jsonl(records)), dest_dir=dest)
    assert (outcome.kind, outcome.format) == ("preference", "prompt_preference")
    assert _rows(outcome) == [([U, GOOD], [BAD]), ([S, U, GOOD], [BAD])]


def test_trl_conversational_shape_multi_turn_with_system_message(write, dest):
    earlier = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    records = [{"prompt": [S, *earlier, U], "chosen": [GOOD], "rejected": [BAD]}]
    outcome = import_file(write("dpo.jsonl", jsonl(records)), dest_dir=dest)
    assert _rows(outcome) == [([S, *earlier, U, GOOD], [BAD])]


def test_trl_implicit_prompt_and_sides_that_repeat_the_prompt(write, dest):
    records = [
        {"chosen": [U, GOOD], "rejected": [U, BAD]},  # TRL's implicit prompt
        {"prompt": "What is 2+2?", "chosen": [U, GOOD], "rejected": [U, BAD]},  # UltraFeedback's shape
        {"prompt": [U], "chosen": [U, GOOD], "rejected": [BAD], "system": "Be brief."},
    ]
    outcome = import_file(write("dpo.jsonl", jsonl(records)), dest_dir=dest)
    assert _rows(outcome) == [([U, GOOD], [BAD]), ([U, GOOD], [BAD]), ([S, U, GOOD], [BAD])]


def test_a_csv_of_pairs_with_json_cells(write, dest):
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["prompt", "chosen", "rejected"])
    w.writerow(["What is 2+2?", "4", "5"])
    w.writerow([json.dumps([U]), json.dumps([GOOD]), json.dumps([BAD])])
    outcome = import_file(write("dpo.csv", out.getvalue()), dest_dir=dest)
    assert outcome.kind == "preference" and _rows(outcome) == [([U, GOOD], [BAD])] * 2


def test_bad_pairs_are_named_by_their_line(write, dest):
    records = [
        {"prompt": "ok", "chosen": "4", "rejected": "5"},
        {"prompt": "empty chosen", "chosen": "  ", "rejected": "5"},
        {"prompt": "same", "chosen": "4", "rejected": " 4 "},
        {"prompt": [U, GOOD], "chosen": "4", "rejected": "5"},  # the prompt ends with the assistant
        {"prompt": "", "chosen": "4", "rejected": "5"},
        {"prompt": "q", "chosen": [{"role": "user", "content": "x"}], "rejected": "5"},
        {"chosen": [U, GOOD], "rejected": [{"role": "user", "content": "other"}, BAD]},
        {"prompt": "q", "chosen": 4, "rejected": "5"},
        {"prompt": "q", "rejected": "5", "chosen": None},
    ]
    path = write("bad.jsonl", jsonl(records))
    with pytest.raises(DataImportError, match="8 records have problems") as caught:
        import_file(path, dest_dir=dest)
    assert "line 2" in caught.value.user_message
    assert not list(dest.glob("*.parquet"))
    outcome = import_file(path, dest_dir=dest, on_invalid="skip")
    assert outcome.row_count == 1 and outcome.kind == "preference"
    found = {p.line: (p.field, p.message) for p in outcome.problems}
    assert found[2] == ("chosen", "The chosen reply is empty.")
    assert found[3][1] == "The chosen and rejected replies are identical, so the pair teaches no preference."
    assert found[4] == ("prompt[1].content", "The prompt ends with an assistant turn; it must end with the user's "
                        "turn that the replies answer.")
    assert found[5] == ("prompt", "The user message is empty.")
    assert found[6] == ("chosen", "The chosen side starts with turns that differ from the prompt.")
    assert found[7] == ("rejected", "The chosen and rejected sides start with different prompt turns.")
    assert found[8][0] == "chosen" and found[8][1].startswith("Expected text, a message or a list of messages")
    assert found[9] == ("chosen", "Field 'chosen' is missing.")
    assert all(p.kind for p in outcome.problems)


def test_a_file_of_conversations_with_a_few_pairs_stays_sft_and_refuses_the_pairs(write, dest):
    convs = [{"conversations": [{"from": "human", "value": f"Hi {i}"}, {"from": "gpt", "value": f"Hello {i}"}]}
             for i in range(6)]
    pair = {"conversations": [{"from": "human", "value": "q"}], "chosen": "a", "rejected": "b"}
    outcome = import_file(write("mixed.jsonl", jsonl(convs + [pair])), dest_dir=dest, on_invalid="skip")
    assert (outcome.kind, outcome.format, outcome.row_count) == ("sft", "sharegpt", 6)
    assert [p.kind for p in outcome.problems] == [ProblemKind.PREFERENCE_PAIR]


def test_the_preview_shows_each_pair_and_a_format_can_be_chosen(write):
    records = [{"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "id": 1}]
    preview = preview_file(write("dpo.jsonl", jsonl(records)))
    assert preview.format == "prompt_preference" and preview.kind == "preference"
    (record,) = preview.records
    assert record.messages == [U, GOOD] and record.rejected == [BAD]
    assert [u.name for u in preview.unused_fields] == ["id"]
    # A format the user chooses that does not fit names the field it misses.
    chosen = preview_file(write("dpo2.jsonl", jsonl(records)), format="sharegpt_preference")
    assert chosen.records[0].problems and chosen.records[0].problems[0].field == "conversations"


def test_anthropic_hh_dialogues_as_text(write, dest):
    records = [{"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: What is 2+2?\n\nAssistant: 4",
                "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: What is 2+2?\n\nAssistant: 5"}]
    outcome = import_file(write("hh.jsonl", jsonl(records)), dest_dir=dest)
    earlier = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    assert outcome.kind == "preference" and _rows(outcome) == [([*earlier, U, GOOD], [BAD])]


def test_a_column_mapping_with_a_rejected_column_makes_pairs(write, dest):
    from workbench.data import ColumnMapping
    from workbench.core.errors import DataImportError as Refused

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["persona", "question", "good", "bad"])
    w.writerow(["Be brief.", "What is 2+2?", "4", "5"])
    w.writerow(["", "What is 2+2?", "4", ""])
    path = write("qa.csv", out.getvalue())
    mapping = ColumnMapping(system="persona", user="question", assistant="good", rejected="bad")
    assert ColumnMapping.from_dict(mapping.to_dict()) == mapping
    outcome = import_file(path, dest_dir=dest, mapping=mapping, on_invalid="skip")
    assert outcome.kind == "preference" and _rows(outcome) == [([S, U, GOOD], [BAD])]
    assert [(p.row, p.field, p.message) for p in outcome.problems] == [(3, "bad", "The rejected reply is empty.")]
    with pytest.raises(Refused, match="needs a column of its own"):
        ColumnMapping(user="question", assistant="good", rejected="good").check()
