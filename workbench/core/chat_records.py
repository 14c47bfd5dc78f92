"""Records of chat testing (issue 11): sampling settings, what a chat talks to, conversations as
trees, feedback on replies, arenas (the same prompt to 2-4 models), rounds, and votes.

One source for the choices: feedback kinds, vote outcomes, dataset kinds and training methods
are defined here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

# -- choices --------------------------------------------------------------------------------------
# What a dataset version holds: SFT conversations, or preference pairs (prompt, chosen, rejected).
DATASET_KINDS = ("sft", "preference")
# How a run trains: supervised fine-tuning, or from preference pairs through TRL's trainers.
TRAIN_METHODS = ("sft", "dpo", "orpo", "kto")
PREFERENCE_METHODS = ("dpo", "orpo", "kto")
# Feedback on one reply. thumbs: value +1 / -1; scale: 1..5; a correction carries the user's text.
FEEDBACK_KINDS = ("thumbs", "scale", "correction")
# A vote on an arena round. "a".."d": that side (display position) is best; tie: all equally good;
# both_bad: none is acceptable.
SIDE_LETTERS = ("a", "b", "c", "d")
VOTE_OUTCOMES = (*SIDE_LETTERS, "tie", "both_bad")
MAX_ARENA_SIDES = 4


# -- sampling -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SamplingSettings:
    """How one reply is generated. temperature 0: greedy (top_p/top_k unused); seed None: random."""

    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    repetition_penalty: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()  # stop strings (the text is cut before them)
    seed: Optional[int] = None

    def problems(self) -> list[str]:
        out = []
        if not 0.0 <= self.temperature <= 5.0:
            out.append("Temperature must be between 0 and 5 (0: always the most likely token).")
        if not 0.0 < self.top_p <= 1.0:
            out.append("Top-p must be in (0, 1] (1: off).")
        if self.top_k < 0:
            out.append("Top-k cannot be negative (0: off).")
        if not 0.5 <= self.repetition_penalty <= 3.0:
            out.append("Repetition penalty must be between 0.5 and 3 (1: off).")
        if self.max_new_tokens < 1:
            out.append("Max new tokens must be at least 1.")
        if any(not isinstance(s, str) or not s for s in self.stop):
            out.append("Stop strings cannot be empty.")
        return out

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: Optional[dict[str, Any]]) -> "SamplingSettings":
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if "stop" in data:
            data["stop"] = tuple(str(s) for s in (data["stop"] or ()))
        return cls(**data)


@dataclass(frozen=True)
class ChatTarget:
    """What a chat talks to: a base model, a run's adapter, or one kept checkpoint of a run."""

    base_model_id: str
    run_id: Optional[str] = None
    checkpoint: Optional[str] = None  # a checkpoint-N folder name of the run; None: its final adapter

    @property
    def key(self) -> str:
        """One string per target (stored on messages, votes and presets)."""
        return ":".join((self.base_model_id, self.run_id or "", self.checkpoint or ""))

    @classmethod
    def from_key(cls, key: str) -> "ChatTarget":
        base, run, checkpoint = (key.split(":") + ["", ""])[:3]
        return cls(base, run or None, checkpoint or None)


# -- conversations --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conversation:
    """A chat session: a tree of messages (each has a parent; `head_id` is the branch shown)."""

    id: str
    title: str
    base_model_id: str
    run_id: Optional[str]
    created_at: str
    created_by: str
    checkpoint: Optional[str] = None
    system_prompt: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # SamplingSettings.to_dict()
    head_id: Optional[str] = None  # the last message of the branch shown
    arena_id: Optional[str] = None  # set when the conversation is one side of an arena
    updated_at: Optional[str] = None

    @property
    def target(self) -> ChatTarget:
        return ChatTarget(self.base_model_id, self.run_id, self.checkpoint)


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, with how an assistant reply was made."""

    id: str
    session_id: str
    idx: int  # creation order within the conversation
    role: str
    content: str
    created_at: str
    created_by: str
    parent_id: Optional[str] = None  # the message this one answers or follows; None: the first
    model_key: Optional[str] = None  # ChatTarget.key of the model that wrote an assistant reply
    settings: dict[str, Any] = field(default_factory=dict)  # SamplingSettings.to_dict() of a reply
    prompt_tokens: Optional[int] = None
    tokens: Optional[int] = None  # tokens generated
    seconds: Optional[float] = None
    ttft: Optional[float] = None  # seconds to the first token
    finish_reason: Optional[str] = None  # stop | length | interrupted


@dataclass(frozen=True)
class Feedback:
    """A person's feedback on one assistant reply. Kept as history: the latest per
    (rater, message, kind) counts."""

    id: str
    message_id: str
    session_id: str
    kind: str  # FEEDBACK_KINDS
    rater: str
    created_at: str
    created_by: str
    value: Optional[float] = None  # thumbs +1/-1, scale 1..5
    tags: tuple[str, ...] = ()
    comment: str = ""
    correction: Optional[str] = None  # the reply as it should have been (kind correction)


# -- arena ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arena:
    """Two to four models answering the same prompts side by side."""

    id: str
    title: str
    targets: tuple[str, ...]  # ChatTarget keys, in the order the user picked them
    blind: bool
    created_at: str
    created_by: str
    settings: dict[str, Any] = field(default_factory=dict)
    system_prompt: str = ""


@dataclass(frozen=True)
class ArenaSide:
    """One side of a round: which display position showed which model's reply."""

    position: int  # 0 = A, 1 = B, ... as shown
    target: str  # ChatTarget key
    session_id: str  # that side's conversation
    message_id: Optional[str] = None  # the reply (None until it is written)


@dataclass(frozen=True)
class ArenaRound:
    """One prompt sent to every side of an arena; sides are in display order (shuffled when blind)."""

    id: str
    arena_id: str
    idx: int
    prompt: str
    sides: tuple[ArenaSide, ...]
    blind: bool
    created_at: str
    created_by: str
    revealed: bool = False  # names shown (after the vote, or a non-blind round)


@dataclass(frozen=True)
class Vote:
    """A vote on a round. `blind`: cast while the names were hidden (only those count for the
    leaderboard's blind figures)."""

    id: str
    round_id: str
    arena_id: str
    outcome: str  # VOTE_OUTCOMES
    rater: str
    blind: bool
    created_at: str
    created_by: str
    comment: str = ""

    def winner_position(self) -> Optional[int]:
        return SIDE_LETTERS.index(self.outcome) if self.outcome in SIDE_LETTERS else None
