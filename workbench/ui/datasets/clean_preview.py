"""What the Clean dialog shows of a preview: one line per proposed change (a removed or
changed row, or, for personal data, each single replacement), each of which the user can
switch off, and the before/after texts of a row with the changes that stay on."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Collection, Hashable, Optional

from workbench.ui.common import theme

_CELL_CHARS = 140


def _short(text: str, limit: int = _CELL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changed_part(before: str, after: str) -> tuple[int, int, int]:
    """(common prefix length, end of the changed part in before, in after)."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    return start, len(before) - end, len(after) - end


def change_summary(before: list[dict[str, str]], after: Optional[list[dict[str, str]]]) -> tuple[str, str]:
    """Short before/after texts for a table cell: the changed fragments with some context."""
    if after is None:
        first = next((m["content"] for m in before if m.get("role") == "user"), before[0]["content"] if before else "")
        return _short(first), "(removed)"
    if len(before) != len(after):
        dropped = len(before) - len(after)
        return (_short(" | ".join(f"{m['role']}: {m['content']}" for m in before)),
                f"{dropped} message(s) dropped" if dropped > 0 else _short(" | ".join(m["content"] for m in after)))
    parts_b, parts_a = [], []
    for b, a in zip(before, after):
        x, y = b.get("content", ""), a.get("content", "")
        if x == y:
            continue
        start, end_b, end_a = changed_part(x, y)
        head = x[max(0, start - 25):start]
        parts_b.append(f"…{head}{x[start:end_b]}{x[end_b:end_b + 25]}…")
        parts_a.append(f"…{head}{y[start:end_a]}{y[end_a:end_a + 25]}…")
    return _short(" | ".join(parts_b)), _short(" | ".join(parts_a))


def _marked(text: str, start: int, end: int, color: str) -> str:
    return (html.escape(text[:start]) + f"<span style='background-color:{color}'>"
            + html.escape(text[start:end]) + "</span>" + html.escape(text[end:])).replace("\n", "<br>")


def example_html(change: Any, off: Collection[Hashable] = ()) -> str:
    """Before and after of one affected row, the changed text highlighted; `off`: the
    changes switched off (ChangeLine keys), not shown as made."""
    colors = theme.colors()
    removed_bg, added_bg = "rgba(239,68,68,0.35)", "rgba(34,197,94,0.35)"
    lines = [f"<p><b>Row {change.index + 1}</b> — {html.escape(change.action)}: {html.escape(change.reason)}"]
    if change.duplicate_of is not None:
        lines.append(f" (duplicate of row {change.duplicate_of + 1}"
                     + (f", similarity {change.similarity:.2f}" if change.similarity is not None else "") + ")")
    if change.length is not None:
        lines.append(f" (length {change.length:,})")
    lines.append("</p>")
    after = effective_after(change, off)
    if change.index in off:
        lines.append(f"<p style='color:{colors.muted_text}'>Switched off: this row stays as it is.</p>")
    if after is None:  # removed: the whole conversation, struck out
        for m in change.before:
            lines.append(f"<p><b>{html.escape(str(m.get('role', '')))}</b>: <span style='color:{colors.muted_text}'>"
                         f"<s>{html.escape(str(m.get('content', ''))).replace(chr(10), '<br>')}</s></span></p>")
        return "".join(lines)
    # Changed: the changed and dropped messages first (with their edits marked), then how
    # many stayed as they were.
    same = 0
    for i, m in enumerate(change.before):
        role = html.escape(str(m.get("role", "")))
        text = str(m.get("content", ""))
        if len(after) == len(change.before):
            new = str(after[i].get("content", ""))
        else:
            new = text if m in after else None  # drop_message: kept as they were, or dropped
        if new is None:
            lines.append(f"<p><b>{role}</b> (message {i + 1}) dropped: <span style='background-color:{removed_bg}'>"
                         f"{html.escape(text) or '(empty)'}</span></p>")
        elif new == text:
            same += 1
        else:
            start, end_b, end_a = changed_part(text, new)
            lines.append(f"<p><b>{role}</b> (message {i + 1}) before:<br>{_marked(text, start, end_b, removed_bg)}"
                         f"<br><b>after:</b><br>{_marked(new, start, end_a, added_bg)}</p>")
    if same:
        lines.append(f"<p style='color:{colors.muted_text}'>{same} other message(s) unchanged.</p>")
    return "".join(lines)


@dataclass(frozen=True)
class ChangeLine:
    """One line of the preview table: `key` is what switching it off excludes, the row's index
    (a whole row) or a replacement's SpanRef (that value only)."""

    key: Hashable
    example: int  # index into report.examples
    row: int
    action: str
    reason: str
    before: str
    after: str


def _context(text: str, start: int, end: int, middle: str, width: int = 20) -> str:
    head = ("…" if start > width else "") + text[max(0, start - width):start]
    tail = text[end:end + width] + ("…" if end + width < len(text) else "")
    return _short(head + middle + tail)


def change_lines(report: Any) -> list[ChangeLine]:
    """The preview's lines: each replacement of a scrubbed row on its own, every other change
    (and a row changed only in its stored source record) as a whole row."""
    lines: list[ChangeLine] = []
    for n, ex in enumerate(report.examples):
        if ex.replacements:
            for r in ex.replacements:
                text = str(ex.before[r.ref.message].get("content", ""))
                role = ex.before[r.ref.message].get("role", "")
                lines.append(ChangeLine(r.ref, n, ex.index, "replace", f"{r.kind} in {role} message",
                                        _context(text, r.ref.start, r.ref.end, r.value),
                                        _context(text, r.ref.start, r.ref.end, r.placeholder)))
            continue
        reason = ex.reason
        if ex.duplicate_of is not None:
            reason += f" of row {ex.duplicate_of + 1}"
            if ex.similarity is not None:
                reason += f" ({ex.similarity:.2f})"
        if ex.length is not None:
            reason += f" ({ex.length:,})"
        before, after = change_summary(ex.before, ex.after if ex.action == "change" else None)
        lines.append(ChangeLine(ex.index, n, ex.index, ex.action, reason, before, after))
    return lines


def effective_after(change: Any, off: Collection[Hashable]) -> Optional[list[dict[str, str]]]:
    """The row's messages after the changes that are still on: None for a removal that stays
    on; the messages as they were when the row (or each of its replacements) is off."""
    if change.index in off:
        return [dict(m) for m in change.before]
    if not change.replacements:
        return change.after
    out = []
    for i, m in enumerate(change.before):
        text = str(m.get("content", ""))
        on = sorted((r for r in change.replacements if r.ref.message == i and r.ref not in off),
                    key=lambda r: r.ref.start)
        parts, pos = [], 0
        for r in on:
            parts += [text[pos:r.ref.start], r.placeholder]
            pos = r.ref.end
        out.append({**m, "content": "".join(parts) + text[pos:]})
    return out
