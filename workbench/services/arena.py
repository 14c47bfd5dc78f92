"""The arena: one prompt to two to four models at once, streaming side by side, and a vote.

One chat child per distinct base model, with the adapters of every side on that base loaded
by name (a base-model side uses the base with adapters disabled), so a base model and its
adapters share one loaded copy: several sides on one child go out as one `generate_many`.
Each side keeps its own conversation in the project (store.add_conversation(arena_id=...)).

Blind mode shuffles which side shows at which display position (A, B, ...) every round, from a
seeded random generator, and stores the order in the round (ArenaRound.sides, display order):
the names stay hidden until the vote reveals them, so feedback and the leaderboard un-shuffle
votes by ArenaSide.target. A vote cast after the reveal is stored as not blind.

Never blocks: requests go to the children's stdin, poll() returns the events that arrived,
tagged with the display position (call it from a timer or a loop).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Optional

from workbench.core.chat_records import (
    MAX_ARENA_SIDES,
    SIDE_LETTERS,
    VOTE_OUTCOMES,
    ArenaRound,
    ArenaSide,
    ChatTarget,
    Conversation,
    SamplingSettings,
    Turn,
    Vote,
)
from workbench.core.clock import new_id
from workbench.core.errors import JobError, WorkbenchError
from workbench.services.chat_child import ChatChild, adapter_folder
from workbench.store import ProjectStore

MIN_ARENA_SIDES = 2


@dataclass(frozen=True)
class ArenaEvent:
    """What poll() reports. kind: ready (every model loaded; position None), token (text of a
    side's reply), done (a side's reply is stored: message_id), failed (a side's reply or a
    model failed: error; position None before any round), round_done (every side finished)."""

    kind: str
    position: Optional[int] = None  # display position: 0 = A, 1 = B, ...
    text: str = ""
    message_id: Optional[str] = None
    error: Optional[WorkbenchError] = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Side:
    """One model of the arena, in the order the user picked them."""

    index: int
    target: ChatTarget
    name: str
    adapter: Optional[str]  # the adapter's name in its child; None: the base model
    session: Conversation


def letter(position: int) -> str:
    return SIDE_LETTERS[position].upper()


class ArenaSession:
    """States: new -> starting -> ready <-> generating; failed or closed at the end."""

    def __init__(self, store: ProjectStore, targets: list[ChatTarget], blind: bool,
                 settings: Optional[SamplingSettings] = None, system_prompt: str = "", *,
                 seed: Optional[int] = None, title: str = "") -> None:
        """Stores the arena and one conversation per side (quick indexed writes); start() loads
        the models. `seed`: the blind shuffle's seed (None: a random one)."""
        targets = list(targets)
        if not MIN_ARENA_SIDES <= len(targets) <= MAX_ARENA_SIDES:
            raise WorkbenchError(f"An arena compares {MIN_ARENA_SIDES} to {MAX_ARENA_SIDES} models; "
                                 f"{len(targets)} {'was' if len(targets) == 1 else 'were'} picked.",
                                 advice="Pick two, three or four models.")
        keys = [t.key for t in targets]
        if len(set(keys)) != len(keys):
            raise WorkbenchError("The same model is picked twice.",
                                 advice="Pick different models (a base model, its adapters or checkpoints).")
        self.settings = settings or SamplingSettings()
        problems = self.settings.problems()
        if problems:
            raise WorkbenchError("These generation settings cannot be used.", details="\n".join(problems),
                                 advice=problems[0])
        from workbench.services.chat import target_choice

        self.store = store
        self.blind = bool(blind)
        self.system_prompt = system_prompt
        choices = [target_choice(store, t) for t in targets]  # unknown models or runs: a clear error
        for choice in choices:
            run = store.get_run(choice.run_id) if choice.run_id else None
            if run is not None and run.base_model_id != choice.base_model_id:
                raise WorkbenchError(f"Run {run.name}'s adapter was trained on another base model.")
        self.arena = store.add_arena(title or " vs ".join(c.name for c in choices), keys, blind=self.blind,
                                     settings=self.settings.to_dict(), system_prompt=system_prompt)
        self.sides: list[_Side] = []
        for index, (target, choice) in enumerate(zip(targets, choices)):
            adapter = None if target.run_id is None else f"side{index}"
            self.sides.append(_Side(index, target, choice.name, adapter, self._conversation(target, choice.name)))
        self._rng = random.Random(seed)
        self._children: dict[str, ChatChild] = {}  # base model id -> child
        self.state = "new"
        self.error: Optional[WorkbenchError] = None
        self.round: Optional[ArenaRound] = None  # the latest round
        self.order: list[int] = []  # display position -> side index, for the latest round
        self.outcomes: dict[int, str] = {}  # display position -> done | failed (latest round)
        self.replies: dict[int, str] = {}  # display position -> reply text so far (latest round)
        self._requests: dict[str, tuple[str, dict[Optional[str], int]]] = {}  # id -> (child, key -> position)
        self._parents: dict[int, str] = {}  # display position -> the user turn it answers
        self._voted: set[str] = set()  # rounds voted on in this session

    def _conversation(self, target: ChatTarget, name: str) -> Conversation:
        return self.store.add_conversation(f"Arena: {name}", target.base_model_id, target.run_id,
                                           checkpoint=target.checkpoint, system_prompt=self.system_prompt,
                                           settings=self.settings.to_dict(), arena_id=self.arena.id)

    # -- loading ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start one child per base model (the load happens in the child; poll() says ready).
        Resolves adapter folders: a missing one is a clear error before anything starts."""
        groups: dict[str, dict[str, str]] = {}
        for side in self.sides:
            adapters = groups.setdefault(side.target.base_model_id, {})
            if side.adapter is not None:
                folder = adapter_folder(self.store, side.target)
                if folder is None or not os.path.isdir(folder):
                    raise WorkbenchError(f"The adapter of {side.name} is missing.", details=str(folder),
                                         advice="Pick a finished run that still has its adapter.")
                adapters[side.adapter] = folder
        try:
            for base_id, adapters in groups.items():
                model = self.store.get_base_model(base_id)
                work = self.store.abspath(os.path.join("chat", new_id()))
                os.makedirs(work, exist_ok=True)
                self._children[base_id] = ChatChild(model.path, adapters, work).start()
        except Exception:
            self.close()
            raise
        self.state = "starting"

    @property
    def children(self) -> list[ChatChild]:
        return list(self._children.values())

    # -- what is shown ---------------------------------------------------------------------------
    @property
    def revealed(self) -> bool:
        """The names of the latest round may be shown (not blind, or voted)."""
        return self.round is None and not self.blind or self.round is not None and self.round.revealed

    def side_at(self, position: int) -> _Side:
        """The side shown at a display position in the latest round (before any round: the
        picked order)."""
        return self.sides[self.order[position] if self.order else position]

    def label(self, position: int) -> str:
        """"Model A" while the names are hidden, else "A — name"."""
        if not self.revealed:
            return f"Model {letter(position)}"
        return f"{letter(position)} — {self.side_at(position).name}"

    def history(self, position: int) -> list[Turn]:
        """The conversation shown at a position: that side's branch (without the reply being
        generated)."""
        return self.store.branch(self.side_at(position).session.id)

    def _messages(self, side: _Side, upto: str) -> list[dict[str, str]]:
        out = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return out + [{"role": t.role, "content": t.content} for t in self.store.branch(side.session.id, upto)]

    @property
    def round_complete(self) -> bool:
        return self.round is not None and len(self.outcomes) == len(self.sides)

    @property
    def can_vote(self) -> bool:
        """Every side of the latest round wrote its reply and it is not voted on yet."""
        return (self.round_complete and all(o == "done" for o in self.outcomes.values())
                and self.round is not None and self.round.id not in self._voted)

    # -- a round ---------------------------------------------------------------------------------
    def send(self, prompt: str) -> ArenaRound:
        """Send one prompt to every side (a new round)."""
        if not prompt.strip():
            raise WorkbenchError("Type a prompt first.")
        if self.state != "ready":
            raise WorkbenchError(f"The arena is not ready for a prompt (state: {self.state}).",
                                 advice="Wait for the models to load, or stop the current replies first.")
        order = list(range(len(self.sides)))
        if self.blind:
            self._rng.shuffle(order)
        parents: dict[int, str] = {}
        arena_sides = []
        for position, index in enumerate(order):
            side = self.sides[index]
            head = self.store.get_conversation(side.session.id).head_id
            turn = self.store.add_turn(side.session.id, "user", prompt, parent_id=head)
            parents[position] = turn.id
            arena_sides.append(ArenaSide(position, side.target.key, side.session.id))
        self.round = self.store.add_round(self.arena.id, prompt, arena_sides, blind=self.blind)
        self.order, self._parents, self.outcomes = order, parents, {}
        self.replies = {p: "" for p in range(len(order))}
        by_child: dict[str, list[int]] = {}
        for position, index in enumerate(order):
            by_child.setdefault(self.sides[index].target.base_model_id, []).append(position)
        settings = self.settings
        for base_id, positions in by_child.items():
            child, request_id = self._children[base_id], new_id()
            if len(positions) == 1:
                side = self.side_at(positions[0])
                child.send_generate(request_id, self._messages(side, parents[positions[0]]), side.adapter, settings)
                self._requests[request_id] = (base_id, {None: positions[0]})
            else:
                items = [{"key": str(p), "messages": self._messages(self.side_at(p), parents[p]),
                          "adapter": self.side_at(p).adapter} for p in positions]
                child.send_generate_many(request_id, items, settings)
                self._requests[request_id] = (base_id, {str(p): p for p in positions})
        self.state = "generating"
        return self.round

    def new_conversations(self) -> None:
        """Later rounds start fresh conversations (no earlier turns in the models' context);
        the models stay loaded."""
        if self.state == "generating":
            raise WorkbenchError("Stop the current replies first.")
        for side in self.sides:
            side.session = self._conversation(side.target, side.name)

    def _position(self, payload: dict[str, Any]) -> Optional[int]:
        request = self._requests.get(str(payload.get("id")))
        if request is None:
            return None
        key = payload.get("key")
        return request[1].get(None if key is None else str(key))

    def _finish(self, position: int, outcome: str, events: list[ArenaEvent]) -> None:
        self.outcomes[position] = outcome
        if self.round_complete and self.state == "generating":
            self._requests.clear()
            self.state = "ready"
            events.append(ArenaEvent("round_done"))

    def _store_reply(self, position: int, p: dict[str, Any]) -> str:
        side = self.side_at(position)
        text = str(p.get("text", ""))
        self.replies[position] = text
        turn = self.store.add_turn(
            side.session.id, "assistant", text, parent_id=self._parents[position], model_key=side.target.key,
            settings=self.settings.to_dict(), prompt_tokens=p.get("prompt_tokens"), tokens=p.get("tokens"),
            seconds=p.get("seconds"), ttft=p.get("ttft"), finish_reason=p.get("finish_reason"))
        assert self.round is not None
        self.round = self.store.set_round_reply(self.round.id, position, turn.id)
        return turn.id

    def poll(self) -> list[ArenaEvent]:
        events: list[ArenaEvent] = []
        for base_id, child in list(self._children.items()):
            for ev in child.poll():
                p = dict(ev.payload)
                position = self._position(p)
                if ev.kind == "token" and position is not None and position not in self.outcomes:
                    self.replies[position] = self.replies.get(position, "") + str(p.get("text", ""))
                    events.append(ArenaEvent("token", position, str(p.get("text", "")), payload=p))
                elif ev.kind == "done" and position is not None and position not in self.outcomes:
                    message_id = self._store_reply(position, p)
                    events.append(ArenaEvent("done", position, self.replies[position], message_id, payload=p))
                    self._finish(position, "done", events)
                elif ev.kind == "failed":
                    error = JobError(p.get("message") or "Generation failed.", details=p.get("details", ""),
                                     advice=p.get("advice", ""))
                    self.error = error
                    if child.state == "failed":  # the model itself: every side on it fails
                        self.state = "failed"
                        positions = [q for q, i in enumerate(self.order)
                                     if self.sides[i].target.base_model_id == base_id and q not in self.outcomes]
                        events += [ArenaEvent("failed", q, error=child.error or error, payload=p) for q in positions]
                        if not positions:
                            events.append(ArenaEvent("failed", None, error=child.error or error, payload=p))
                        for q in positions:
                            self.outcomes[q] = "failed"
                    elif position is not None and position not in self.outcomes:
                        events.append(ArenaEvent("failed", position, error=error, payload=p))
                        self._finish(position, "failed", events)
            if child.state == "failed" and self.state != "failed":
                self.state, self.error = "failed", self.error or child.error
        if self.state == "starting" and self._children and all(c.state == "ready" for c in self._children.values()):
            self.state = "ready"
            events.append(ArenaEvent("ready", payload={"devices": sorted(
                {str(c.ready_payload.get("device")) for c in self._children.values()})}))
        return events

    def stop(self) -> None:
        """Interrupt every side's reply (each still ends with a done event: interrupted)."""
        if self.state != "generating":
            return
        for request_id, (base_id, _keys) in list(self._requests.items()):
            self._children[base_id].stop(request_id)

    # -- the vote --------------------------------------------------------------------------------
    def vote(self, outcome: str, comment: str = "", round_id: Optional[str] = None) -> Vote:
        """Vote on the latest round (or `round_id`) and reveal its names. Blind only while the
        names were hidden: a vote after the reveal is stored with blind=False."""
        if outcome not in VOTE_OUTCOMES:
            raise WorkbenchError(f"Unknown vote {outcome!r}.", advice=f"Use one of {', '.join(VOTE_OUTCOMES)}.")
        rnd = self.store.get_round(round_id) if round_id else self.round
        if rnd is None or rnd.arena_id != self.arena.id:
            raise WorkbenchError("There is no round to vote on.", advice="Send a prompt first.")
        if self.round is not None and rnd.id == self.round.id and not self.round_complete:
            raise WorkbenchError("Wait until every side has answered before voting.")
        if outcome in SIDE_LETTERS and SIDE_LETTERS.index(outcome) >= len(rnd.sides):
            raise WorkbenchError(f"This round has only {len(rnd.sides)} sides; there is no side {outcome.upper()}.")
        vote = self.store.add_vote(rnd.id, outcome, rater=self.store.user, blind=rnd.blind and not rnd.revealed,
                                   comment=comment)
        rnd = self.store.reveal_round(rnd.id)
        if self.round is not None and rnd.id == self.round.id:
            self.round = rnd
        self._voted.add(rnd.id)
        return vote

    def message_id(self, position: int) -> Optional[str]:
        """The stored reply shown at a position in the latest round."""
        if self.round is None:
            return None
        return next((s.message_id for s in self.round.sides if s.position == position), None)

    def close(self) -> None:
        children, self._children = list(self._children.values()), {}
        for child in children:
            child.close(grace=3.0)
        self._requests.clear()
        self.state = "closed"
