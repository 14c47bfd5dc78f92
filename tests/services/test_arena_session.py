"""ArenaSession with a real chat child on the tiny model: a base model and its adapter share one
child (one generate_many per round), both sides stream, the blind shuffle is stored in the
round and undone by feedback and the leaderboard, the vote reveals the names, a vote after the
reveal is not blind, Stop interrupts every side. Refusals without a child: the real store."""

from __future__ import annotations

import time

import pytest

from tests.helpers.arena_models import base_and_adapter
from workbench.core.chat_records import ChatTarget, SamplingSettings
from workbench.core.errors import WorkbenchError
from workbench.services import feedback
from workbench.services.arena import ArenaSession
from workbench.services.leaderboard import leaderboard

SEED = 6  # random.Random(6) shows the two sides as B, A in round 1 and A, B in round 2


def _until(session, what, timeout=120):
    events, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = session.poll()
        events += batch
        assert session.state != "failed", session.error and (session.error.user_message, session.error.details)
        if any(e.kind == what for e in batch):
            return events
        time.sleep(0.02)
    raise AssertionError(f"no {what} within {timeout}s: {[e.kind for e in events]}")


def test_two_to_four_different_models_with_usable_settings(store):
    ids = [store.add_base_model(n, n, f"/nowhere/{n}", f"fp-{n}").id for n in "pqrst"]
    targets = [ChatTarget(i) for i in ids]
    with pytest.raises(WorkbenchError, match="2 to 4 models; 1 was picked"):
        ArenaSession(store, targets[:1], blind=True)
    with pytest.raises(WorkbenchError, match="5 were picked"):
        ArenaSession(store, targets, blind=True)
    with pytest.raises(WorkbenchError, match="picked twice"):
        ArenaSession(store, [targets[0], targets[0]], blind=True)
    with pytest.raises(WorkbenchError, match="settings cannot be used"):
        ArenaSession(store, targets[:2], blind=True, settings=SamplingSettings(top_p=0))
    assert store.list_arenas() == []  # nothing stored for a refused arena
    session = ArenaSession(store, targets[:4], blind=False)
    assert [s.name for s in session.sides] == list("pqrs") and session.label(3) == "D — s"
    with pytest.raises(WorkbenchError, match="not ready"):
        session.send("Hello?")
    with pytest.raises(WorkbenchError, match="no round to vote on"):
        session.vote("a")


