"""Dataset formats: detect which one a file uses, normalise each record to chat turns.

Every format turns a record into a list of Turn (role, text, the source field it came from so
problems point at the user's own field names, tool-calling keys: see tool_turns) and tool
definitions (`RecordFormat.tools`). New
formats register with `register_format`; detection asks each format whether a record looks
like one of its own.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, NamedTuple, Optional

from workbench.core.errors import DataImportError
from workbench.core.records import TOOL_ROLE
from workbench.data.formats.problems import Issue, ProblemKind
from workbench.data.formats.tool_turns import (
    CALL_ROLE,
    assistant_calls,
    call_extra,
    parse_calls,
    parse_tools,
    tool_message_keys,
)


class Turn(NamedTuple):
    """One normalised turn (a NamedTuple: built once per message, so cheap to create)."""

    role: str
    content: str
    field: str  # where the content came from, e.g. "messages[2].content" or "output"
    extra: Optional[dict[str, Any]] = None  # tool_calls (assistant), name / tool_call_id (tool)


class RecordFormat:
    """One dataset format. Subclasses set the class attributes and implement normalise()."""

    name: str = ""
    label: str = ""
    required: tuple[str, ...] = ()  # every field a full record has (detection)
    hints: tuple[str, ...] = ()  # fields that make a record look like this format
    example: str = ""
    # The top-level fields the format reads, and what each holds (so an import can say which
    # other fields it does not keep, and what a mapping leaves out).
    reads: dict[str, str] = {}
    # Plain text has no user turn: a lone assistant message is a valid conversation.
    assistant_only: bool = False
    # Preference pairs (preference_formats): pair(record) gives prompt, chosen and rejected.
    preference: bool = False

    def score(self, record: dict[str, Any]) -> int:
        """2: has all required fields, 1: has a hint field, 0: not this format."""
        if self.required and all(key in record for key in self.required):
            return 2
        return 1 if any(key in record for key in self.hints) else 0

    def normalise(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:  # pragma: no cover
        raise NotImplementedError

    def tools(self, record: dict[str, Any]) -> tuple[Optional[list], Optional[Issue]]:
        """The record's tool definitions (None: it has none, or the format reads none)."""
        return None, None

    def advice(self) -> str:
        return f"A {self.label} record looks like {self.example}"

    def list_field(self, record: dict[str, Any]) -> str:
        """The field problems about the conversation as a whole point at."""
        return next((k for k in ("messages", "conversations", "conversation") if k in record), "messages")


def _missing(field: str, fmt: RecordFormat) -> Issue:
    return Issue(ProblemKind.MISSING_FIELD, field, f"Field '{field}' is missing.", fmt.advice())


def field_text(value: Any, field: str, fmt: RecordFormat) -> tuple[Optional[str], Optional[Issue]]:
    """Text content of a field: a string, or OpenAI-style content parts of type text."""
    if value is None:
        return None, _missing(field, fmt)
    if isinstance(value, str):
        return value, None
    if isinstance(value, list) and value and all(isinstance(p, dict) for p in value):
        texts = [p.get("text") for p in value if p.get("type", "text") == "text"]
        if len(texts) == len(value) and all(isinstance(t, str) for t in texts):
            return "\n".join(texts), None
        return None, Issue(
            ProblemKind.NON_TEXT, field,
            "The content holds non-text parts (images, audio or tool data).",
            "Only text can be trained on: keep the text parts or drop the record.",
        )
    return None, Issue(
        ProblemKind.NON_TEXT, field,
        f"Expected text, found {kind_of(value)}.",
        "Store the value as a string (in quotes).",
    )


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def turn_list(record: dict[str, Any], key: str, fmt: RecordFormat) -> tuple[Optional[list], Optional[Issue]]:
    """The list of turns under `key`; a string holding JSON (a CSV cell) is parsed."""
    value = record.get(key)
    if value is None:
        return None, _missing(key, fmt)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            return None, Issue(
                ProblemKind.MALFORMED_JSON, key,
                f"The text is not a JSON list of turns ({getattr(exc, 'msg', None) or exc}).", fmt.advice(),
            )
    if not isinstance(value, list):
        return None, Issue(
            ProblemKind.NON_TEXT, key, f"Expected a list of turns, found {kind_of(value)}.",
            fmt.advice(),
        )
    return value, None


