"""The local judge's prompt and the reading of its verdict.

The prompt is short and says exactly how to reply, so that a small local model (SmolLM2-135M
Instruct) can follow it. The verdict is read from the usual shapes a model writes ("Score: 4",
"Rating: 4/5", "**PASS**", "Verdict: FAIL", a JSON object); anything else is a JudgeParseError
that keeps the raw text, so the item shows why it has no judge score.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import PASS_FAIL, RATING_SCALES

DEFAULT_RUBRIC = ("The answer is correct, answers what the user asked, and agrees with the reference "
                  "answer when there is one. Wrong facts, a missing answer or an off-topic reply are bad.")
MAX_PART_CHARS = 2000  # each message, reference and answer: keeps the prompt within a small model's context

_SYSTEM = "You are a strict grader. You read a conversation and an answer to it, and grade the answer by the rules."
_REPLY = {
    PASS_FAIL: "Reply with exactly two lines:\nReasoning: <one short sentence>\nVerdict: PASS or FAIL",
    "1-5": "Reply with exactly two lines:\nReasoning: <one short sentence>\nScore: <a number from 1 to 5, 5 is best>",
}


class JudgeParseError(WorkbenchError):
    """The judge's reply has no verdict in a shape we read; `details` holds the raw text."""


def _cut(text: str) -> str:
    text = (text or "").strip()
    return text if len(text) <= MAX_PART_CHARS else text[:MAX_PART_CHARS] + " [... cut]"


def _check_scale(scale: str) -> None:
    if scale not in RATING_SCALES:
        raise WorkbenchError(f"Unknown judge scale {scale!r}.", advice=f"Use one of: {', '.join(RATING_SCALES)}.")


def judge_messages(rubric: str, scale: str, prompt_messages: list[dict], reference: Optional[str],
                   output: str) -> list[dict]:
    """A system and a user message asking the judge to grade `output` by the rubric."""
    _check_scale(scale)
    conversation = "\n".join(f"{str(m.get('role', 'user')).capitalize()}: {_cut(str(m.get('content', '')))}"
                             for m in prompt_messages)
    parts = [f"Rules: {(rubric or DEFAULT_RUBRIC).strip()}", f"Conversation:\n{conversation}"]
    if reference and reference.strip():
        parts.append(f"Reference answer (a good answer):\n{_cut(reference)}")
    parts.append(f"Answer to grade:\n{_cut(output)}")
    parts.append(_REPLY[scale])
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


_LABELLED = re.compile(r"(?im)^[\s*#>_-]*(?:final\s+)?(?:score|rating|grade|verdict|result|decision)"
                       r"\s*(?:\([^)\n]*\))?\s*\**\s*[:=]\s*(?P<value>[^\n]*)")
_REASON = re.compile(r"(?is)^[\s*#>_-]*(?:reasoning|reason|explanation|rationale)\s*\**\s*[:=]\s*\**\s*(?P<text>.*?)"
                     r"(?=^[\s*#>_-]*(?:final\s+)?(?:score|rating|grade|verdict|result|decision)\b|\Z)", re.M)
_PASS_WORD = re.compile(r"^\W*(pass(?:ed)?|fail(?:ed)?)\b", re.I)
_NUMBER = re.compile(r"^\W*(\d+(?:\.\d+)?)\s*(?:(?:/|out of)\s*(\d+))?", re.I)
_BOLD_PASS = re.compile(r"\*\*\s*(PASS(?:ED)?|FAIL(?:ED)?)\s*\.?\s*\*\*", re.I)
_LINE_PASS = re.compile(r"(?im)^\W*(pass(?:ed)?|fail(?:ed)?)\W*$")
_OUT_OF_5 = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*5\b", re.I)
_ONLY_NUMBER = re.compile(r"^\W*(\d+(?:\.\d+)?)\W*$")
_REASON_KEYS = ("reasoning", "reason", "explanation", "rationale", "justification")
_SCORE_KEYS = ("score", "rating", "verdict", "grade", "result", "pass")


def _expected(scale: str) -> str:
    if scale == PASS_FAIL:
        return "a line 'Verdict: PASS' or 'Verdict: FAIL' (or JSON {\"verdict\": \"pass\"})"
    return "a line 'Score: N' with N from 1 to 5 (or JSON {\"score\": N})"