@pytest.mark.slow
def test_a_blind_round_streams_both_sides_and_the_vote_names_the_right_models(store, tiny_model_dir, tmp_path):
    base, tuned = base_and_adapter(store, tiny_model_dir, tmp_path)
    settings = SamplingSettings(temperature=0, max_new_tokens=6)
    session = ArenaSession(store, [base, tuned], blind=True, settings=settings, system_prompt="Be brief.", seed=SEED)
    session.start()
    try:
        assert len(session.children) == 1  # the base and its adapter: one loaded model
        assert session.children[0].adapters.keys() == {"side1"}
        _until(session, "ready")
        assert session.state == "ready"

        rnd = session.send("Where is my order?")
        assert session.state == "generating" and not session.can_vote
        with pytest.raises(WorkbenchError, match="Wait until every side"):
            session.vote("a")
        events = _until(session, "round_done")
        tokens = {e.position for e in events if e.kind == "token"}
        dones = {e.position: e for e in events if e.kind == "done"}
        assert tokens == {0, 1} and set(dones) == {0, 1}  # both sides streamed
        assert session.state == "ready" and session.can_vote
        # B, A: position 0 shows the adapter; the names stay hidden until the vote.
        assert session.order == [1, 0] and session.label(0) == "Model A" and not session.revealed
        stored = store.get_round(rnd.id)
        assert stored.blind and not stored.revealed
        assert [(s.position, s.target) for s in stored.sides] == [(0, tuned.key), (1, base.key)]
        for side in stored.sides:
            reply = store.get_turn(side.message_id)
            conv = store.get_conversation(side.session_id)
            assert conv.arena_id == session.arena.id and conv.target.key == side.target
            assert reply.model_key == side.target and reply.content == dones[side.position].text
            assert reply.role == "assistant" and reply.tokens == 6 and reply.finish_reason == "length"
            assert [t.role for t in store.branch(conv.id)] == ["user", "assistant"]
        texts = {s.target: store.get_turn(s.message_id).content for s in stored.sides}
        assert texts[base.key] != texts[tuned.key]  # the adapter really answered

        vote = session.vote("a")  # A (the adapter) is better
        assert vote.blind and vote.rater == store.user and not session.can_vote
        assert store.get_round(rnd.id).revealed and session.label(0) == "A — tuned-lora"
        pairs = feedback.feedback_items(store, kind="preference")
        assert len(pairs) == 1 and pairs[0].provenance.models == (tuned.key, base.key)
        assert pairs[0].chosen[0]["content"] == texts[tuned.key]
        assert pairs[0].rejected[0]["content"] == texts[base.key]
        assert pairs[0].prompt[0] == {"role": "system", "content": "Be brief."}
        board = {row.key: row for row in leaderboard(store, session.arena.id)}
        assert (board[tuned.key].wins, board[base.key].losses) == (1, 1)

        # Round 2 shuffles again (A, B); each side's own conversation goes on.
        session.send("And my refund?")
        _until(session, "round_done")
        assert session.order == [0, 1] and not session.revealed
        assert [t.role for t in session.history(0)] == ["user", "assistant"] * 2
        second = session.round
        session.vote("tie")
        again = session.vote("b", round_id=second.id)  # after the reveal: not blind
        assert not again.blind and [v.blind for v in store.votes(round_ids=[second.id])] == [True, False]

        # Stop interrupts both sides; each reply is still stored.
        session.settings = SamplingSettings(temperature=0, max_new_tokens=400)
        session.send("Tell me a long story.")
        _until(session, "token")
        session.stop()
        events = _until(session, "round_done")
        reasons = [e.payload["finish_reason"] for e in events if e.kind == "done"]
        # A fast machine may reach the limit first; either way both replies are stored.
        assert len(reasons) == 2 and set(reasons) <= {"interrupted", "length"}
        assert all(s.message_id for s in session.round.sides)
    finally:
        children = session.children
        session.close()
    assert session.state == "closed" and children and not any(c.alive() for c in children)


def test_a_run_whose_adapter_is_gone_is_refused_before_anything_starts(store, tmp_path):
    from tests.helpers.rows import chat, write_jsonl
    from workbench.services import datasets

    model = store.add_base_model("m", "m", str(tmp_path), "fp-m")
    version = datasets.import_dataset(store, str(write_jsonl(tmp_path / "c.jsonl", [chat("q", "a")])))
    store.add_run(id="gone", name="gone-lora", dataset_version_id=version.id, base_model_id=model.id, config={},
                  status="completed", work_dir="runs/gone", adapter_path="runs/gone/adapter")
    session = ArenaSession(store, [ChatTarget(model.id), ChatTarget(model.id, "gone")], blind=True)
    with pytest.raises(WorkbenchError, match="gone-lora"):
        session.start()
    assert session.children == [] and session.state == "new"


@pytest.mark.slow
def test_three_sides_on_two_base_models_use_two_children(store, tiny_model_dir, tmp_path):
    from workbench.services import models

    base, tuned = base_and_adapter(store, tiny_model_dir, tmp_path)
    other = ChatTarget(models.add_local_model(store, tiny_model_dir).id)
    session = ArenaSession(store, [base, tuned, other], blind=False,
                           settings=SamplingSettings(temperature=0, max_new_tokens=4))
    session.start()
    try:
        assert len(session.children) == 2
        _until(session, "ready")
        rnd = session.send("Hello?")
        assert rnd.revealed and session.label(2).startswith("C — ")  # not blind: names shown, picked order
        events = _until(session, "round_done")
        assert {e.position for e in events if e.kind == "done"} == {0, 1, 2}
        stored = store.get_round(rnd.id)
        assert [s.target for s in stored.sides] == [base.key, tuned.key, other.key]
        assert all(store.get_turn(s.message_id).model_key == s.target for s in stored.sides)
        vote = session.vote("c")
        assert not vote.blind  # names were shown: it never counts as blind
        assert all(r.games == 0 for r in leaderboard(store, session.arena.id))  # blind votes only
        board = {r.key: r for r in leaderboard(store, session.arena.id, blind_only=False)}
        assert board[other.key].wins == 2 and board[base.key].losses == 1
    finally:
        session.close()
