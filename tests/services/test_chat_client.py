"""ChatClient with a real chat child on the tiny model: the system prompt and sampling settings
reach the child, regenerate adds a sibling reply, editing a user turn branches, switching
branches moves the head, token counts are stored, the prompt renders, and opening another
conversation reuses the loaded child. Branch logic without a child: the real store."""

from __future__ import annotations

import time

import pytest

from workbench.core.chat_records import SamplingSettings
from workbench.core.errors import WorkbenchError
from workbench.services.chat import ChatClient, leaf_of, siblings, turn_tokens_per_s


def _model(store, tiny_model_dir):
    from workbench.services import models

    return models.add_local_model(store, tiny_model_dir)


def _wait(client, until, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.poll()
        assert client.state != "failed", client.error and client.error.details
        if until():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out in state {client.state}")


@pytest.mark.slow
def test_chat_client_branches_regenerates_edits_and_renders(store, tiny_model_dir):
    model = _model(store, tiny_model_dir)
    greedy = SamplingSettings(temperature=0.0, max_new_tokens=4)
    client = ChatClient(store, model.id, system_prompt="You are terse.", settings=greedy)
    client.start()
    try:
        _wait(client, lambda: client.state == "ready")
        pid = client._child.pid

        client.send("Where is my order?")
        assert client.state == "generating"
        _wait(client, lambda: client.state == "ready")
        user, first = client.branch()
        assert (user.role, first.role) == ("user", "assistant")
        # How the reply was made is stored with it.
        assert first.tokens and 1 <= first.tokens <= 4 and first.prompt_tokens > 0
        assert first.settings["max_new_tokens"] == 4 and first.settings["temperature"] == 0.0
        assert first.model_key == client.target.key and first.finish_reason in ("stop", "length")
        assert first.seconds > 0
        assert store.get_conversation(client.session.id).title == "Where is my order?"

        # The rendered prompt has the system prompt, the conversation and the typed text.
        rid = client.render("And my refund?")
        _wait(client, lambda: rid in client.rendered)
        text = client.rendered[rid]["text"]
        assert "You are terse." in text and "Where is my order?" in text and "And my refund?" in text
        assert client.rendered[rid]["tokens"] > first.prompt_tokens

        # Regenerate: a sibling reply of the same user turn; the switcher sees 2 of 2.
        client.regenerate(first.id, settings=SamplingSettings(temperature=1.0, seed=7, max_new_tokens=3))
        _wait(client, lambda: client.state == "ready")
        user2, second = client.branch()
        assert user2.id == user.id and second.id != first.id and second.parent_id == user.id
        assert second.tokens <= 3 and second.settings["seed"] == 7
        assert client.sibling_position(second) == (2, 2)
        assert client.sibling_position(first) == (1, 2)

        # Back to the first reply and forward again.
        client.switch_branch(second.id, -1)
        assert [t.id for t in client.branch()] == [user.id, first.id]
        client.switch_branch(first.id, -1)  # already the first: nothing changes
        assert [t.id for t in client.branch()] == [user.id, first.id]
        client.switch_branch(first.id, +1)
        assert [t.id for t in client.branch()] == [user.id, second.id]

        # Edit the user turn: a sibling user turn with its own reply; the old branch stays.
        client.edit(user.id, "Where is my parcel?")
        _wait(client, lambda: client.state == "ready")
        edited, reply = client.branch()
        assert edited.parent_id is None and edited.content == "Where is my parcel?"
        assert reply.parent_id == edited.id
        assert client.sibling_position(edited) == (2, 2)
        client.switch_branch(edited.id, -1)
        # The old branch comes back at its end (the reply shown last there).
        assert [t.id for t in client.branch()] == [user.id, second.id]
        assert len(store.turns(client.session.id)) == 5

        # Another conversation with the same child: no reload.
        old = client.session.id
        client.new_session()
        assert client.history() == [] and client.session.system_prompt == "You are terse."
        client.send("Hi")
        _wait(client, lambda: client.state == "ready")
        client.open_conversation(old)
        assert [t.id for t in client.branch()] == [user.id, second.id]
        assert client._child.pid == pid
    finally:
        client.close()


def test_settings_are_checked_and_kept_on_the_conversation(store, tmp_path):
    model = store.add_base_model("tiny", "tiny", str(tmp_path / "tiny"), "f1")
    client = ChatClient(store, model.id)
    with pytest.raises(WorkbenchError) as err:
        client.set_settings(SamplingSettings(top_p=0.0))
    assert "Top-p" in err.value.advice
    wanted = SamplingSettings(temperature=0.2, top_p=0.9, top_k=40, repetition_penalty=1.1,
                              max_new_tokens=64, stop=("\nUser:",), seed=3)
    client.set_settings(wanted)
    client.set_system_prompt("Be kind.")
    # Reopened in a new client, the conversation brings its settings and system prompt back.
    again = ChatClient(store, model.id, session_id=client.session.id)
    assert again.settings == wanted and again.session.system_prompt == "Be kind."
    assert again.prompt_messages(extra_user="hi") == [{"role": "system", "content": "Be kind."},
                                                      {"role": "user", "content": "hi"}]
    # Nothing can be sent before a model is loaded.
    with pytest.raises(WorkbenchError):
        again.send("hello")


def test_tree_helpers_and_reply_speed(store, tmp_path):
    model = store.add_base_model("tiny", "tiny", str(tmp_path / "tiny"), "f1")
    s = ChatClient(store, model.id).session.id
    q = store.add_turn(s, "user", "q")
    a1 = store.add_turn(s, "assistant", "a1", parent_id=q.id)
    q2 = store.add_turn(s, "user", "q2", parent_id=a1.id)
    a2 = store.add_turn(s, "assistant", "a2", parent_id=q.id, tokens=11, seconds=1.5, ttft=0.5)
    turns = store.turns(s)
    assert [t.id for t in siblings(turns, a1)] == [a1.id, a2.id]
    assert leaf_of(turns, a1.id) == q2.id and leaf_of(turns, q.id) == a2.id
    assert turn_tokens_per_s(store.get_turn(a2.id)) == 10.0  # 10 tokens after the first, in 1 s
    assert turn_tokens_per_s(a1) is None
    client = ChatClient(store, model.id, session_id=s)
    client.switch_branch(a2.id, -1)
    assert [t.content for t in client.branch()] == ["q", "a1", "q2"]  # to the branch's end
