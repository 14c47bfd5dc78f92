"""How a version fits a max length, as training will cut it: per row the rendered length in
tokens and the position of the first trained token (the first token of an assistant reply).

Measured once per (version, model) with the model's tokenizer and chat template, using the
assistant-span rule training uses (workbench.data.model_view.template.assistant_spans). Any max length is
then answered from the two arrays without tokenizing again: a row longer than the max length is
truncated; a row whose first trained token lies at or beyond it has nothing left to learn and
training drops it (workbench/engine/train_data.tokenize_all).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.data.storage.parquet_io import count_rows
from workbench.data.storage.rowio import DataOpError, iter_message_batches
from workbench.data.model_view.tokens import find_tokenizer_files, load_tokenizer

NO_REPLY = -1  # first_trained of a row without an assistant reply
UNRENDERABLE = -2  # first_trained of a row the chat template rejects


@dataclass(frozen=True)
class FitCounts:
    max_length: int
    rows: int
    truncated: int  # rows longer than max_length (their end is cut)
    dropped: int  # rows with no assistant token before max_length (left out of training)
    usable: int  # rows training keeps
    without_reply: int  # of the dropped: rows with no assistant reply at all
    shortest_fit: Optional[int]  # the smallest max length that keeps at least one row


@dataclass(frozen=True)
class TokenFit:
    tokenizer: str  # the model folder
    lengths: np.ndarray = field(repr=False)  # int32 tokens per row, as rendered for training
    first_trained: np.ndarray = field(repr=False)  # int32 index of the first trained token, or a code
    render_error_rows: list[int] = field(default_factory=list)  # 0-based, first few

    @property
    def rows(self) -> int:
        return int(len(self.lengths))

    @property
    def render_errors(self) -> int:
        return int((self.first_trained == UNRENDERABLE).sum())

    def at(self, max_length: int) -> FitCounts:
        first = self.first_trained
        rendered = first != UNRENDERABLE  # unknown rows: training stops at them with its own message
        no_reply = first == NO_REPLY
        replies = first[first >= 0]
        dropped = int(no_reply.sum() + (replies >= max_length).sum())
        return FitCounts(
            max_length=max_length, rows=self.rows,
            truncated=int(((self.lengths > max_length) & rendered).sum()), dropped=dropped,
            usable=int(rendered.sum()) - dropped, without_reply=int(no_reply.sum()),
            shortest_fit=int(replies.min()) + 1 if len(replies) else None,
        )


def first_trained_token(starts: list[int], spans: list[tuple[int, int, int]]) -> int:
    """Index of the first token whose start offset lies in an assistant span (the engine's
    labelling rule), or NO_REPLY. `starts` are the tokens' start offsets, ascending."""
    for s, e, _i in spans:
        j = bisect_left(starts, s)
        if j < len(starts) and starts[j] < e:
            return j
    return NO_REPLY


def measure_fit(path: str | Path, tokenizer: str, *, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> TokenFit:
    """`tokenizer`: a model folder with tokenizer.json and a chat template (training needs both)."""
    from workbench.data.model_view.template import ChatTemplate

    files = find_tokenizer_files(tokenizer)
    template = ChatTemplate.from_files(files)  # raises the engine's "no chat template" message
    tok = load_tokenizer(files)
    total = count_rows(path)
    lengths = np.zeros(total, dtype=np.int32)
    first = np.full(total, NO_REPLY, dtype=np.int32)
    errors: list[int] = []
    pos = 0
    for batch in iter_message_batches(path, cancel=cancel):
        texts, spans = [], []
        for k, msgs in enumerate(batch):
            try:
                text, row_spans = template.assistant_spans(msgs)
            except DataOpError:
                first[pos + k] = UNRENDERABLE
                if len(errors) < 20:
                    errors.append(pos + k)
                text, row_spans = "", []
            texts.append(text)
            spans.append(row_spans)
        for k, enc in enumerate(tok.encode_batch(texts, add_special_tokens=False)):
            lengths[pos + k] = len(enc.ids)
            if first[pos + k] != UNRENDERABLE:
                first[pos + k] = first_trained_token([o[0] for o in enc.offsets], spans[k])
        pos += len(batch)
        report(progress, pos / max(1, total), f"Measured {pos:,}/{total:,} rows")
    return TokenFit(files.folder, lengths, first, errors)