def history_turns(value: Any, key: str, fmt: RecordFormat) -> tuple[list[Turn], Optional[Issue]]:
    """Earlier turns given as [[user, assistant], ...] pairs (LLaMA-Factory's Alpaca `history`,
    what our Alpaca export writes). None, "" and [] are no history; a CSV cell holds JSON."""
    if isinstance(value, str) and not value.strip():
        return [], None
    if isinstance(value, str):
        pairs, issue = turn_list({key: value}, key, fmt)
        if issue:
            return [], issue
        value = pairs
    if value is None:
        return [], None
    if not isinstance(value, list):
        return [], Issue(ProblemKind.NON_TEXT, key, f"Expected a list of [user, assistant] pairs, found {kind_of(value)}.",
                         fmt.advice())
    turns: list[Turn] = []
    for i, pair in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(pair, list) or len(pair) != 2:
            return [], Issue(ProblemKind.NON_TEXT, where,
                             f"Expected a [user, assistant] pair, found {kind_of(pair)}"
                             + (f" of {len(pair)} items." if isinstance(pair, list) else "."), fmt.advice())
        for j, role in enumerate(("user", "assistant")):
            text, issue = field_text(pair[j], f"{where}[{j}]", fmt)
            if issue:
                return [], issue
            turns.append(Turn(role, text or "", f"{where}[{j}]"))
    return turns, None


def parse_turn(item: dict[str, Any], where: str, role_key: str, content_key: str,
               role_map: dict[str, str], fmt: "RecordFormat", unknown_role_advice: str
               ) -> tuple[Optional[Turn], Optional[Issue]]:
    """One turn object -> (Turn, None) or (None, the problem with it)."""
    role = item.get(role_key)
    if role is None:
        return None, _missing(f"{where}.{role_key}", fmt)
    mapped = role_map.get(role.strip().lower()) if isinstance(role, str) else None
    if mapped is None:
        return None, Issue(ProblemKind.UNKNOWN_ROLE, f"{where}.{role_key}", f"Unknown role {role!r}.",
                           unknown_role_advice)
    field = f"{where}.{content_key}"
    if mapped == CALL_ROLE:  # ShareGPT's function_call: the text is the call, the turn the assistant's
        if item.get(content_key) is None:
            return None, _missing(field, fmt)
        calls, issue = parse_calls(item[content_key], field)
        return (None, issue) if issue else (Turn("assistant", "", field, call_extra(calls)), None)
    calls = None
    if mapped == "assistant":
        calls, issue = assistant_calls(item, where)
        if issue:
            return None, issue
    value = item.get(content_key)
    text, issue = field_text("" if calls and value is None else value, field, fmt)  # content may be null beside calls
    if issue:
        return None, issue
    extra = call_extra(calls) if calls else tool_message_keys(item) if mapped == TOOL_ROLE else None
    return Turn(mapped, text or "", field, extra or None), None


class _ConversationFormat(RecordFormat):
    """A list of turn objects; each turn may use role/content or from/value keys."""

    list_keys: tuple[str, ...] = ()
    role_map: dict[str, str] = {}
    # (role key, content key) pairs; the first is this format's own, the other is accepted.
    key_pairs: tuple[tuple[str, str], ...] = (("role", "content"), ("from", "value"))

    def normalise(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:
        key = next((k for k in self.list_keys if k in record), self.list_keys[0])
        items, issue = turn_list(record, key, self)
        if issue:
            return [], [issue]
        turns: list[Turn] = []
        issues: list[Issue] = []
        for i, item in enumerate(items or []):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                issues.append(Issue(ProblemKind.NOT_AN_OBJECT, where,
                                    f"Turn {i} is {kind_of(item)}, not an object.", self.advice()))
                continue
            role_key, content_key = self.key_pairs[0]
            if role_key not in item and content_key not in item:
                for pair in self.key_pairs[1:]:
                    if pair[0] in item or pair[1] in item:
                        role_key, content_key = pair
                        break
            turn, issue = parse_turn(item, where, role_key, content_key, self.role_map, self,
                                     f"Use one of: {', '.join(sorted(self.role_map))}.")
            if issue:
                issues.append(issue)
            else:
                turns.append(turn)
        return turns, issues

    def tools(self, record: dict[str, Any]) -> tuple[Optional[list], Optional[Issue]]:
        return parse_tools(record)


_TOOL_READS = {"tools": "the tool definitions", "functions": "the tool definitions"}


class OpenAIMessages(_ConversationFormat):
    name = "openai_messages"
    label = "OpenAI messages"
    list_keys = ("messages",)
    required = ("messages",)
    reads = {"messages": "the conversation's turns", **_TOOL_READS}
    example = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}.'
    role_map = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
                "tool": TOOL_ROLE, "function": TOOL_ROLE}

    def score(self, record: dict[str, Any]) -> int:
        return 0 if _is_sharegpt_turns(record.get("messages")) else super().score(record)


class ShareGPT(_ConversationFormat):
    name = "sharegpt"
    label = "ShareGPT"
    list_keys = ("conversations", "conversation", "messages")
    required = ("conversations",)
    reads = {"conversations": "the conversation's turns", "conversation": "the conversation's turns",
             "messages": "the conversation's turns", **_TOOL_READS}
    example = '{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]}.'
    key_pairs = (("from", "value"), ("role", "content"))
    role_map = {
        "system": "system",
        "human": "user", "user": "user",
        "gpt": "assistant", "assistant": "assistant", "model": "assistant", "chatgpt": "assistant",
        "function_call": CALL_ROLE, "observation": TOOL_ROLE, "tool": TOOL_ROLE,
    }

    def score(self, record: dict[str, Any]) -> int:
        if "conversations" in record or "conversation" in record:
            return 2
        return 2 if _is_sharegpt_turns(record.get("messages")) else 0


