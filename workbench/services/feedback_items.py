"""Feedback as training items: what chat ratings, corrections and arena votes teach.

- a correction: an SFT item (the prompt + the corrected reply) and a preference pair (the
  correction chosen over the model's reply);
- a reply its rater found good (thumbs up or 4-5, and not also rated bad): an SFT item;
- an arena vote for side X: one pair per other side (X's reply chosen over that side's reply).
  The round's sides are in DISPLAY order (shuffled when blind): each side's ArenaSide.target
  names the model that really wrote it, so the pair names the right models. A tie or "both
  bad" makes no pair.

The latest feedback of each kind per rater, and the latest vote per rater and round, count.
The prompt is the system prompt plus the conversation up to the user turn the reply answers.
Reads whole conversations: call it off the GUI thread.
"""

from __future__ import annotations

from typing import Optional

from workbench.core.chat_records import Feedback, Turn, Vote
from workbench.core.feedback_records import GOOD_SCALE, FeedbackItem, Provenance
from workbench.store import ProjectStore

Message = dict[str, str]


def latest_feedback(records) -> dict[tuple[str, str, str], Feedback]:
    """The record that counts for each (message, rater, kind): the latest (records come oldest first)."""
    out: dict[tuple[str, str, str], Feedback] = {}
    for record in records:
        out[(record.message_id, record.rater, record.kind)] = record
    return out


def latest_votes(votes: list[Vote]) -> list[Vote]:
    """The vote that counts for each (round, rater): the latest."""
    out: dict[tuple[str, str], Vote] = {}
    for vote in votes:
        out[(vote.round_id, vote.rater)] = vote
    return list(out.values())


