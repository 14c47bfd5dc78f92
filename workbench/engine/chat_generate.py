"""One generate call of the chat child over one or more rows: each row its own conversation
and adapter (peft's mixed-adapter batch where rows differ), left padded, streamed per row.

A padded row is computed like the same prompt alone (generate derives position ids from the
attention mask), so greedy rows equal one-at-a-time greedy replies.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from workbench.core.chat_records import SamplingSettings
from workbench.core.tool_calls import split_tools
from workbench.engine.chat_model import BASE_NAME, ChatModel
from workbench.engine.chat_streamer import BatchStreamer, RowStream


@dataclass(frozen=True)
class Row:
    key: Optional[str]  # None for a plain generate request
    messages: list[dict[str, Any]]
    adapter: Optional[str]  # a loaded adapter's name; None: the base model


@dataclass(frozen=True)
class RowResult:
    key: Optional[str]
    text: str = ""
    finish_reason: str = ""  # stop | length | interrupted
    tokens: int = 0  # generated, the end-of-turn id included
    prompt_tokens: int = 0
    seconds: float = 0.0  # request start to the row's end
    ttft: Optional[float] = None  # request start to the row's first generated token
    tokens_per_s: Optional[float] = None  # decode speed after the first token
    seed: Optional[int] = None  # the seed sampling used (None: greedy)
    error: Optional[Exception] = None  # this row alone failed (the others generated)


def render_prompt(tokenizer, messages: list[dict[str, Any]]) -> tuple[str, list[int]]:
    """(text, ids) of the prompt: the chat template with the generation prompt, rendered as
    training renders it (tools from the first message go to the template's `tools`)."""
    plain, tools = split_tools(messages)
    text = tokenizer.apply_chat_template(plain, tools=tools, tokenize=False, add_generation_prompt=True)
    return text, list(tokenizer(text, add_special_tokens=False)["input_ids"])


def sampling_kwargs(settings: SamplingSettings) -> dict[str, Any]:
    """generate() arguments: greedy at temperature 0 (the model's own sampling defaults switched
    off), else sampling with top-p / top-k (0: off); the repetition penalty applies to both."""
    out: dict[str, Any] = {"repetition_penalty": float(settings.repetition_penalty)}
    if settings.temperature <= 0:
        out.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        out.update(do_sample=True, temperature=float(settings.temperature), top_p=float(settings.top_p),
                   top_k=int(settings.top_k))
    return out


def _rate(row: RowStream) -> Optional[float]:
    n = len(row.ids)
    if row.first_token_at is None or row.ended_at is None or n < 2 or row.ended_at <= row.first_token_at:
        return None
    return round((n - 1) / (row.ended_at - row.first_token_at), 2)


class RowGenerator:
    """Runs rows through one batched generate on a ChatModel."""

    def __init__(self, chat: ChatModel):
        import torch

        self.torch = torch
        self.chat = chat

    def _adapter_context(self, adapters: list[Optional[str]]) -> tuple[Any, dict[str, Any]]:
        """(context manager, extra generate kwargs) that make each row use its adapter."""
        model = self.chat.model
        if not self.chat.paths:
            return contextlib.nullcontext(), {}
        if len(set(adapters)) == 1:
            if adapters[0] is None:
                return model.disable_adapter(), {}
            model.set_adapter(adapters[0])
            return contextlib.nullcontext(), {}
        return contextlib.nullcontext(), {"adapter_names": [a or BASE_NAME for a in adapters]}

    def run(self, rows: list[Row], settings: SamplingSettings, cancel: threading.Event,
            on_text: Callable[[int, str], None], started: Optional[float] = None) -> list[RowResult]:
        """Results in the order of `rows`; on_text(row index, text) as text settles."""
        torch = self.torch
        chat = self.chat
        started = time.monotonic() if started is None else started
        results: list[Optional[RowResult]] = [None] * len(rows)
        prompts: list[tuple[int, list[int]]] = []
        for i, row in enumerate(rows):
            try:
                _text, ids = render_prompt(chat.tokenizer_for(row.adapter), row.messages)
            except Exception as exc:  # a template that refuses these messages: this row only
                results[i] = RowResult(row.key, error=exc)
                continue
            if chat.limit is not None and len(ids) >= chat.limit:
                from workbench.engine.errors import BadConfigError

                results[i] = RowResult(row.key, prompt_tokens=len(ids), error=BadConfigError(
                    f"The conversation is {len(ids)} tokens long; this model reads at most {chat.limit}.",
                    advice="Start a new chat or remove earlier messages."))
                continue
            prompts.append((i, ids))
        if not prompts:
            return [r for r in results if r is not None]
        max_new = settings.max_new_tokens
        if chat.limit is not None:
            max_new = max(1, min(max_new, chat.limit - max(len(ids) for _i, ids in prompts)))
        streams = [RowStream(chat.tokenizer_for(rows[i].adapter), chat.eos_ids, settings.stop)
                   for i, _ids in prompts]
        streamer = BatchStreamer(streams, lambda j, text: on_text(prompts[j][0], text))
        seed = None
        if settings.temperature > 0:
            seed = settings.seed if settings.seed is not None else random.randrange(2**31)
        if not cancel.is_set():
            self._generate([ids for _i, ids in prompts], [rows[i].adapter for i, _ids in prompts],
                           streamer, settings, max_new, seed, cancel)
        else:
            streamer.end()
        for (i, ids), stream in zip(prompts, streams):
            n = len(stream.ids)
            text = stream.final_text()  # before reading `finished`: a late stop string sets it
            if stream.finished:
                reason = "stop"
            elif cancel.is_set():
                reason = "interrupted"
            else:
                reason = "length" if n >= max_new else "stop"
            end = stream.ended_at or time.monotonic()
            results[i] = RowResult(
                rows[i].key, text=text, finish_reason=reason, tokens=n, prompt_tokens=len(ids),
                seconds=round(end - started, 4),
                ttft=round(stream.first_token_at - started, 4) if stream.first_token_at else None,
                tokens_per_s=_rate(stream) or (round(n / (end - started), 2) if n and end > started else None),
                seed=seed)
        return [r for r in results if r is not None]

    def _generate(self, prompts: list[list[int]], adapters: list[Optional[str]], streamer: BatchStreamer,
                  settings: SamplingSettings, max_new: int, seed: Optional[int], cancel: threading.Event) -> None:
        torch = self.torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        chat = self.chat
        pad = chat.pad_id if chat.pad_id is not None else 0  # only ever under masked positions
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p):] = 1

        class RowsDone(StoppingCriteria):
            """Every row on a stop request; a row whose text reached a stop string."""

            def __call__(self, input_ids, scores, **kwargs):
                if cancel.is_set():
                    return torch.ones((input_ids.shape[0],), dtype=torch.bool, device=input_ids.device)
                return torch.tensor(streamer.finished_mask(), dtype=torch.bool, device=input_ids.device)

        if seed is not None:
            torch.manual_seed(seed)  # all devices: the same seed gives the same reply
        context, extra = self._adapter_context(adapters)
        with torch.inference_mode(), context:
            chat.model.generate(
                input_ids=ids.to(chat.device), attention_mask=mask.to(chat.device),
                max_new_tokens=max_new, streamer=streamer,
                stopping_criteria=StoppingCriteriaList([RowsDone()]),
                eos_token_id=chat.eos_ids or None, pad_token_id=chat.pad_id,
                **sampling_kwargs(settings), **extra)
