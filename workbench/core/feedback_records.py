"""Records of feedback turned into data (issue 11): one person's rating of a reply as the rating
dialog shows it, the training items feedback becomes (SFT rows and preference pairs, each with
its provenance), and what making a dataset version from them did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

# Where an item came from: a correction, a reply rated good (thumbs up or 4-5), an arena vote.
ITEM_ORIGINS = ("correction", "rated_good", "vote")
GOOD_SCALE = 4  # a 1-5 rating at or above this makes the reply an SFT item


@dataclass(frozen=True)
class MessageRating:
    """One rater's current feedback on one reply (the latest of each kind counts).
    thumbs: +1 / -1 / None; scale: 1..5 / None; correction: None when there is none."""

    message_id: str
    reply: str  # the reply's text as the model wrote it
    rater: str
    thumbs: Optional[int] = None
    scale: Optional[int] = None
    tags: tuple[str, ...] = ()
    comment: str = ""
    correction: Optional[str] = None

    @property
    def empty(self) -> bool:
        return (self.thumbs is None and self.scale is None and not self.tags and not self.comment
                and self.correction is None)


@dataclass(frozen=True)
class Provenance:
    """Where a training item came from: the chat turn(s), the models, how the replies were made,
    who judged them, when, and whether the names were hidden then."""

    origin: str  # ITEM_ORIGINS
    session_id: str
    message_ids: tuple[str, ...]  # the chosen reply first, then the rejected one (if any)
    models: tuple[str, ...]  # ChatTarget keys, in the same order as message_ids
    settings: dict[str, Any]  # SamplingSettings.to_dict() of the chosen reply
    rater: str
    at: str  # rated_at (feedback) or voted_at (a vote)
    blind: bool = False  # a vote cast while the names were hidden
    round_id: Optional[str] = None
    feedback_id: Optional[str] = None
    vote_id: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "origin": self.origin, "session_id": self.session_id, "message_ids": list(self.message_ids),
            "round_id": self.round_id, "models": list(self.models), "settings": dict(self.settings),
            "rater": self.rater, "blind": self.blind,
        }
        if self.vote_id is not None:
            out["vote_id"] = self.vote_id
            out["voted_at"] = self.at
        else:
            out["feedback_id"] = self.feedback_id
            out["rated_at"] = self.at
        return out


@dataclass(frozen=True)
class FeedbackItem:
    """One training item made from feedback. kind "sft": prompt + chosen is the row; kind
    "preference": prompt, chosen and rejected make a pair. prompt ends with a user turn (the
    system prompt first when there is one); chosen / rejected are assistant turns."""

    id: str  # stable: "fb:<feedback id>", "fb:<feedback id>:pair", "vote:<vote id>:<loser position>"
    kind: str  # DATASET_KINDS
    prompt: tuple[dict[str, str], ...]
    chosen: tuple[dict[str, str], ...]
    provenance: Provenance
    rejected: tuple[dict[str, str], ...] = ()

    @property
    def messages(self) -> list[dict[str, str]]:
        """The stored shape: the prompt followed by the chosen reply."""
        return [dict(m) for m in (*self.prompt, *self.chosen)]

    def row(self) -> dict[str, Any]:
        """The row create_version_from_rows takes."""
        out: dict[str, Any] = {"messages": self.messages, "source": self.provenance.to_dict()}
        if self.kind == "preference":
            out["rejected"] = [dict(m) for m in self.rejected]
        return out


@dataclass(frozen=True)
class Leak:
    """An item whose prompt is (nearly) an eval suite's item: training on it would inflate that
    suite's scores."""

    item_id: str
    suite: str  # the suite's title ("name vN")
    similarity: float  # 1.0: the same prompt


@dataclass(frozen=True)
class VersionResult:
    """What make_version did: the version written (None when no row was left), the rows written,
    the items dropped as duplicates of the project's data (or of each other), and the leaks."""

    version_id: Optional[str]
    dataset_id: Optional[str]
    kind: str
    written: int
    duplicates: tuple[str, ...] = ()  # item ids
    leaks: tuple[Leak, ...] = ()
    leaks_dropped: bool = True
    skipped: tuple[str, ...] = field(default_factory=tuple)  # items of the other kind

    def summary(self) -> str:
        parts = [f"{self.written} row{'s' if self.written != 1 else ''} written"]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} dropped as duplicates of existing data")
        if self.leaks:
            suites = ", ".join(sorted({leak.suite for leak in self.leaks}))
            verb = "dropped" if self.leaks_dropped else "kept but flagged"
            parts.append(f"{len(self.leaks)} {verb}: they match eval suite items ({suites})")
        if self.skipped:
            parts.append(f"{len(self.skipped)} of the other kind left out")
        return "; ".join(parts) + "."