class _Conversations:
    """Turns and system prompts of the conversations read so far (each is read once)."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store
        self._turns: dict[str, dict[str, Turn]] = {}
        self._system: dict[str, str] = {}

    def _load(self, session_id: str) -> dict[str, Turn]:
        if session_id not in self._turns:
            self._turns[session_id] = {t.id: t for t in self.store.turns(session_id)}
            conv = self.store.get_conversation(session_id)
            system = conv.system_prompt
            if not system and conv.arena_id:  # an arena side may keep the system prompt on its arena only
                system = self.store.get_arena(conv.arena_id).system_prompt
            self._system[session_id] = system
        return self._turns[session_id]

    def turn(self, session_id: str, message_id: Optional[str]) -> Optional[Turn]:
        return self._load(session_id).get(message_id) if message_id else None

    def prompt(self, reply: Turn) -> tuple[Message, ...]:
        """The system prompt and the branch up to the turn `reply` answers."""
        turns = self._load(reply.session_id)
        path: list[Turn] = []
        at, seen = reply.parent_id, set()
        while at is not None and at in turns and at not in seen:
            seen.add(at)
            path.append(turns[at])
            at = turns[at].parent_id
        system = self._system[reply.session_id]
        head = [{"role": "system", "content": system}] if system else []
        return tuple(head + [{"role": t.role, "content": t.content} for t in reversed(path)])


def _reply(text: str) -> tuple[Message, ...]:
    return ({"role": "assistant", "content": text},)


def _usable(prompt: tuple[Message, ...]) -> bool:
    return bool(prompt) and prompt[-1]["role"] == "user"


def _from_feedback(convs: _Conversations, records: list[Feedback]) -> list[FeedbackItem]:
    latest = latest_feedback(records)
    items: list[FeedbackItem] = []
    by_reply: dict[tuple[str, str], dict[str, Feedback]] = {}
    for (message_id, rater, kind), record in latest.items():
        by_reply.setdefault((message_id, rater), {})[kind] = record
    for (message_id, rater), kinds in by_reply.items():
        any_record = next(iter(kinds.values()))
        reply = convs.turn(any_record.session_id, message_id)
        if reply is None or reply.role != "assistant":
            continue
        prompt = convs.prompt(reply)
        if not _usable(prompt):
            continue

        def provenance(record: Feedback, origin: str) -> Provenance:
            # models: the model whose reply was rated or corrected (a correction is the rater's text)
            return Provenance(origin=origin, session_id=reply.session_id, message_ids=(message_id,),
                              models=(reply.model_key or "",), settings=dict(reply.settings), rater=rater,
                              at=record.created_at, feedback_id=record.id)

        correction = kinds.get("correction")
        if correction is not None and correction.correction and correction.correction.strip():
            fixed = _reply(correction.correction)
            items.append(FeedbackItem(f"fb:{correction.id}", "sft", prompt, fixed,
                                      provenance(correction, "correction")))
            if correction.correction.strip() != reply.content.strip() and reply.content.strip():
                items.append(FeedbackItem(f"fb:{correction.id}:pair", "preference", prompt, fixed,
                                          provenance(correction, "correction"),
                                          rejected=_reply(reply.content)))
            continue  # the correction is the reply to learn; the original's rating adds nothing
        thumbs, scale = kinds.get("thumbs"), kinds.get("scale")
        thumb = thumbs.value if thumbs is not None else None
        stars = scale.value if scale is not None else None
        good = thumb == 1 or (stars is not None and stars >= GOOD_SCALE)
        bad = thumb == -1 or (stars is not None and stars <= 2)
        if good and not bad and reply.content.strip():
            record = max((r for r in (thumbs, scale) if r is not None and r.value is not None),
                         key=lambda r: r.created_at)
            items.append(FeedbackItem(f"fb:{record.id}", "sft", prompt, _reply(reply.content),
                                      provenance(record, "rated_good")))
    return items


def _from_votes(store: ProjectStore, convs: _Conversations) -> list[FeedbackItem]:
    rounds = {r.id: r for r in store.rounds()}
    items: list[FeedbackItem] = []
    for vote in latest_votes(store.votes()):
        winner_at = vote.winner_position()
        rnd = rounds.get(vote.round_id)
        if winner_at is None or rnd is None:
            continue  # a tie or "both bad" says no side is better
        sides = {s.position: s for s in rnd.sides}
        winner = sides.get(winner_at)
        chosen = convs.turn(winner.session_id, winner.message_id) if winner else None
        if chosen is None or not chosen.content.strip():
            continue
        prompt = convs.prompt(chosen)
        if not _usable(prompt):
            continue
        for loser in rnd.sides:
            if loser.position == winner_at:
                continue
            rejected = convs.turn(loser.session_id, loser.message_id)
            if rejected is None or not rejected.content.strip() or rejected.content.strip() == chosen.content.strip():
                continue  # no reply, or the same text: the pair would teach nothing
            items.append(FeedbackItem(
                f"vote:{vote.id}:{loser.position}", "preference", prompt, _reply(chosen.content),
                Provenance(origin="vote", session_id=winner.session_id, message_ids=(chosen.id, rejected.id),
                           models=(winner.target, loser.target), settings=dict(chosen.settings),
                           rater=vote.rater, at=vote.created_at, blind=vote.blind, round_id=rnd.id,
                           vote_id=vote.id),
                rejected=_reply(rejected.content)))
    return items


def feedback_items(store: ProjectStore, kind: Optional[str] = None) -> list[FeedbackItem]:
    """Every training item the project's feedback makes (newest first); `kind`: "sft" or
    "preference" only."""
    convs = _Conversations(store)
    items = _from_feedback(convs, store.list_feedback()) + _from_votes(store, convs)
    if kind is not None:
        items = [i for i in items if i.kind == kind]
    return sorted(items, key=lambda i: (i.provenance.at, i.id), reverse=True)


def target_titles(store: ProjectStore, keys) -> dict[str, str]:
    """A readable name for each ChatTarget key: the base model's name, the run's name, and the
    checkpoint ("SmolLM2-135M", "support-lora-1", "support-lora-1 @ checkpoint-40"); a key whose
    model or run is gone keeps its key."""
    from workbench.core.chat_records import ChatTarget

    models = {m.id: m.name for m in store.list_base_models()}
    runs = {r.id: r.name for r in store.list_runs()}
    out = {}
    for key in keys:
        target = ChatTarget.from_key(key)
        if target.run_id:
            name = runs.get(target.run_id, key)
            out[key] = f"{name} @ {target.checkpoint}" if target.checkpoint and name != key else name
        else:
            out[key] = models.get(target.base_model_id, key)
    return out