def _fail(scale: str, text: str, why: str = "") -> JudgeParseError:
    what = "verdict" if scale == PASS_FAIL else "score"
    return JudgeParseError(f"The judge's reply has no {what} that can be read: expected {_expected(scale)}."
                           f"{(' ' + why) if why else ''}",
                           details=text, advice="A larger judge model follows the format more reliably.")


def _pass_fail_value(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    if isinstance(value, str):
        word = _PASS_WORD.match(value.strip().strip("*"))
        if word:
            return 1.0 if word.group(1).lower().startswith("pass") else 0.0
        if value.strip().strip("*.") in ("0", "1"):
            return float(value.strip().strip("*."))
    return None


def _scale_value(value: Any, scale: str, text: str) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number, out_of = float(value), None
    elif isinstance(value, str):
        match = _NUMBER.match(value.strip())
        if not match:
            return None
        number, out_of = float(match.group(1)), match.group(2)
    else:
        return None
    if out_of is not None and int(out_of) != 5:
        raise _fail(scale, text, f"It scored out of {out_of}, not out of 5.")
    if not 1 <= number <= 5:
        raise _fail(scale, text, f"It gave {number:g}, outside 1 to 5.")
    return number


def _value(value: Any, scale: str, text: str) -> Optional[float]:
    return _pass_fail_value(value) if scale == PASS_FAIL else _scale_value(value, scale, text)


def _from_json(text: str, scale: str) -> Optional[tuple[float, str]]:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start:end + 1])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    lowered = {str(k).lower(): v for k, v in data.items()}
    for key in _SCORE_KEYS:
        if key in lowered:
            score = _value(lowered[key], scale, text)
            if score is not None:
                reason = next((str(lowered[k]) for k in _REASON_KEYS if k in lowered), "")
                return score, reason.strip()
    return None


def _reasoning(text: str, verdict_span: tuple[int, int]) -> str:
    """The judge's 'Reasoning:' text; else the reply without its verdict line (all of it when
    the verdict sits inside a sentence)."""
    match = _REASON.search(text)
    if match and match.group("text").strip():
        return match.group("text").strip()
    start = text.rfind("\n", 0, verdict_span[0]) + 1
    end = text.find("\n", verdict_span[1])
    end = len(text) if end < 0 else end
    line = text[start:end]
    if re.sub(r"[\W_]", "", line) != re.sub(r"[\W_]", "", text[verdict_span[0]:verdict_span[1]]) and not \
            _LABELLED.match(line):
        return text.strip()
    return (text[:start] + text[end:]).strip()


def _from_text(text: str, scale: str) -> Optional[tuple[float, str]]:
    for match in _LABELLED.finditer(text):
        score = _value(match.group("value").strip().strip("*").strip(), scale, text)
        if score is not None:
            return score, _reasoning(text, match.span())
    if scale == PASS_FAIL:
        candidates = [_BOLD_PASS.search(text), _LINE_PASS.search(text)]
        words = set(w.upper()[:4] for w in re.findall(r"\b(PASS(?:ED)?|FAIL(?:ED)?)\b", text))
        if len(words) == 1:  # only PASS or only FAIL, in capitals: the model's verdict
            candidates.append(re.search(r"\b(PASS(?:ED)?|FAIL(?:ED)?)\b", text))
    else:
        candidates = [_OUT_OF_5.search(text), _ONLY_NUMBER.match(text)]
    for match in candidates:
        if match:
            score = _value(match.group(1), scale, text)
            if score is not None:
                return score, _reasoning(text, match.span())
    return None


def parse_verdict(text: str, scale: str) -> tuple[float, str]:
    """(score, reasoning) from the judge's reply: pass -> 1.0, fail -> 0.0; or 1 to 5."""
    _check_scale(scale)
    raw = text or ""
    stripped = raw.strip()
    if not stripped:
        raise _fail(scale, raw, "It is empty.")
    found = _from_json(stripped, scale) or _from_text(stripped, scale)
    if found is None:
        raise _fail(scale, raw)
    return found
