"""Preference-pair formats: a record holds a prompt, a chosen reply and a rejected reply.

The common shapes, all read here:
- ShareGPT-style (LLaMA-Factory): `conversations` (the prompt turns, from/value or role/content)
  with `chosen` and `rejected` each a message object, a list of messages, or plain text; an
  optional `system` field.
- TRL standard: `prompt`, `chosen`, `rejected` as text (optional `system`).
- TRL conversational: the same fields as lists of {role, content} messages; with an implicit
  prompt (no `prompt` field) `chosen` and `rejected` are whole conversations that share the
  prompt turns, and a side that repeats the `prompt` turns before its reply is also accepted.
- Anthropic HH-RLHF: no `prompt`, `chosen` / `rejected` whole dialogues as text
  ("\n\nHuman: ...\n\nAssistant: ..."), read as turns with the implicit prompt.

A format with `preference = True` gives `pair(record)`; normalise() (what SFT views of the
format use) is the prompt followed by the chosen reply, as a preference version stores it.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from workbench.data.formats.detect import FORMATS, RecordFormat, Turn, field_text, kind_of, parse_turn, register_format
from workbench.data.formats.problems import Issue, ProblemKind
from workbench.data.formats.tool_turns import parse_tools

Pair = tuple[list[Turn], list[Turn], list[Turn], list[Issue]]  # prompt, chosen, rejected, problems
SIDES = ("chosen", "rejected")
# Role names read in any side: the OpenAI and ShareGPT spellings together.
ROLE_MAP: dict[str, str] = {**FORMATS["openai_messages"].role_map, **FORMATS["sharegpt"].role_map}  # type: ignore[attr-defined]


def _message(item: dict[str, Any], where: str, fmt: RecordFormat) -> tuple[Optional[Turn], Optional[Issue]]:
    role_key, content_key = ("from", "value") if ("from" in item or "value" in item) else ("role", "content")
    return parse_turn(item, where, role_key, content_key, ROLE_MAP, fmt, f"Use one of: {', '.join(sorted(ROLE_MAP))}.")


def _json_turns(text: str) -> Any:
    """A CSV cell (or a text field) holding a JSON message or list of messages; else None."""
    if text[:1] not in ("[", "{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    items = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
    looks = bool(items) and all(isinstance(i, dict) and ({"role", "from"} & set(i)) for i in items)
    return value if looks else None


def side_turns(value: Any, key: str, fmt: RecordFormat, text_role: str) -> tuple[list[Turn], Optional[Issue]]:
    """A prompt or a reply as turns: text (one turn of `text_role`), one message object, or a
    list of messages."""
    if value is None:
        return [], Issue(ProblemKind.MISSING_FIELD, key, f"Field '{key}' is missing.", fmt.advice())
    if isinstance(value, str):
        parsed = _json_turns(value.strip())
        if parsed is None:
            return [Turn(text_role, value, key)], None
        value = parsed
    if isinstance(value, dict):
        turn, issue = _message(value, key, fmt)
        return ([], issue) if issue else ([turn] if turn else [], None)
    if not isinstance(value, list):
        return [], Issue(ProblemKind.NON_TEXT, key, f"Expected text, a message or a list of messages, found "
                         f"{kind_of(value)}.", fmt.advice())
    if value and all(isinstance(p, dict) and "type" in p and not ({"role", "from"} & set(p)) for p in value):
        text, issue = field_text(value, key, fmt)  # OpenAI content parts: one text
        return ([], issue) if issue else ([Turn(text_role, text or "", key)], None)
    turns: list[Turn] = []
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            return [], Issue(ProblemKind.NOT_AN_OBJECT, where, f"Message {i} is {kind_of(item)}, not an object.",
                             fmt.advice())
        turn, issue = _message(item, where, fmt)
        if issue:
            return [], issue
        turns.append(turn)  # type: ignore[arg-type]
    return turns, None


def _key(turns: list[Turn]) -> list[tuple[str, str]]:
    return [(t.role, t.content.strip()) for t in turns]


def _reply(turns: list[Turn]) -> tuple[list[Turn], list[Turn]]:
    """(the turns before the reply, the reply: the trailing assistant turns)."""
    cut = len(turns)
    while cut > 0 and turns[cut - 1].role == "assistant":
        cut -= 1
    return turns[:cut], turns[cut:]


def _system(record: dict[str, Any], fmt: RecordFormat) -> tuple[list[Turn], Optional[Issue]]:
    if record.get("system") is None:
        return [], None
    text, issue = field_text(record["system"], "system", fmt)
    return ([], issue) if issue else ([Turn("system", text or "", "system")] if (text or "").strip() else [], None)


def assemble(prompt: list[Turn], sides: dict[str, list[Turn]]) -> Pair:
    """Prompt and replies, where a side may repeat the prompt turns before its reply (the
    implicit-prompt shape): those turns must be the prompt's (with or without its system turn),
    or, when there is no prompt, the same on both sides."""
    heads = {name: _reply(turns) for name, turns in sides.items()}
    if not prompt:
        chosen_head, rejected_head = heads["chosen"][0], heads["rejected"][0]
        if _key(chosen_head) != _key(rejected_head):
            return [], [], [], [Issue(ProblemKind.PREFERENCE_PAIR, "rejected",
                                      "The chosen and rejected sides start with different prompt turns.",
                                      "Give both sides the same prompt turns before their replies.")]
        prompt = chosen_head
    else:
        allowed = (_key(prompt), _key([t for t in prompt if t.role != "system"]))
        for name, (head, _) in heads.items():
            if head and _key(head) not in allowed:
                return [], [], [], [Issue(ProblemKind.PREFERENCE_PAIR, name,
                                          f"The {name} side starts with turns that differ from the prompt.",
                                          f"Give only the reply in {name}, or the same turns as the prompt.")]
    return prompt, heads["chosen"][1], heads["rejected"][1], []


class _PairFormat(RecordFormat):
    preference = True
    prompt_key = "prompt"

    def prompt_turns(self, record: dict[str, Any]) -> tuple[list[Turn], Optional[Issue]]:  # pragma: no cover
        raise NotImplementedError

    def pair(self, record: dict[str, Any]) -> Pair:
        system, issue = _system(record, self)
        if issue:
            return [], [], [], [issue]
        prompt, issue = self.prompt_turns(record)
        if issue:
            return [], [], [], [issue]
        if system and prompt and prompt[0].role == "system":
            return [], [], [], [Issue(ProblemKind.ROLE_ORDER, "system",
                                      "The record has a system field and a system message in the prompt.",
                                      "Keep one of the two system prompts.")]
        sides: dict[str, list[Turn]] = {}
        for name in SIDES:
            turns, issue = side_turns(record.get(name), name, self, "assistant")
            if issue:
                return [], [], [], [issue]
            sides[name] = turns
        return assemble(system + prompt, sides)

    def normalise(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:
        prompt, chosen, _, issues = self.pair(record)
        return ([], issues) if issues else (prompt + chosen, [])

    def tools(self, record: dict[str, Any]) -> tuple[Optional[list], Optional[Issue]]:
        return parse_tools(record)

    def list_field(self, record: dict[str, Any]) -> str:
        return self.prompt_key


_PAIR_READS = {"chosen": "the chosen reply", "rejected": "the rejected reply", "system": "the system prompt",
               "tools": "the tool definitions", "functions": "the tool definitions"}


class ShareGPTPreference(_PairFormat):
    name = "sharegpt_preference"
    label = "ShareGPT preference pairs"
    prompt_key = "conversations"
    required = ("conversations", "chosen", "rejected")
    reads = {"conversations": "the prompt turns", "conversation": "the prompt turns", **_PAIR_READS}
    example = ('{"conversations": [{"from": "human", "value": "Hi"}], "chosen": {"from": "gpt", "value": "Hello!"}, '
               '"rejected": {"from": "gpt", "value": "Go away."}}.')

    def score(self, record: dict[str, Any]) -> int:
        # Above ShareGPT's 2 for the same record: a conversation with a pair is a pair.
        has_list = "conversations" in record or "conversation" in record
        return 3 if has_list and all(k in record for k in SIDES) else 0

    def prompt_turns(self, record: dict[str, Any]) -> tuple[list[Turn], Optional[Issue]]:
        key = "conversation" if "conversation" in record and "conversations" not in record else "conversations"
        turns, issue = side_turns(record.get(key), key, self, "user")
        if issue is None and not turns:
            return [], Issue(ProblemKind.EMPTY_CONVERSATION, key, "The prompt has no turns.",
                             "Give the user's message the replies answer.")
        return turns, issue

    def list_field(self, record: dict[str, Any]) -> str:
        return "conversation" if "conversation" in record and "conversations" not in record else "conversations"


_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant): ?")


def hh_turns(text: str, key: str) -> Optional[list[dict[str, str]]]:
    """An HH-RLHF dialogue ("\n\nHuman: ...\n\nAssistant: ...") as messages; None for other text."""
    body = text.lstrip("\n")
    if not body.startswith("Human:") or "\n\nAssistant:" not in body:
        return None
    parts = _HH_TURN.split(body)  # ["", "Human", text, "Assistant", text, ...]
    return [{"role": "user" if who == "Human" else "assistant", "content": said.strip()}
            for who, said in zip(parts[1::2], parts[2::2])]


class PromptPreference(_PairFormat):
    """TRL's preference shapes: prompt/chosen/rejected as text or as messages, or an implicit
    prompt (chosen and rejected whole conversations)."""

    name = "prompt_preference"
    label = "prompt/chosen/rejected pairs"
    required = ("prompt", "chosen", "rejected")
    reads = {"prompt": "the prompt (text or turns)", **_PAIR_READS}
    example = '{"prompt": "...", "chosen": "the better reply", "rejected": "the worse reply"}.'

    def score(self, record: dict[str, Any]) -> int:
        if not all(k in record for k in SIDES):
            return 0
        return 3 if "prompt" in record else 2  # 2: the implicit prompt (no other format reads it)

    def prompt_turns(self, record: dict[str, Any]) -> tuple[list[Turn], Optional[Issue]]:
        if record.get("prompt") is None:
            return [], None  # the implicit prompt: the sides hold it (assemble)
        return side_turns(record["prompt"], "prompt", self, "user")

    def pair(self, record: dict[str, Any]) -> Pair:
        if record.get("prompt") is None and all(isinstance(record.get(k), str) for k in SIDES):
            dialogues = {k: hh_turns(record[k], k) for k in SIDES}
            if all(d is not None for d in dialogues.values()):
                record = {**record, **dialogues}
        return super().pair(record)


PREFERENCE_FORMATS = (ShareGPTPreference(), PromptPreference())
for _fmt in PREFERENCE_FORMATS:
    register_format(_fmt)