def _is_sharegpt_turns(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict) and "from" in value[0]


class Alpaca(RecordFormat):
    name = "alpaca"
    label = "Alpaca"
    required = ("instruction", "output")
    hints = ("instruction",)
    example = ('{"instruction": "...", "input": "(optional)", "output": "...", "system": "(optional)", '
               '"history": [["earlier question", "earlier answer"]] (optional)}.')
    reads = {"system": "the system prompt", "history": "earlier turns", "instruction": "the user message",
             "input": "the second part of the user message", "output": "the assistant reply"}

    def normalise(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:
        issues: list[Issue] = []
        values: dict[str, str] = {}
        history, issue = history_turns(record.get("history"), "history", self)
        if issue:
            issues.append(issue)
        for key, needed in (("system", False), ("instruction", True), ("input", False), ("output", True)):
            if record.get(key) is None:
                if needed:
                    issues.append(_missing(key, self))
                continue
            text, issue = field_text(record[key], key, self)
            if issue:
                issues.append(issue)
            else:
                values[key] = text or ""
        if issues:
            return [], issues
        turns = []
        if values.get("system", "").strip():
            turns.append(Turn("system", values["system"], "system"))
        turns.extend(history)
        prompt, field = values["instruction"], "instruction"
        extra = values.get("input", "")
        if extra.strip():
            # Some datasets leave the instruction empty and put the whole prompt in input.
            prompt, field = (f"{prompt}\n\n{extra}", "instruction") if prompt.strip() else (extra, "input")
        turns.append(Turn("user", prompt, field))
        turns.append(Turn("assistant", values["output"], "output"))
        return turns, []


class PromptCompletion(RecordFormat):
    name = "prompt_completion"
    label = "prompt/completion"
    required = ("prompt", "completion")
    hints = ("prompt", "completion")
    reads = {"prompt": "the user message", "completion": "the assistant reply"}
    example = '{"prompt": "...", "completion": "..."}.'

    def normalise(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:
        turns, issues = [], []
        for key, role in (("prompt", "user"), ("completion", "assistant")):
            text, issue = field_text(record.get(key), key, self)
            if issue:
                issues.append(issue)
            else:
                turns.append(Turn(role, text or "", key))
        return ([], issues) if issues else (turns, [])


class PlainText(RecordFormat):
    """Raw text to learn as a whole: one assistant message, so all of it is a target."""

    name = "text"
    label = "plain text"
    required = ("text",)
    reads = {"text": "the text to learn"}
    example = '{"text": "..."}.'
    assistant_only = True

    def normalise(self, record: dict[str, Any]) -> tuple[list[Turn], list[Issue]]:
        text, issue = field_text(record.get("text"), "text", self)
        return ([], [issue]) if issue else ([Turn("assistant", text or "", "text")], [])


# Detection order breaks ties: the first format wins when two score the same.
FORMATS: dict[str, RecordFormat] = {
    f.name: f for f in (OpenAIMessages(), ShareGPT(), Alpaca(), PromptCompletion(), PlainText())
}
ALIASES = {
    "openai": "openai_messages", "messages": "openai_messages", "chatml": "openai_messages",
    "plain_text": "text", "prompt-completion": "prompt_completion",
}
DETECT_SAMPLE = 100


def register_format(fmt: RecordFormat) -> None:
    FORMATS[fmt.name] = fmt


def get_format(name: str) -> RecordFormat:
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return FORMATS[key]
    except KeyError:
        raise DataImportError(
            f"Unknown dataset format '{name}'.",
            advice=f"Choose one of: {', '.join(FORMATS)} (or leave it empty to detect it).",
        ) from None


def detect_format(records: Iterable[Any], file_name: str = "the file") -> RecordFormat:
    """The format that fits most of the first records (only dict records count)."""
    totals = {name: 0 for name in FORMATS}
    keys_seen: list[str] = []
    objects = 0
    for record in records:
        if not isinstance(record, dict):
            continue
        objects += 1
        for key in record:
            if key not in keys_seen and len(keys_seen) < 20:
                keys_seen.append(key)
        for name, fmt in FORMATS.items():
            totals[name] += fmt.score(record)
        if objects >= DETECT_SAMPLE:
            break
    best = max(totals, key=lambda n: totals[n]) if totals else None
    if best is None or totals[best] == 0:
        seen = ", ".join(keys_seen) if keys_seen else "no objects with fields"
        raise DataImportError(
            f"{file_name}: the dataset format is not recognised (fields seen: {seen}).",
            details="\n".join(f"{f.label}: {f.example}" for f in FORMATS.values()),
            advice="Rename the fields to one of the supported formats, or choose the format "
            "by hand.",
        )
    return FORMATS[best]
