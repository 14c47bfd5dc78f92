"""The judge's prompt (short, with the format to reply in) and reading its verdict from the
shapes models write; anything else is a JudgeParseError keeping the raw text."""

from __future__ import annotations

import pytest

from workbench.core.errors import WorkbenchError
from workbench.evaluation.judge import DEFAULT_RUBRIC, JudgeParseError, judge_messages, parse_verdict


@pytest.mark.parametrize("text,scale,score,reason", [
    ("Reasoning: It answers the question.\nScore: 4", "1-5", 4.0, "It answers the question."),
    ("Rating: 4/5", "1-5", 4.0, ""),
    ("The answer is right.\n**Score:** 5", "1-5", 5.0, "The answer is right."),
    ("score = 2 (it misses the order number)", "1-5", 2.0, ""),
    ('{"score": 3, "reasoning": "Partly right."}', "1-5", 3.0, "Partly right."),
    ('Sure!\n```json\n{"Rating": "5", "explanation": "Perfect."}\n```', "1-5", 5.0, "Perfect."),
    ("Overall I would give it 3 out of 5.", "1-5", 3.0, "Overall I would give it 3 out of 5."),
    ("4", "1-5", 4.0, ""),
    ("**PASS**", "pass_fail", 1.0, ""),
    ("Verdict: FAIL", "pass_fail", 0.0, ""),
    ("Reasoning: Wrong price.\nVerdict: **Fail**", "pass_fail", 0.0, "Wrong price."),
    ("The reply is polite and correct.\nPASS", "pass_fail", 1.0, "The reply is polite and correct."),
    ('{"verdict": "pass", "reason": "ok"}', "pass_fail", 1.0, "ok"),
    ('{"pass": false, "reasoning": "no"}', "pass_fail", 0.0, "no"),
])
def test_the_usual_verdict_shapes_are_read(text, scale, score, reason):
    assert parse_verdict(text, scale) == (score, reason)


@pytest.mark.parametrize("text,scale,why", [
    ("", "1-5", "It is empty."),
    ("I am not sure.", "1-5", ""),
    ("Score: N", "1-5", ""),
    ("Score: 7", "1-5", "outside 1 to 5"),
    ("Score: 8/10", "1-5", "out of 10"),
    ("It could pass or fail.", "pass_fail", ""),
    ("Verdict: maybe", "pass_fail", ""),
])
def test_unreadable_verdicts_raise_judge_parse_error_with_the_raw_text(text, scale, why):
    with pytest.raises(JudgeParseError) as info:
        parse_verdict(text, scale)
    error = info.value
    assert isinstance(error, WorkbenchError) and error.details == text
    expected = "'Score: N' with N from 1 to 5" if scale == "1-5" else "'Verdict: PASS' or 'Verdict: FAIL'"
    assert expected in error.user_message and why in error.user_message


def test_judge_messages_hold_rubric_conversation_reference_answer_and_the_reply_format():
    conversation = [{"role": "system", "content": "You are Pip."}, {"role": "user", "content": "Where is BB-123456?"}]
    system, user = judge_messages("Must give the order status.", "pass_fail", conversation, "It ships today.",
                                  "It shipped.")
    assert system["role"] == "system" and user["role"] == "user"
    text = user["content"]
    for part in ("Rules: Must give the order status.", "System: You are Pip.", "User: Where is BB-123456?",
                 "Reference answer (a good answer):\nIt ships today.", "Answer to grade:\nIt shipped.",
                 "Reasoning: <one short sentence>\nVerdict: PASS or FAIL"):
        assert part in text
    assert text.index("Answer to grade") > text.index("Reference answer") > text.index("Conversation")
    _, plain = judge_messages("", "1-5", conversation, None, "x" * 5000)
    assert DEFAULT_RUBRIC in plain["content"] and "Reference answer" not in plain["content"]
    assert "Score: <a number from 1 to 5" in plain["content"] and "[... cut]" in plain["content"]
    assert len(plain["content"]) < 3000
    with pytest.raises(WorkbenchError, match="Unknown judge scale"):
        judge_messages("", "stars", conversation, None, "x")
