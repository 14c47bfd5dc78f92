"""Preference pairs: a prompt, the chosen reply and the rejected reply.

Stored shape (DatasetVersion.kind "preference"): the `messages` column holds the prompt turns
followed by the CHOSEN reply, so every conversation view (rows, stats, the model's view, SFT on
the chosen side) reads it unchanged; the `rejected` column holds the rejected reply's turns
(the same shape as the chosen reply). `split_pair` takes a stored conversation apart again.

`pair_issues` is the one set of rules a pair must meet, wherever it comes from (a file import,
rows made from chat feedback): the conversation rules of SFT data for prompt + chosen and
prompt + rejected, plus what only a pair can get wrong (an empty side, both sides the same, a
prompt without a user turn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from workbench.core.records import MESSAGE_ROLES, TOOL_ROLE
from workbench.data.formats.detect import Turn
from workbench.data.formats.problems import Issue, ProblemKind
from workbench.data.formats.validation import check_turns

Message = dict[str, Any]


@dataclass(frozen=True)
class PreferencePair:
    """One pair. Each list holds stored messages ({role, content, tool keys})."""

    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    source: Any = field(default=None, compare=False)  # provenance, when known

    @property
    def messages(self) -> list[Message]:
        """What the `messages` column stores: the prompt, then the chosen reply."""
        return [*self.prompt, *self.chosen]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "PreferencePair":
        """From a stored row ({messages, rejected, source?}: read_rows' shape)."""
        prompt, chosen = split_pair(row["messages"])
        return cls(prompt, chosen, list(row.get("rejected") or []), row.get("source"))


def split_pair(messages: Sequence[Message]) -> tuple[list[Message], list[Message]]:
    """(prompt, chosen): the trailing assistant turns are the chosen reply."""
    cut = len(messages)
    while cut > 0 and messages[cut - 1].get("role") == "assistant":
        cut -= 1
    return list(messages[:cut]), list(messages[cut:])


def _same(a: Sequence[Turn], b: Sequence[Turn]) -> bool:
    return [(t.role, t.content.strip(), t.extra or None) for t in a] == [(t.role, t.content.strip(), t.extra or None)
                                                                          for t in b]


def _blank(turns: Sequence[Turn]) -> bool:
    return all(not t.content.strip() and not (t.extra or {}).get("tool_calls") for t in turns)


def pair_issues(prompt: list[Turn], chosen: list[Turn], rejected: list[Turn], *, prompt_field: str = "prompt",
                chosen_field: str = "chosen", rejected_field: str = "rejected") -> list[Issue]:
    """Problems with a pair (empty when it can be trained on). The fields name where each part
    came from in the user's record, for the problems that concern a part as a whole."""
    issues: list[Issue] = []
    if not any(t.role == "user" for t in prompt):
        issues.append(Issue(ProblemKind.ROLE_ORDER, prompt_field,
                            "The prompt has no user turn." if prompt else "The prompt is missing or empty.",
                            "Give the prompt as text or as turns that include the user's message."))
    elif prompt[-1].role not in ("user", TOOL_ROLE):
        issues.append(Issue(ProblemKind.ROLE_ORDER, prompt[-1].field,
                            f"The prompt ends with {'an' if prompt[-1].role[0] in 'aeiou' else 'a'} {prompt[-1].role} "
                            "turn; it must end with the user's turn "
                            "that the replies answer.",
                            "Move the last turn into the replies, or end the prompt with the user's message."))
    for side, turns, where in (("chosen", chosen, chosen_field), ("rejected", rejected, rejected_field)):
        if not turns or _blank(turns):
            issues.append(Issue(ProblemKind.EMPTY_MESSAGE, where, f"The {side} reply is empty.",
                                f"Write the {side} reply, or remove the pair."))
        elif any(t.role != "assistant" for t in turns):
            bad = next(t for t in turns if t.role != "assistant")
            issues.append(Issue(ProblemKind.ROLE_ORDER, bad.field,
                                f"The {side} reply holds a {bad.role} turn; a reply is assistant turns only.",
                                f"Put the {bad.role} turn in the prompt, or remove it from the {side} reply."))
    if issues:
        return issues
    if _same(chosen, rejected):
        return [Issue(ProblemKind.PREFERENCE_PAIR, rejected_field,
                      "The chosen and rejected replies are identical, so the pair teaches no preference.",
                      "Write a different rejected reply, or remove the pair.")]
    seen: set[tuple[str, Optional[str]]] = set()
    for turns in (prompt + chosen, prompt + rejected):
        for issue in check_turns(turns):
            key = (issue.message, issue.field)
            if key not in seen:  # a problem in the prompt shows once, not once per side
                seen.add(key)
                issues.append(issue)
    return issues


def message_turns(messages: Any, where: str) -> tuple[list[Turn], Optional[Issue]]:
    """Stored-shape messages (a list of {role, content, tool keys}) as Turns, or the problem
    with them; `where` names the list in problems ("rejected", "rows[3].messages")."""
    if not isinstance(messages, list):
        return [], Issue(ProblemKind.NON_TEXT, where, f"Expected a list of messages, found {type(messages).__name__}.",
                         'Give a list like [{"role": "user", "content": "..."}].')
    turns: list[Turn] = []
    for i, m in enumerate(messages):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            return [], Issue(ProblemKind.NOT_AN_OBJECT, at, f"Message {i} is not an object.",
                             'Each message is {"role": ..., "content": ...}.')
        role, content = m.get("role"), m.get("content")
        if role not in MESSAGE_ROLES:
            return [], Issue(ProblemKind.UNKNOWN_ROLE, f"{at}.role", f"Unknown role {role!r}.",
                             f"Use one of: {', '.join(MESSAGE_ROLES)}.")
        if content is None and m.get("tool_calls"):
            content = ""
        if not isinstance(content, str):
            return [], Issue(ProblemKind.NON_TEXT, f"{at}.content", "The content is not text.",
                             "Store the message's content as a string.")
        extra = {k: v for k, v in m.items() if k not in ("role", "content")}
        turns.append(Turn(role, content, f"{at}.content", extra or None))
    return turns, None


def stored_pair_issues(messages: Any, rejected: Any, where: str = "") -> list[Issue]:
    """Problems with a stored-shape pair: `messages` (prompt + chosen) and `rejected`."""
    prefix = f"{where}." if where else ""
    turns, issue = message_turns(messages, f"{prefix}messages")
    rejected_turns, rejected_issue = message_turns(rejected, f"{prefix}rejected")
    if issue or rejected_issue:
        return [i for i in (issue, rejected_issue) if i]
    cut = len(turns)
    while cut > 0 and turns[cut - 1].role == "assistant":
        cut -= 1
    return pair_issues(turns[:cut], turns[cut:], rejected_turns, prompt_field=f"{prefix}messages",
                       chosen_field=f"{prefix}messages", rejected_field=f"{prefix}rejected")
