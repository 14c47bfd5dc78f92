"""Batched generation and reference loss for the `eval` child (and its benchmark).

Prompts are sorted by length and padded on the left, so a batch holds prompts of similar length
(little padding) and every row's new tokens start at the same column. `generate` derives the
position ids from the attention mask, so a padded row is computed like the same prompt alone:
greedy outputs equal one-at-a-time greedy outputs.
"""

from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

from workbench.core.eval_records import GenerationSettings
from workbench.engine.chat_generate import render_prompt as render_chat_prompt
from workbench.engine.chat_model import context_limit, generation_pad_id, stop_token_ids


@dataclass(frozen=True)
class Prompt:
    key: str  # the item id
    ids: list[int]


@dataclass(frozen=True)
class Generated:
    key: str
    text: str = ""
    tokens: int = 0  # generated tokens, the end-of-turn token included
    finish_reason: str = ""  # stop | length
    seconds: float = 0.0  # the batch's time shared among its rows
    ids: tuple[int, ...] = ()  # the generated ids up to (not including) the end-of-turn token
    error: Optional[str] = None  # why this item has no output (the others go on)


def set_cpu_threads() -> int:
    """Torch threads for generating on the CPU: torch's default (the physical cores), but half
    of them, at least one, when the machine is already saturated (the load average reaches the
    core count: a training run the eval gates, other programs). Threads that outnumber the free
    cores spin against each other and made each step 8-15x slower on a busy 2-core machine,
    while an idle one gains ~1.5x from its second thread."""
    import torch

    threads = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = os.getloadavg()[0] >= cores
    except (OSError, AttributeError):  # no load average (Windows)
        busy = False
    if busy:
        threads = max(1, threads // 2)
    torch.set_num_threads(threads)
    return threads


def render_prompt(tokenizer, messages: list[dict[str, Any]]) -> list[int]:
    """The prompt's token ids: the chat template with the generation prompt, rendered as training
    renders it (tools from the first message go to the template's `tools`)."""
    return render_chat_prompt(tokenizer, messages)[1]


def sampling_kwargs(settings: GenerationSettings) -> dict[str, Any]:
    """Greedy when temperature <= 0 (the model's own sampling defaults switched off), else sampling."""
    if settings.greedy:
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    return {"do_sample": True, "temperature": float(settings.temperature), "top_p": float(settings.top_p)}


class BatchGenerator:
    """Generates for prompts in batches with one loaded model (+ adapter)."""

    def __init__(self, model, tokenizer, device: str):
        import torch

        self.torch = torch
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.eos_ids = stop_token_ids(tokenizer, model.generation_config)
        self.pad_id = generation_pad_id(tokenizer, self.eos_ids)
        if self.pad_id is None:
            self.pad_id = 0  # only ever under masked positions
        self.limit = context_limit(model.config)
        forward = getattr(model, "get_base_model", lambda: model)().forward
        self._logits_to_keep = "logits_to_keep" in inspect.signature(forward).parameters

    # -- planning ------------------------------------------------------------------------
    def plan(self, prompts: list[Prompt], settings: GenerationSettings
             ) -> tuple[list[list[Prompt]], list[Generated]]:
        """(batches, failures): prompts longest first in batches of settings.batch_size; a prompt
        the model cannot read is a failure; one whose reply would run past the context goes alone
        (its reply is cut at the context, the others keep max_new_tokens)."""
        failures, fits, tight = [], [], []
        for p in prompts:
            n = len(p.ids)
            if self.limit is not None and n >= self.limit:
                failures.append(Generated(p.key, error=(
                    f"The prompt is {n} tokens long; this model reads at most {self.limit}.")))
            elif n == 0:
                failures.append(Generated(p.key, error="The prompt renders to no tokens."))
            elif self.limit is not None and n + settings.max_new_tokens > self.limit:
                tight.append(p)
            else:
                fits.append(p)
        order = {p.key: i for i, p in enumerate(prompts)}
        fits.sort(key=lambda p: (-len(p.ids), order[p.key]))
        size = max(1, int(settings.batch_size))
        batches = [fits[i:i + size] for i in range(0, len(fits), size)]
        return [[p] for p in tight] + batches, failures

    # -- generating ----------------------------------------------------------------------
    def left_padded(self, rows: list[list[int]]):
        torch = self.torch
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
        return ids.to(self.device), mask.to(self.device)

    def generate(self, batch: list[Prompt], settings: GenerationSettings) -> list[Generated]:
        torch = self.torch
        started = time.monotonic()
        max_new = settings.max_new_tokens
        if self.limit is not None:
            max_new = max(1, min(max_new, self.limit - max(len(p.ids) for p in batch)))
        ids, mask = self.left_padded([p.ids for p in batch])
        if not settings.greedy:
            torch.manual_seed(int(settings.seed))  # deterministic given the spec
        with torch.inference_mode():
            out = self.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new,
                                      eos_token_id=self.eos_ids or None, pad_token_id=self.pad_id,
                                      **sampling_kwargs(settings))
        new = out[:, ids.shape[1]:].tolist()
        seconds = round((time.monotonic() - started) / len(batch), 4)
        results = []
        for p, row in zip(batch, new):
            stop = next((j for j, t in enumerate(row) if t in self.eos_ids), None)
            kept = row if stop is None else row[:stop]
            results.append(Generated(
                p.key, text=self.tokenizer.decode(kept, skip_special_tokens=True),
                tokens=len(row) if stop is None else stop + 1,
                finish_reason="stop" if stop is not None else "length", seconds=seconds, ids=tuple(kept)))
        return results

    # -- reference loss ------------------------------------------------------------------
    def reference_example(self, messages: list[dict[str, Any]], reference: str
                          ) -> Optional[tuple[list[int], list[int]]]:
        """(ids, labels) of the prompt + the reference as the assistant's reply, labelled as
        training labels a reply (its tokens and the end-of-turn marker); None when it does not fit
        the context or has no labelled token."""
        from workbench.engine.train_data import IGNORE_INDEX, assistant_char_spans  # lazily: it loads pandas
        full = [*messages, {"role": "assistant", "content": reference}]
        text, spans = assistant_char_spans(self.tokenizer, full)
        if not spans:
            return None
        start, end = spans[-1]  # the reference only, not earlier assistant turns of the prompt
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        labels = [t if start <= s < end else IGNORE_INDEX for t, (s, _e) in zip(ids, enc["offset_mapping"])]
        if (self.limit is not None and len(ids) > self.limit) or all(x == IGNORE_INDEX for x in labels):
            return None
        return ids, labels

    def reference_nll(self, examples: list[tuple[list[int], list[int]]]) -> list[tuple[float, int]]:
        """Summed negative log-likelihood and label count of each (ids, labels), in one batch:
        left padded, so the labelled tail of every row is in the last columns and only their
        logits are computed."""
        from workbench.engine.train_data import IGNORE_INDEX

        torch = self.torch
        ids, mask = self.left_padded([e[0] for e in examples])
        width = ids.shape[1]
        labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
        for i, (_ids, lab) in enumerate(examples):
            labels[i, width - len(lab):] = torch.tensor(lab, dtype=torch.long)
        labels = labels.to(self.device)
        first = min(int(row.ne(IGNORE_INDEX).nonzero()[0]) for row in labels)
        keep = width - first + 1 if first > 0 else width  # logits at column c predict column c + 1
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        kwargs = {"logits_to_keep": keep} if self._logits_to_keep else {}
        with torch.inference_mode():
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=position_ids, **kwargs).logits
        logits = logits[:, -keep:].float() if logits.shape[1] >= keep else logits.float()
        targets = labels[:, width - logits.shape[1] + 1:]
        logits = logits[:, :-1]
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                ignore_index=IGNORE_INDEX, reduction="none")
        nll = nll.view(targets.shape).sum(-1)
        counts = targets.ne(IGNORE_INDEX).sum(-1)
        return [(float(a), int(b)) for a, b in zip(nll.tolist(), counts.tolist())]
