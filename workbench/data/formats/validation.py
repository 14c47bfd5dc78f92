"""Check a normalised conversation: roles in order, no empty messages, something to learn."""

from __future__ import annotations

from workbench.data.formats.detect import Turn
from workbench.data.formats.problems import Issue, ProblemKind

_ALTERNATE = "After an optional first system message, turns must alternate user, assistant, user, ..."


def check_turns(turns: list[Turn], *, assistant_only: bool = False, list_field: str = "messages") -> list[Issue]:
    """Problems with a conversation (empty when it can be trained on).

    Rules: at least one turn; no empty content; a system message only first; then the roles
    alternate starting with user; the last turn is an assistant reply (a trailing user turn
    has nothing to learn from and usually means a cut conversation or a preference prompt).
    `assistant_only` accepts a lone assistant message (plain-text datasets).
    """
    if not turns:
        return [Issue(ProblemKind.EMPTY_CONVERSATION, list_field, "The conversation has no turns.",
                      "Remove the record or add its messages.")]
    issues = [
        Issue(ProblemKind.EMPTY_MESSAGE, turn.field, f"The {turn.role} message is empty.",
              "Write the message, or remove the turn (and its reply) or the whole record.")
        for turn in turns
        if not turn.content.strip()
    ]
    if assistant_only and len(turns) == 1 and turns[0].role == "assistant":
        return issues
    expected = "user"
    in_order = True
    for position, turn in enumerate(turns):
        if turn.role == "system":
            if position != 0:
                issues.append(Issue(ProblemKind.ROLE_ORDER, turn.field,
                                    "A system message may only come first.",
                                    "Move the system message to the start, or merge it into the first one."))
            continue
        if turn.role != expected:
            if turn.role == "assistant" and position == (1 if turns[0].role == "system" else 0):
                message = "The conversation starts with an assistant turn; it must start with a user turn."
            else:
                message = f"Two {turn.role} turns in a row."
            issues.append(Issue(ProblemKind.ROLE_ORDER, turn.field, message,
                                _ALTERNATE + " Merge or remove the extra turn."))
            in_order = False
            break  # one order problem per conversation: the rest would repeat it
        expected = "assistant" if turn.role == "user" else "user"
    if not any(turn.role == "assistant" for turn in turns):
        issues.append(Issue(ProblemKind.ROLE_ORDER, list_field,
                            "The conversation has no assistant turn, so there is nothing to learn.",
                            "Add the assistant's reply, or remove the record."))
    elif in_order and turns[-1].role == "user":
        issues.append(Issue(ProblemKind.ROLE_ORDER, turns[-1].field,
                            "The conversation ends with a user turn that has no reply.",
                            "Add the assistant's reply, or remove the last user turn (training learns "
                            "the replies only)."))
    return issues
