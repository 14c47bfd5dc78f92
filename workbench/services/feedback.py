"""Feedback on chat replies: rate and correct a reply (the rating dialog), and the way feedback
becomes data (feedback_items in services/feedback_items.py, make_version / export_feedback in
services/feedback_data.py: re-exported here so callers import one module).

Feedback is history (the store never overwrites it): saving writes one small record per kind
that changed, and the latest record of each kind per rater counts. A record with no value
(thumbs/scale None, correction None) withdraws that kind.
"""

from __future__ import annotations

from typing import Iterable, Optional

from workbench.core.chat_records import Feedback
from workbench.core.errors import WorkbenchError
from workbench.core.feedback_records import MessageRating
from workbench.services.feedback_data import export_feedback, make_version
from workbench.services.feedback_items import feedback_items, latest_feedback, target_titles
from workbench.store import ProjectStore

__all__ = ["message_rating", "save_rating", "latest_feedback", "parse_tags", "feedback_items",
           "target_titles", "make_version", "export_feedback"]


def parse_tags(text: str) -> tuple[str, ...]:
    """Comma-separated tags, trimmed, empty ones dropped, each once (first spelling kept)."""
    out: list[str] = []
    for tag in text.split(","):
        tag = " ".join(tag.split())
        if tag and tag.casefold() not in {t.casefold() for t in out}:
            out.append(tag)
    return tuple(out)


def message_rating(store: ProjectStore, message_id: str, rater: Optional[str] = None) -> MessageRating:
    """`rater`'s current feedback on a reply (default: the project's user). Indexed reads only."""
    rater = rater or store.user
    turn = store.get_turn(message_id)
    if turn.role != "assistant":
        raise WorkbenchError("Only a model's reply can be rated.",
                             details=f"message {message_id} is a {turn.role} turn")
    mine = [f for f in store.list_feedback(message_ids=[message_id]) if f.rater == rater]
    latest = latest_feedback(mine)
    thumbs = latest.get((message_id, rater, "thumbs"))
    scale = latest.get((message_id, rater, "scale"))
    correction = latest.get((message_id, rater, "correction"))
    last = mine[-1] if mine else None  # tags and comment travel with the newest record
    return MessageRating(
        message_id=message_id, reply=turn.content, rater=rater,
        thumbs=int(thumbs.value) if thumbs is not None and thumbs.value is not None else None,
        scale=int(scale.value) if scale is not None and scale.value is not None else None,
        tags=last.tags if last else (), comment=last.comment if last else "",
        correction=correction.correction if correction is not None else None)


def _problems(thumbs: Optional[int], scale: Optional[int], correction: Optional[str]) -> list[str]:
    out = []
    if thumbs not in (None, 1, -1):
        out.append("A thumb is up (+1) or down (-1).")
    if scale is not None and not 1 <= scale <= 5:
        out.append("A rating is from 1 to 5.")
    if correction is not None and not correction.strip():
        out.append("A correction cannot be empty (clear it to withdraw it).")
    return out


def save_rating(store: ProjectStore, message_id: str, *, thumbs: Optional[int] = None,
                scale: Optional[int] = None, tags: Iterable[str] = (), comment: str = "",
                correction: Optional[str] = None, rater: Optional[str] = None) -> list[Feedback]:
    """Make `rater`'s feedback on the reply what is given (None: none of that kind) and return the
    records written: one per kind that changed, none when nothing did. A correction equal to
    the reply is no correction. Tags and comment ride on the records written (on a thumbs
    record when they alone changed)."""
    current = message_rating(store, message_id, rater)
    if correction is not None and correction.strip() == current.reply.strip():
        correction = None
    problems = _problems(thumbs, scale, correction)
    if problems:
        raise WorkbenchError("This feedback cannot be saved.", details="\n".join(problems),
                             advice=" ".join(problems))
    tags, comment = tuple(tags), comment.strip()
    changed = [kind for kind, new, old in (("thumbs", thumbs, current.thumbs), ("scale", scale, current.scale),
                                           ("correction", correction, current.correction)) if new != old]
    if not changed and (tags, comment) != (current.tags, current.comment):
        changed = ["thumbs"]
    values = {"thumbs": thumbs, "scale": scale}
    return [store.add_feedback(message_id, kind, rater=current.rater, value=values.get(kind), tags=tags,
                               comment=comment, correction=correction if kind == "correction" else None)
            for kind in changed]

