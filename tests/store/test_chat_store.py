"""Chat records in the project store: conversations are trees with a head, feedback and votes
keep history, arena rounds keep their (shuffled) sides, and old projects migrate."""

import pytest

from workbench.core.chat_records import ArenaSide, ChatTarget, SamplingSettings
from workbench.core.errors import ProjectError
from workbench.store import ProjectStore
from tests.helpers.old_schema import STAMP, old_project


@pytest.fixture
def model_id(store):
    return store.add_base_model("tiny", "tiny", "/nowhere", "fp").id


def test_a_conversation_branches_and_the_head_picks_the_branch(store, model_id):
    conv = store.add_conversation("c", model_id, system_prompt="Be brief.",
                                  settings=SamplingSettings(seed=3, stop=("###",)).to_dict())
    u1 = store.add_turn(conv.id, "user", "hi")
    a1 = store.add_turn(conv.id, "assistant", "hello", parent_id=u1.id, model_key=ChatTarget(model_id).key,
                        tokens=2, seconds=0.5, ttft=0.1, finish_reason="stop")
    # Edit the user turn: a sibling of u1, and its own reply.
    u2 = store.add_turn(conv.id, "user", "hey", parent_id=None)
    a2 = store.add_turn(conv.id, "assistant", "yo", parent_id=u2.id)
    assert [t.content for t in store.branch(conv.id)] == ["hey", "yo"]
    assert [t.content for t in store.branch(conv.id, a1.id)] == ["hi", "hello"]
    store.update_conversation(conv.id, head_id=a1.id)
    again = store.get_conversation(conv.id)
    assert again.head_id == a1.id and again.system_prompt == "Be brief."
    assert SamplingSettings.from_dict(again.settings) == SamplingSettings(seed=3, stop=("###",))
    assert store.get_turn(a1.id).ttft == 0.1 and len(store.turns(conv.id)) == 4
    assert [c.id for c in store.list_conversations("HELLO")] == [conv.id]
    assert store.list_conversations("nothing like this") == []
    assert a2.idx == 3


def test_feedback_keeps_history(store, model_id):
    conv = store.add_conversation("c", model_id)
    reply = store.add_turn(conv.id, "assistant", "wrong", parent_id=store.add_turn(conv.id, "user", "q").id)
    store.add_feedback(reply.id, "thumbs", rater="ann", value=-1, tags=["wrong fact"])
    store.add_feedback(reply.id, "correction", rater="ann", correction="right")
    fb = store.list_feedback(message_ids=[reply.id])
    assert [f.kind for f in fb] == ["thumbs", "correction"] and fb[0].tags == ("wrong fact",)
    assert store.list_feedback(session_id=conv.id)[1].correction == "right"
    with pytest.raises(ProjectError, match="kind"):
        store.add_feedback(reply.id, "stars", rater="ann", value=3)


def test_arena_rounds_and_votes(store, model_id):
    targets = [ChatTarget(model_id).key, ChatTarget(model_id, "run1").key]
    arena = store.add_arena("a", targets, blind=True)
    sides = [ArenaSide(0, targets[1], "s1"), ArenaSide(1, targets[0], "s0")]
    rnd = store.add_round(arena.id, "hi", sides, blind=True)
    assert not rnd.revealed and rnd.sides[0].target == targets[1]
    rnd = store.set_round_reply(rnd.id, 1, "m0")
    assert rnd.sides[1].message_id == "m0" and rnd.sides[0].message_id is None
    vote = store.add_vote(rnd.id, "b", rater="ann", blind=True)
    assert vote.winner_position() == 1 and store.reveal_round(rnd.id).revealed
    assert [v.outcome for v in store.votes(arena.id)] == ["b"]
    with pytest.raises(ProjectError, match="no side C"):
        store.add_vote(rnd.id, "c", rater="ann", blind=True)
    assert store.get_arena(arena.id).targets == tuple(targets) and store.get_arena(arena.id).blind


def test_a_version_6_project_migrates_each_chat_into_one_branch(tmp_path):
    folder, _db_path, conn, db = old_project(tmp_path, 6)
    db["chat_sessions"].insert({"id": "s", "title": "old", "base_model_id": "m", "run_id": None, **STAMP})
    for idx, role in enumerate(("user", "assistant", "user")):
        db["chat_messages"].insert({"id": f"m{idx}", "session_id": "s", "idx": idx, "role": role,
                                    "content": f"t{idx}", **STAMP})
    conn.commit()
    conn.close()
    store = ProjectStore.open(str(folder))
    try:
        assert [t.id for t in store.branch("s")] == ["m0", "m1", "m2"]
        assert store.get_conversation("s").head_id == "m2"
        assert [t.parent_id for t in store.turns("s")] == [None, "m0", "m1"]
    finally:
        store.close()
