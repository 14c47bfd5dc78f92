"""Statistics of a dataset version: what the model will see, in numbers.

One streaming pass; per row only two int32 lengths are kept (for percentiles and histograms).
Token lengths use a model's tokenizer: with a chat template they are the lengths training
sees (the rendered conversation), otherwise the sum of the message texts' tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.data.storage.rowio import DataOpError, iter_message_batches
from workbench.data.storage.parquet_io import count_rows
from workbench.data.model_view.tokens import find_tokenizer_files, load_tokenizer


@dataclass(frozen=True)
class Histogram:
    edges: list[float]  # len(counts) + 1 bin edges; the last bin includes its right edge
    counts: list[int]
    min: float
    max: float
    mean: float
    median: float
    p95: float
    overflow: int = 0  # rows longer than edges[-1] (a long tail, counted apart; not in counts)


# Where a long tail is cut off: the bins cover the values up to this percentile ...
CLIP_PERCENTILE = 99.0
# ... when the whole range would leave that bulk fewer than a quarter of the bins.
CLIP_SPREAD = 4.0


@dataclass(frozen=True)
class VersionStats:
    row_count: int
    message_count: int
    turns: dict[int, int]  # messages in a row -> rows
    assistant_turns: dict[int, int]  # assistant replies in a row -> rows
    roles: dict[str, int]  # messages per role
    role_chars: dict[str, int]  # characters per role
    chars: Histogram  # characters per row (all messages)
    empty_messages: int  # empty or whitespace-only messages
    rows_without_assistant: int  # nothing to train on
    tokens: Optional[Histogram] = None  # tokens per row (when a tokenizer was given)
    token_measure: str = ""  # "rendered" (chat template, as trained) or "content" (message texts)
    tokenizer: Optional[str] = None
    max_length: Optional[int] = None
    truncated_rows: Optional[int] = None  # rows longer than max_length tokens (cut in training)
    render_errors: int = 0  # rows the chat template rejects (left out of the token histogram)
    render_error_rows: list[int] = field(default_factory=list)  # first few


def histogram(values: np.ndarray, bins: int = 20, include: Optional[float] = None) -> Histogram:
    """Bins over the values; a long tail (one 16k-token row among 300-token ones) is cut off
    at the CLIP_PERCENTILE-th value (or at `include`, e.g. the max length, when higher) and
    counted in `overflow`, so that it does not squash every other row into one bin."""
    if len(values) == 0:
        return Histogram([0.0, 1.0], [0], 0.0, 0.0, 0.0, 0.0, 0.0)
    lo, hi = float(values.min()), float(values.max())
    top = hi
    # "lower": an actual value, so with few rows one outlier is never the cut itself.
    cut = float(np.percentile(values, CLIP_PERCENTILE, method="lower"))
    if include is not None and include < hi:
        cut = max(cut, float(include))
    if cut < hi and (cut - lo) * CLIP_SPREAD < hi - lo:
        # The bins end at the last value near the bulk: only the far tail is counted apart.
        near = values[values <= cut + (cut - lo) * 0.5]
        top = max(float(near.max()), cut)
    inside = values[values <= top] if top < hi else values
    nbins = max(1, min(bins, int(top - lo) + 1))  # integer data: no bin narrower than 1
    counts, edges = np.histogram(inside, bins=nbins, range=(lo, top if top > lo else lo + 1))
    return Histogram([round(float(e), 3) for e in edges], [int(c) for c in counts], lo, hi,
                     round(float(values.mean()), 3), float(np.median(values)), float(np.percentile(values, 95)),
                     int(len(values) - len(inside)))


def compute_stats(path: str | Path, *, tokenizer: Optional[str] = None, max_length: Optional[int] = None,
                  measure: str = "auto", bins: int = 20, progress: Optional[ProgressCallback] = None,
                  cancel: Optional[CancelToken] = None) -> VersionStats:
    """measure: "auto" (rendered when the model has a chat template), "rendered" or "content"."""
    if measure not in ("auto", "rendered", "content"):
        raise DataOpError(f"Unknown token measure {measure!r}.", advice="Use auto, rendered or content.")
    total = count_rows(path)
    files = find_tokenizer_files(tokenizer) if tokenizer else None
    tok = load_tokenizer(files) if files is not None else None
    template = None
    if files is not None and (measure == "rendered" or (measure == "auto" and files.chat_template)):
        from workbench.data.model_view.template import ChatTemplate

        template = ChatTemplate.from_files(files)
    chars = np.zeros(total, dtype=np.int32)
    toks = np.full(total, -1, dtype=np.int32)
    turns: dict[int, int] = {}
    assistant_turns: dict[int, int] = {}
    roles: dict[str, int] = {}
    role_chars: dict[str, int] = {}
    empty = no_assistant = messages = 0
    errors: list[int] = []
    pos = 0
    for batch in iter_message_batches(path, cancel=cancel):
        texts = []
        for msgs in batch:
            n_asst = 0
            row_chars = 0
            for m in msgs:
                role, content = m.get("role", ""), m.get("content", "")
                roles[role] = roles.get(role, 0) + 1
                role_chars[role] = role_chars.get(role, 0) + len(content)
                row_chars += len(content)
                empty += not content.strip()
                n_asst += role == "assistant"
            messages += len(msgs)
            turns[len(msgs)] = turns.get(len(msgs), 0) + 1
            assistant_turns[n_asst] = assistant_turns.get(n_asst, 0) + 1
            no_assistant += n_asst == 0
            chars[pos + len(texts)] = row_chars
            rendered = None
            if template is not None:
                try:
                    rendered = template.render(msgs)
                except DataOpError:
                    errors.append(pos + len(texts))
            texts.append(rendered)
        if tok is not None:
            if template is None:
                # Content measure: each message on its own (no merges across message borders).
                flat = [(i, m.get("content", "")) for i, msgs in enumerate(batch) for m in msgs]
                encs = tok.encode_batch([t for _, t in flat], add_special_tokens=False)
                sums = np.zeros(len(batch), dtype=np.int64)
                for (i, _), e in zip(flat, encs):
                    sums[i] += len(e.ids)
                toks[pos:pos + len(batch)] = sums
            else:
                todo = [(i, t) for i, t in enumerate(texts) if t is not None]
                encs = tok.encode_batch([t for _, t in todo], add_special_tokens=False)
                for (i, _), e in zip(todo, encs):
                    toks[pos + i] = len(e.ids)
        pos += len(batch)
        report(progress, pos / max(1, total), f"Measured {pos:,}/{total:,} rows")
    measured = toks[toks >= 0] if tok is not None else None
    return VersionStats(
        row_count=pos, message_count=messages,
        turns=dict(sorted(turns.items())), assistant_turns=dict(sorted(assistant_turns.items())),
        roles=dict(sorted(roles.items())), role_chars=dict(sorted(role_chars.items())),
        chars=histogram(chars[:pos], bins), empty_messages=int(empty), rows_without_assistant=int(no_assistant),
        tokens=histogram(measured, bins, include=max_length) if measured is not None else None,
        token_measure=("rendered" if template is not None else "content") if tok is not None else "",
        tokenizer=files.folder if files is not None else None,
        max_length=max_length,
        truncated_rows=int((measured > max_length).sum()) if measured is not None and max_length else None,
        render_errors=len(errors), render_error_rows=errors[:20],
    )
