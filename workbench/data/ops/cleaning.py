"""Cleaning operations: a preview (what would be removed or changed) and an apply (the kept
rows written as a new blob) share one pass, so what was previewed is what is written.

Row indices are 0-based positions in the version being cleaned (read_rows' `index`).
Exclusions (clean_params) name proposed changes the user switched off in the preview: whole
rows, or single PII replacements by row, message and character span; each must match a
change the operation proposes, and the applied version records them.
Memory: row-level operations stream one row group at a time; duplicate detection keeps 16
bytes (exact) or 4 x num_perm bytes (near) per row, plus the first `max_examples` details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.core.tool_calls import TOOL_CALLS_KEY, split_tools, with_tools
from workbench.data.ops import dedup
from workbench.data.ops.clean_params import Exclusions, SpanRef, params_dict, resolve_params
from workbench.data.storage.parquet_io import count_rows
from workbench.data.ops.pii import ScrubCounts, Scrubber
from workbench.data.storage.rowio import (BATCH_ROWS, DataOpError, StoredRow, VersionWriter, WrittenBlob, iter_message_batches,
                                  iter_rows)
from workbench.data.model_view.tokens import LengthCounter, counter_for

Message = dict[str, str]


@dataclass(frozen=True)
class Replacement:
    """One PII value a scrub replaces: before[message]["content"][start:end] == value."""

    ref: SpanRef  # what Exclusions.spans names to leave it
    kind: str
    value: str
    placeholder: str


@dataclass(frozen=True)
class RowChange:
    """One row an operation removes or changes (the first max_examples of them, for a preview)."""

    index: int
    action: str  # "remove" or "change"
    reason: str
    before: list[Message]
    after: Optional[list[Message]] = None  # the changed messages ("change" only)
    duplicate_of: Optional[int] = None  # dedup: the earlier row that is kept
    similarity: Optional[float] = None  # near dedup: estimated Jaccard similarity
    length: Optional[int] = None  # length filter: the measured length
    replaced: dict[str, int] = field(default_factory=dict)  # pii: replacements per kind
    replacements: tuple[Replacement, ...] = ()  # pii: each one, in message and text order


@dataclass(frozen=True)
class CleanReport:
    op: str
    params: dict[str, Any]  # resolved, with defaults: what an apply records
    total_rows: int
    kept_rows: int
    removed: list[int]  # every removed row's index
    changed: list[int]  # every changed row's index
    counts: dict[str, int]
    examples: list[RowChange]
    examples_truncated: bool  # more rows were affected than `examples` holds
    duplicate_of: list[int] = field(default_factory=list)  # dedup: parallel to `removed`
    unit: str = ""  # length: "tokens" or "chars"
    excluded: Exclusions = Exclusions()  # the changes left out (all matched a proposed change)


@dataclass
class _Decision:
    action: str
    reason: str
    messages: Optional[list[Message]] = None
    source: Any = None
    source_changed: bool = False
    duplicate_of: Optional[int] = None
    similarity: Optional[float] = None
    length: Optional[int] = None
    replaced: dict[str, int] = field(default_factory=dict)
    replacements: tuple[Replacement, ...] = ()
    rejected: Optional[list[Message]] = None  # a preference pair's changed rejected reply


class _Op:
    """prepare() scans the whole version once when the operation needs all rows (dedup);
    decide() then says, for a batch of rows in order, what happens to each (None: kept)."""

    global_pass = False
    unit = ""

    def __init__(self, params: Any) -> None:
        self.params = params
        self.counts: dict[str, int] = {}
        self.exclude = Exclusions()
        self.matched_spans: set[SpanRef] = set()  # excluded spans that named a real replacement

    def prepare(self, path: Path, progress: Optional[ProgressCallback], cancel: Optional[CancelToken]) -> None:
        pass

    def decide(self, rows: list[StoredRow]) -> list[Optional[_Decision]]:  # pragma: no cover
        raise NotImplementedError


class _ExactDedup(_Op):
    global_pass = True

    def prepare(self, path, progress, cancel):
        keys, total, done = [], count_rows(path), 0
        for batch in iter_message_batches(path, cancel=cancel, with_rejected=True):  # pairs: both sides count
            keys.append(dedup.exact_keys(batch, self.params.case_sensitive))
            done += len(batch)
            report(progress, 0.4 * done / max(1, total), f"Hashing rows: {done:,}/{total:,}")
        report(progress, 0.4, "Comparing rows")
        first = dedup.first_occurrences(np.concatenate(keys) if keys else np.zeros((0, 2), np.uint64))
        self.first = first
        self.counts["duplicate_groups"] = int(len(np.unique(first[first != np.arange(len(first))])))

    def decide(self, rows):
        out: list[Optional[_Decision]] = []
        for row in rows:
            orig = int(self.first[row.index])
            out.append(None if orig == row.index else _Decision("remove", "exact duplicate", duplicate_of=orig))
        return out


class _NearDedup(_Op):
    global_pass = True

    def prepare(self, path, progress, cancel):
        p = self.params
        hasher = dedup.MinHasher(p.num_perm, p.shingle_size, p.seed)
        parts = []
        total, done = count_rows(path), 0
        for batch in iter_message_batches(path, cancel=cancel, with_rejected=True):
            parts.append(hasher.signatures(dedup.texts_of(batch, p.include_system)))
            done += len(batch)
            report(progress, 0.35 * done / max(1, total), f"MinHash signatures: {done:,}/{total:,} rows")
        sigs = np.concatenate(parts) if parts else np.zeros((0, p.num_perm), np.uint32)
        report(progress, 0.35, "Finding similar rows")
        matches = dedup.near_duplicates(sigs, p.threshold, cancel)
        self.matches = {m.index: m for m in matches}
        self.counts["duplicate_groups"] = len({m.duplicate_of for m in matches})

    def decide(self, rows):
        out: list[Optional[_Decision]] = []
        for row in rows:
            m = self.matches.get(row.index)
            out.append(None if m is None else _Decision("remove", "near duplicate", duplicate_of=m.duplicate_of,
                                                        similarity=m.similarity))
        return out


def _blank(text: str) -> bool:
    return not text.strip()


def _empty(message: Message) -> bool:
    """No text and no tool call (an assistant turn that only calls a tool is not empty)."""
    return _blank(message.get("content", "")) and not message.get(TOOL_CALLS_KEY)


class _Empty(_Op):
    def decide(self, rows):
        out: list[Optional[_Decision]] = []
        for row in rows:
            msgs = row.messages
            blank = [m for m in msgs if _empty(m)]
            if not blank:
                out.append(None)
            elif len(blank) == len(msgs):
                self.counts["empty_rows"] = self.counts.get("empty_rows", 0) + 1
                out.append(_Decision("remove", "empty row"))
            elif self.params.messages == "remove_row":
                self.counts["rows_with_empty_messages"] = self.counts.get("rows_with_empty_messages", 0) + 1
                out.append(_Decision("remove", f"{len(blank)} empty message(s)"))
            else:
                kept = with_tools([m for m in msgs if not _empty(m)], split_tools(msgs)[1])
                self.counts["dropped_messages"] = self.counts.get("dropped_messages", 0) + len(blank)
                if not any(m.get("role") == "assistant" for m in kept):
                    out.append(_Decision("remove", "no assistant reply left"))
                else:
                    out.append(_Decision("change", f"dropped {len(blank)} empty message(s)", messages=kept))
        return out


class _Length(_Op):
    def __init__(self, params):
        super().__init__(params)
        self.counter: LengthCounter = counter_for(params.tokenizer)
        self.unit = self.counter.unit
        self.template = None
        if params.measure == "rendered":
            from workbench.data.model_view.template import ChatTemplate

            self.template = ChatTemplate.from_files(self.counter.files)  # type: ignore[arg-type]

    def lengths(self, batch: list[list[Message]]) -> list[int]:
        if self.template is not None:
            from workbench.data.model_view.template import rendered_length

            return rendered_length(self.template, self.counter.tokenizer, batch)
        flat = [m.get("content", "") for msgs in batch for m in msgs]
        sizes = self.counter.lengths(flat)
        out, pos = [], 0
        for msgs in batch:
            out.append(sum(sizes[pos:pos + len(msgs)]))
            pos += len(msgs)
        return out

    def decide(self, rows):
        p = self.params
        out: list[Optional[_Decision]] = []
        for row, n in zip(rows, self.lengths([r.messages for r in rows])):
            if n < p.min_length:
                self.counts["too_short"] = self.counts.get("too_short", 0) + 1
                out.append(_Decision("remove", f"shorter than {p.min_length} {self.unit}", length=n))
            elif p.max_length is not None and n > p.max_length:
                self.counts["too_long"] = self.counts.get("too_long", 0) + 1
                out.append(_Decision("remove", f"longer than {p.max_length} {self.unit}", length=n))
            else:
                out.append(None)
        return out


class _Pii(_Op):
    def __init__(self, params):
        super().__init__(params)
        self.scrubber = Scrubber(tuple(params.kinds), dict(params.placeholders), tuple(params.keep),
                                 params.phone_region)
        self.total = ScrubCounts()
        self._skip_by_row: Optional[dict[int, set[SpanRef]]] = None

    def _row(self, row: StoredRow) -> Optional[_Decision]:
        if self._skip_by_row is None:  # the exclusions by row, built once
            self._skip_by_row = {}
            for ref in self.exclude.spans:
                self._skip_by_row.setdefault(ref.row, set()).add(ref)
        skipped = self._skip_by_row.get(row.index, set())
        counts = ScrubCounts()
        new: list[Message] = []
        done: list[Replacement] = []
        left: set[str] = set()  # values the user chose to keep in this row
        for i, m in enumerate(row.messages):
            if m.get("role") not in self.params.roles:
                new.append(m)
                continue
            text = m.get("content", "")
            matches, invalid = self.scrubber.scan(text)
            counts.luhn_invalid += invalid
            applied = []
            for pm in matches:
                ref = SpanRef(row.index, i, pm.start, pm.end)
                if ref in skipped:
                    self.matched_spans.add(ref)
                    left.add(pm.value)
                    continue
                applied.append(pm)
                setattr(counts, pm.kind, getattr(counts, pm.kind) + 1)
                done.append(Replacement(ref, pm.kind, pm.value, self.scrubber.placeholders.get(pm.kind, "")))
            new.append({**m, "content": self.scrubber.replace(text, applied)} if applied else m)
        # The stored original record is scrubbed too, or the blob would still hold the PII.
        original = row.source
        source = self.scrubber.scrub_value(original, ScrubCounts(), keep=left)
        # A pair's rejected reply is scrubbed as a whole (its spans are not offered one by one).
        rejected = None if row.rejected_json is None else self.scrubber.scrub_value(row.rejected, counts, keep=left)
        self.total.luhn_invalid += counts.luhn_invalid
        if counts.replaced == 0 and source == original:
            return None
        self.total.add(ScrubCounts(counts.email, counts.phone, counts.card))
        replaced = {k: v for k in ("email", "phone", "card") if (v := getattr(counts, k))}
        reason = ", ".join(f"{v} {k}" for k, v in replaced.items()) or "personal data in the source record"
        return _Decision("change", reason, messages=new, source=source, source_changed=True, replaced=replaced,
                         replacements=tuple(done), rejected=rejected)

    def decide(self, rows):
        out: list[Optional[_Decision]] = []
        for row in rows:
            if not any(self.scrubber.may_hold_pii(text) for text in (row.messages_json, row.source_json,
                                                                      row.rejected_json or "")):
                out.append(None)
            else:
                out.append(self._row(row))
        self.counts.update(email=self.total.email, phone=self.total.phone, card=self.total.card,
                           luhn_invalid_left=self.total.luhn_invalid)
        return out


_OPS = {"exact_dedup": _ExactDedup, "near_dedup": _NearDedup, "empty": _Empty, "length": _Length, "pii": _Pii}


def _batches(path: Path, cancel, progress, span) -> Iterator[list[StoredRow]]:
    batch: list[StoredRow] = []
    for row in iter_rows(path, cancel=cancel, progress=progress, span=span, label="Cleaning"):
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_matched(op: str, exclude: Exclusions, rows: set[int], spans: set[SpanRef]) -> None:
    """Every excluded change must name one the operation proposes, or the recorded exclusions
    would not say what was left out (a stale preview, a typo in a row number)."""
    stray_rows = sorted(set(exclude.rows) - rows)
    stray_spans = sorted(set(exclude.spans) - spans)
    if stray_rows or stray_spans:
        named = [f"row {r + 1}" for r in stray_rows[:3]] + [
            f"row {s.row + 1} message {s.message + 1} characters {s.start}-{s.end}" for s in stray_spans[:3]]
        raise DataOpError(
            f"{len(stray_rows) + len(stray_spans)} of the changes to leave out are not changes {op} makes "
            f"({'; '.join(named)}).",
            advice="Preview again and switch off changes from the new preview.")


def run_clean(path: str | Path, op: str, params: Any = None, *, writer: Optional[VersionWriter] = None,
              exclude: Optional[Exclusions] = None, max_examples: int = 200,
              progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> CleanReport:
    """Preview (writer None) or apply (kept and changed rows go to `writer`) one operation,
    without the changes in `exclude` (rows kept as they are, single replacements left)."""
    path = Path(path)
    resolved = resolve_params(op, params)
    exclude = exclude or Exclusions()
    impl: _Op = _OPS[op](resolved)
    impl.exclude = exclude
    span = (0.0, 1.0)
    if impl.global_pass:
        report(progress, 0.0, "Scanning rows")
        impl.prepare(path, progress, cancel)
        span = (0.5, 1.0)
    removed: list[int] = []
    duplicate_of: list[int] = []
    changed: list[int] = []
    examples: list[RowChange] = []
    left_rows: set[int] = set()  # excluded rows that had a proposed change
    excluded_rows = set(exclude.rows)
    total = 0
    for rows in _batches(path, cancel, progress, span):
        for row, d in zip(rows, impl.decide(rows)):
            total += 1
            if d is not None and row.index in excluded_rows:
                left_rows.add(row.index)
                d = None
            if d is None:
                if writer is not None:
                    writer.add(row)
                continue
            if d.action == "remove":
                removed.append(row.index)
                if d.duplicate_of is not None:
                    duplicate_of.append(d.duplicate_of)
            else:
                changed.append(row.index)
                if writer is not None:
                    writer.add(row, d.messages, d.source, source_changed=d.source_changed, rejected=d.rejected)
            if len(examples) < max_examples:
                examples.append(RowChange(row.index, d.action, d.reason, row.messages, d.messages, d.duplicate_of,
                                          d.similarity, d.length, d.replaced, d.replacements))
    _check_matched(op, exclude, left_rows, impl.matched_spans)
    counts = {"rows": total, "kept": total - len(removed), "removed": len(removed), "changed": len(changed),
              **impl.counts}
    if exclude:
        counts.update(left_rows=len(exclude.rows), left_replacements=len(exclude.spans))
    report(progress, 1.0, f"{len(removed):,} rows removed, {len(changed):,} changed")
    return CleanReport(op, params_dict(resolved), total, total - len(removed), removed, changed, counts, examples,
                       len(removed) + len(changed) > len(examples), duplicate_of, impl.unit, exclude)


def apply_clean(path: str | Path, dest_dir: str | Path, op: str, params: Any = None, *,
                exclude: Optional[Exclusions] = None, max_examples: int = 50,
                progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> tuple[CleanReport, WrittenBlob]:
    """Write the cleaned rows as <content_hash>.parquet in dest_dir: (report, written blob).
    Refuses to write a version with no rows."""
    writer = VersionWriter(dest_dir, like=path)
    with writer:
        result = run_clean(path, op, params, writer=writer, exclude=exclude, max_examples=max_examples,
                           progress=progress, cancel=cancel)
        if result.kept_rows == 0:
            raise DataOpError(
                f"{op} would remove all {result.total_rows:,} rows; no version was written.",
                advice="Preview the operation and loosen its parameters.",
            )
        blob = writer.commit()
    return result, blob
