"""Streaming the chat child's replies: a transformers streamer over the rows of one batched
generate, each row decoded incrementally with its own tokenizer, stop ids and stop strings.

Per token a row decodes only a short window (the ids since the last stable point, as text
generation servers do), not every id so far: the cost per token stays flat as a reply grows.
Token events only ever append; a trailing U+FFFD (a multi-byte character not complete yet) and
any tail that could begin a stop string are held back until the next ids settle them.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

# on_text(row index, new text)
TextSink = Callable[[int, str], None]


class RowStream:
    """One reply being generated: its ids, the text sent so far and why it ended."""

    def __init__(self, tokenizer, stop_ids: Sequence[int], stop_strings: Sequence[str] = ()):
        self.tokenizer = tokenizer
        self.stop_ids = frozenset(stop_ids)
        self.stop_strings = tuple(s for s in stop_strings if s)
        self._longest_stop = max((len(s) for s in self.stop_strings), default=0)
        self.ids: list[int] = []  # every generated id, the end-of-turn id included
        self.shown = ""  # the text sent in token events
        self._pending = ""  # decoded, held back (may begin a stop string)
        self._prefix_off = 0  # ids[_prefix_off:_read_off] decode to the text already taken
        self._read_off = 0
        self.finished: Optional[str] = None  # None | "stop" (end id) | "stop_string"
        self.cut_text: Optional[str] = None  # the text up to the stop string
        self.first_token_at: Optional[float] = None
        self.ended_at: Optional[float] = None

    def _decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def add(self, token_id: int) -> str:
        """Take one generated id; returns the text that may be shown now ("" for none)."""
        if self.finished:
            return ""
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
        self.ids.append(token_id)
        if token_id in self.stop_ids:
            self.finished = "stop"
            self.ended_at = time.monotonic()
            return ""
        prefix = self._decode(self.ids[self._prefix_off:self._read_off])
        window = self._decode(self.ids[self._prefix_off:])
        if window.endswith("\ufffd"):
            return ""  # an incomplete character: wait for its next bytes
        if window.startswith(prefix):
            if len(window) == len(prefix):
                return ""
            piece = window[len(prefix):]
            self._prefix_off, self._read_off = self._read_off, len(self.ids)
        else:  # the new ids rewrote the window's text (clean-up of spaces): compare whole texts
            full = self._decode(self.ids)
            taken = self.shown + self._pending
            piece = full[len(taken):] if full.startswith(taken) else ""
            self._prefix_off, self._read_off = len(self.ids) - 1, len(self.ids)
        return self._release(piece) if piece else ""

    def _release(self, piece: str) -> str:
        if not self.stop_strings:
            self.shown += piece
            return piece
        candidate = self._pending + piece
        full = self.shown + candidate
        start = max(0, len(self.shown) - self._longest_stop)
        hits = [i for i in (full.find(s, start) for s in self.stop_strings) if i >= 0]
        if hits:
            cut = min(hits)
            self.finished = "stop_string"
            self.ended_at = time.monotonic()
            self.cut_text = full[:cut]
            new = full[len(self.shown):cut] if cut > len(self.shown) else ""
            self.shown += new
            self._pending = ""
            return new
        hold = 0  # the longest tail of the text that is the start of a stop string
        for s in self.stop_strings:
            for k in range(min(len(s) - 1, len(full)), hold, -1):
                if full.endswith(s[:k]):
                    hold = k
                    break
        hold = min(hold, len(candidate))
        new, self._pending = candidate[:len(candidate) - hold], candidate[len(candidate) - hold:]
        self.shown += new
        return new

    def final_text(self) -> str:
        """The reply: the decode of every generated id (end id excluded), cut before a stop
        string; the decode of the whole, not the streamed prefix, so a late rewrite counts."""
        if self.cut_text is not None:
            return self.cut_text
        ids = self.ids[:-1] if self.finished == "stop" else self.ids
        text = self._decode(ids)
        for s in self.stop_strings:  # a stop string whose tail came in the very last ids
            at = text.find(s)
            if at >= 0:
                text = text[:at]
                self.finished = "stop_string"
        return text

    def rest(self) -> str:
        """What token events have not shown yet of the final text ("" when a rewrite made the
        final text diverge from what was shown: events can only append)."""
        final = self.final_text()
        return final[len(self.shown):] if final.startswith(self.shown) else ""


class BatchStreamer:
    """The streamer of one `generate` call over len(rows) rows (transformers calls put() with
    the prompt first, then with each step's next ids, shape (batch,), then end())."""

    def __init__(self, rows: list[RowStream], on_text: TextSink):
        self.rows = rows
        self.on_text = on_text
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        ids = value.reshape(len(self.rows), -1).tolist()
        for i, (row, step) in enumerate(zip(self.rows, ids)):
            for token_id in step:
                text = row.add(int(token_id))
                if text:
                    self.on_text(i, text)

    def end(self) -> None:
        now = time.monotonic()
        for i, row in enumerate(self.rows):
            row.ended_at = row.ended_at or now
            rest = row.rest()
            if rest:
                row.shown += rest
                self.on_text(i, rest)

    def finished_mask(self) -> list[bool]:
        """Rows that ended on a stop string (transformers ends rows on their end ids itself)."""
        return [row.finished == "stop_string" for row in self.rows]


class IncrementalStreamer:
    """A single-row streamer: `on_text(new text)` per settled piece; `text` is the final reply
    (the decode of every generated id) once generation ends."""

    def __init__(self, tokenizer, on_text: Callable[[str], None], stop_ids: Sequence[int] = (),
                 stop_strings: Sequence[str] = ()):
        self.row = RowStream(tokenizer, stop_ids, stop_strings)
        self._batch = BatchStreamer([self.row], lambda _i, text: on_text(text))
        self.text = ""

    @property
    def ids(self) -> list[int]:
        return self.row.ids

    def put(self, value) -> None:
        self._batch.put(value)

    def end(self) -> None:
        self._batch.end()
        self.text = self.row.final_text()
