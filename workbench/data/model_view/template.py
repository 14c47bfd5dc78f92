"""What the model sees: a conversation rendered with the model's chat template, tokenized,
each token flagged as trained on (inside an assistant reply) or not.

Rendering follows transformers' apply_chat_template: a jinja2 ImmutableSandboxedEnvironment
with trim_blocks and lstrip_blocks, loopcontrols, the `tojson`/`raise_exception`/
`strftime_now` helpers, and `messages`, `tools` (a tool-calling conversation's definitions,
see workbench.core.tool_calls), `add_generation_prompt` and the named special tokens
(bos_token, eos_token, ...) as variables. Assistant spans are found the way the training
engine finds them (workbench/engine/train_data.py): by rendering prefixes of the
conversation, so the highlighting shows exactly the labels training will use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Optional

from workbench.core.records import TOOL_ROLE
from workbench.core.tool_calls import REPLY, TOOL_CALL, TOOL_CALLS_KEY, TOOL_RESULT, split_tools
from workbench.data.storage.rowio import DataOpError
from workbench.data.model_view.tokens import TokenizerFiles, load_tokenizer

Message = dict[str, Any]


@lru_cache(maxsize=16)
def _compile(source: str):
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):
        """`{% generation %}...{% endgeneration %}` (templates that mark assistant text for
        transformers' own mask) renders its body unchanged here."""

        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise DataOpError("The model's chat template is not valid jinja.", details=str(exc),
                          advice="Fix chat_template in the model folder, or pick another base model.") from exc


def assistant_spans(render, messages: list, eos_token: str = "") -> tuple[str, list[tuple[int, int, int]]]:
    """The rendered conversation and (start, end, message index) of each assistant reply.

    `render(messages, add_generation_prompt) -> str` renders with the model's chat template.
    A reply's span runs from the end of the prefix rendered with the generation prompt to the end
    of the prefix that includes the reply: the reply plus the end-of-turn marker (the model must
    learn to stop), never the role header. Training (engine/train_data) and the "what the model
    sees" view both use this one rule, so the view shows exactly what is trained on. An assistant
    turn that calls tools is a reply like any other: the rendered call is the model's output.

    A span without `eos_token` (a template with no end-of-turn marker) gets one appended to the
    text right after it, inside the span: otherwise the model never learns to stop.
    """
    full = render(messages, False)
    spans: list[tuple[int, int, int]] = []
    cursor = 0
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        head = render(messages[:i], True) if i else ""
        upto = render(messages[: i + 1], False)
        if full.startswith(upto) and upto.startswith(head) and len(head) >= cursor:
            start, end = len(head), len(upto)
        else:
            # The template rewrites earlier turns: locate the reply text itself instead.
            start = full.find(msg["content"], cursor)
            if start < 0:
                continue
            end = start + len(msg["content"])
            if eos_token and full.startswith(eos_token, end):
                end += len(eos_token)
        if end > start:
            spans.append((start, end, i))
            cursor = end
    return _close_spans(full, spans, eos_token)


def _close_spans(text: str, spans: list[tuple[int, int, int]],
                 eos_token: str) -> tuple[str, list[tuple[int, int, int]]]:
    """Insert eos_token after each span that lacks it, shifting the later spans."""
    if not eos_token:
        return text, spans
    parts, out, pos, shift = [], [], 0, 0
    for start, end, i in spans:
        parts.append(text[pos:end])
        pos = end
        if eos_token in text[start:end]:
            out.append((start + shift, end + shift, i))
            continue
        parts.append(eos_token)
        out.append((start + shift, end + shift + len(eos_token), i))
        shift += len(eos_token)
    parts.append(text[pos:])
    return "".join(parts), out


def tool_result_spans(text: str, messages: list[Message],
                      spans: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """(start, end, message index) of each tool result's text in the rendered conversation,
    found after the assistant span that precedes it and before the next one (for the view:
    templates wrap results in their own markers, and training never learns them)."""
    out: list[tuple[int, int, int]] = []
    for i, msg in enumerate(messages):
        if msg.get("role") != TOOL_ROLE or not msg.get("content"):
            continue
        before = [e for s, e, j in spans if j < i]
        after = [s for s, e, j in spans if j > i]
        lo = max([before[-1] if before else 0] + [e for _s, e, _j in out])
        start = text.find(msg["content"], lo, after[0] if after else len(text))
        if start >= 0:
            out.append((start, start + len(msg["content"]), i))
    return out


class ChatTemplate:
    def __init__(self, source: str, special_tokens: Optional[dict[str, str]] = None,
                 tool_source: Optional[str] = None) -> None:
        self.source = source
        self.special_tokens = dict(special_tokens or {})
        self._template = _compile(source)
        # A tokenizer's named "tool_use" template renders conversations with tools, as in transformers.
        self._tool_template = _compile(tool_source) if tool_source else self._template
        self.eos_token = self.special_tokens.get("eos_token") or ""

    @classmethod
    def from_files(cls, files: TokenizerFiles) -> "ChatTemplate":
        if not files.chat_template:
            raise DataOpError(
                f"The model in {files.folder} has no chat template.",
                advice="Use an instruction/chat model, or one built by Workbench (they include ChatML).",
            )
        return cls(files.chat_template, files.special_tokens, files.tool_template)

    def render(self, messages: list[Message], add_generation_prompt: bool = False) -> str:
        import jinja2

        plain, tools = split_tools(messages)
        template = self._tool_template if tools else self._template
        try:
            return template.render(messages=plain, tools=tools, documents=None,
                                   add_generation_prompt=add_generation_prompt, **self.special_tokens)
        except jinja2.TemplateError as exc:
            raise DataOpError(
                "This conversation cannot be rendered with the model's chat template.", details=str(exc),
                advice="This model's template rejects that conversation (often: roles must alternate "
                "user/assistant, or no system role). Clean those rows or pick another base model.",
            ) from exc

    def assistant_spans(self, messages: list[Message]) -> tuple[str, list[tuple[int, int, int]]]:
        """The rendered text and (start, end, message index) of each assistant reply."""
        return assistant_spans(self.render, messages, self.eos_token or "")


@dataclass(frozen=True)
class TokenView:
    id: int
    piece: str  # the vocabulary entry (byte-level pieces look like "Ġword")
    start: int  # character offsets into RenderedRow.text
    end: int
    trained: bool  # inside an assistant span (and before max_length): gets a label
    kind: str = ""  # the kind of the span it starts in: REPLY, TOOL_CALL, TOOL_RESULT or "" (template)


@dataclass(frozen=True)
class TextSpan:
    start: int
    end: int
    trained: bool
    message_index: Optional[int]  # the message a reply, tool-call or tool-result span belongs to
    kind: str = ""  # REPLY, TOOL_CALL, TOOL_RESULT, or "" for the template's own text


@dataclass(frozen=True)
class RenderedRow:
    index: int
    messages: list[Message]
    text: str
    spans: list[TextSpan]  # covers text from 0 to len(text), in order
    tokens: list[TokenView]
    token_count: int
    trained_token_count: int
    max_length: Optional[int]
    truncated: bool  # token_count > max_length: tokens from max_length on are cut
    template_source: str


def _partition(text_len: int, messages: list[Message], spans: list[tuple[int, int, int]],
               results: list[tuple[int, int, int]]) -> list[TextSpan]:
    """TextSpans covering the text: the trained spans, the tool results, the template between."""
    marked = sorted([(s, e, i, True) for s, e, i in spans] + [(s, e, i, False) for s, e, i in results])
    out: list[TextSpan] = []
    pos = 0
    for start, end, idx, trained in marked:
        if start > pos:
            out.append(TextSpan(pos, start, False, None))
        kind = (TOOL_CALL if messages[idx].get(TOOL_CALLS_KEY) else REPLY) if trained else TOOL_RESULT
        out.append(TextSpan(start, end, trained, idx, kind))
        pos = end
    if pos < text_len:
        out.append(TextSpan(pos, text_len, False, None))
    return out


def render_conversation(files: TokenizerFiles, messages: list[Message], *, index: int = 0,
                        max_length: Optional[int] = None) -> RenderedRow:
    template = ChatTemplate.from_files(files)
    tokenizer = load_tokenizer(files)
    text, spans = template.assistant_spans(messages)
    parts = _partition(len(text), messages, spans, tool_result_spans(text, messages, spans))
    enc = tokenizer.encode(text, add_special_tokens=False)
    tokens: list[TokenView] = []
    for j, (tid, piece, (start, end)) in enumerate(zip(enc.ids, enc.tokens, enc.offsets)):
        inside = any(s <= start < e for s, e, _ in spans)  # the engine's rule: the token's start
        kept = max_length is None or j < max_length
        kind = next((p.kind for p in parts if p.start <= start < p.end), "")
        tokens.append(TokenView(tid, piece, start, end, inside and kept, kind))
    return RenderedRow(
        index=index, messages=messages, text=text, spans=parts, tokens=tokens,
        token_count=len(tokens), trained_token_count=sum(t.trained for t in tokens), max_length=max_length,
        truncated=max_length is not None and len(tokens) > max_length, template_source=files.chat_template or "",
    )


def rendered_length(template: ChatTemplate, tokenizer, batch: list[list[Message]]) -> list[int]:
    """Token count of each conversation as training renders it (no generation prompt, an EOS
    after each assistant reply that lacks one)."""
    if template.eos_token:
        texts = [template.assistant_spans(m)[0] for m in batch]
    else:
        texts = [template.render(m, False) for m in batch]
    return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]

