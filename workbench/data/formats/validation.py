"""Check a normalised conversation: roles in order, no empty messages, something to learn."""

from __future__ import annotations

from workbench.core.records import TOOL_ROLE
from workbench.core.tool_calls import TOOL_CALLS_KEY
from workbench.data.formats.detect import Turn
from workbench.data.formats.problems import Issue, ProblemKind

_ALTERNATE = "After an optional first system message, turns must alternate user, assistant, user, ..."
_TOOL_ORDER = ("A tool result (role tool, or observation) comes right after the assistant turn that calls "
               "the tool (tool_calls, or function_call), and the assistant speaks after the results.")


def _calls(turn: Turn) -> int:
    return len((turn.extra or {}).get(TOOL_CALLS_KEY) or ())


def _order_issue(turn: Turn, position: int, expected: str, first_is_system: bool) -> Issue:
    """The problem with a turn whose role does not come next (`expected`: the state before it)."""
    if turn.role == TOOL_ROLE:
        message = ("A tool result that answers no tool call." if expected != "tool" else
                   "More tool results than the assistant made tool calls.")
        return Issue(ProblemKind.ROLE_ORDER, turn.field, message, _TOOL_ORDER + " Add the call or remove the result.")
    if expected in ("tool", "tool_first"):
        return Issue(ProblemKind.ROLE_ORDER, turn.field, "The tool call before this turn has no result.",
                     _TOOL_ORDER + " Add the tool's result after the call.")
    if expected == "tool":
        return Issue(ProblemKind.ROLE_ORDER, turn.field, f"A {turn.role} turn right after a tool result.",
                     _TOOL_ORDER + " Add the assistant's answer that reads the results.")
    if turn.role == "assistant" and position == (1 if first_is_system else 0):
        message = "The conversation starts with an assistant turn; it must start with a user turn."
    else:
        message = f"Two {turn.role} turns in a row."
    return Issue(ProblemKind.ROLE_ORDER, turn.field, message, _ALTERNATE + " Merge or remove the extra turn.")


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
        if not turn.content.strip() and not _calls(turn)  # a tool call needs no text beside it
    ]
    if assistant_only and len(turns) == 1 and turns[0].role == "assistant":
        return issues
    # What may come next: "user"; "assistant"; "tool_first" (after a turn with tool calls: a
    # result); "tool" (after a result: another result for a pending call, or the assistant).
    expected = "user"
    pending = 0  # tool calls not answered yet
    in_order = True
    for position, turn in enumerate(turns):
        if turn.role == "system":
            if position != 0:
                issues.append(Issue(ProblemKind.ROLE_ORDER, turn.field,
                                    "A system message may only come first.",
                                    "Move the system message to the start, or merge it into the first one."))
            continue
        allowed = {"user": ("user",), "assistant": ("assistant",), "tool_first": (TOOL_ROLE,),
                   "tool": (TOOL_ROLE, "assistant") if pending else ("assistant",)}[expected]
        if turn.role not in allowed:
            issues.append(_order_issue(turn, position, expected, turns[0].role == "system"))
            in_order = False
            break  # one order problem per conversation: the rest would repeat it
        if turn.role == TOOL_ROLE:
            pending, expected = pending - 1, "tool"
        elif turn.role == "assistant" and _calls(turn):
            pending, expected = _calls(turn), "tool_first"
        else:
            pending, expected = 0, "assistant" if turn.role == "user" else "user"
    if not any(turn.role == "assistant" for turn in turns):
        issues.append(Issue(ProblemKind.ROLE_ORDER, list_field,
                            "The conversation has no assistant turn, so there is nothing to learn.",
                            "Add the assistant's reply, or remove the record."))
    elif in_order and turns[-1].role in ("user", TOOL_ROLE):
        what = "a user turn" if turns[-1].role == "user" else "a tool result"
        issues.append(Issue(ProblemKind.ROLE_ORDER, turns[-1].field,
                            f"The conversation ends with {what} that has no reply.",
                            f"Add the assistant's reply, or remove the last {turns[-1].role} turn (training "
                            "learns the replies only)."))
    return issues
