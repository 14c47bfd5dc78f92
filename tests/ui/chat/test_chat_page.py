"""Chat page with the real tiny model and the real chat child: load, stream a reply token by
token, stop, new chat; the selector and status line always name the loaded model; a
conversation is never dropped from view without asking; the view keeps indentation."""

from __future__ import annotations

import json
import shutil

import psutil
import pytest
from PySide6.QtCore import Qt

from workbench.ui.shell import dialogs
from workbench.ui.shell.main_window import CHAT, MODELS, RUNS
from workbench.ui.common.chat_view import ChatView

pytestmark = pytest.mark.slow

LOAD_TIMEOUT = 120000


def _no_eos_copy(tiny_model_dir, folder):
    """A copy of the tiny model that can never emit end-of-turn: every reply runs to the token
    limit (or Stop), so no assertion depends on how long a sampled reply happens to be."""
    shutil.copytree(tiny_model_dir, folder)
    gen_path = folder / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen["suppress_tokens"] = [gen["eos_token_id"]]
    gen_path.write_text(json.dumps(gen))
    return str(folder)


@pytest.fixture
def no_eos_store(store, tiny_model_dir, tmp_path):
    """A project whose only model is the no-EOS copy of the tiny model."""
    from workbench.services import models

    models.add_local_model(store, _no_eos_copy(tiny_model_dir, tmp_path / "tiny-no-eos"))
    return store


@pytest.fixture
def two_model_store(demo_store, tiny_model_dir, tmp_path):
    """The demo project (tiny-gpt2-demo) plus a second model, tiny-no-eos, listed after it."""
    from workbench.services import models

    models.add_local_model(demo_store, _no_eos_copy(tiny_model_dir, tmp_path / "tiny-no-eos"))
    return demo_store


def _combo_texts(page):
    return [page.model_combo.itemText(i) for i in range(page.model_combo.count())]


def _select(page, name):
    index = next(i for i, text in enumerate(_combo_texts(page)) if text.startswith(name + "  ("))
    page.model_combo.setCurrentIndex(index)


def _exchange(qtbot, page, text, tokens=6):
    page.max_tokens_spin.setValue(tokens)
    page.temperature_spin.setValue(0.0)
    page.input.setPlainText(text)
    page.send_button.click()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=60000)
    assert page.messages[-1]["role"] == "assistant" and page.messages[-1]["content"]


def _chat_children():
    return [c for c in psutil.Process().children(recursive=True)
            if c.status() != psutil.STATUS_ZOMBIE and "chat" in c.cmdline()]


def test_chat_streams_tokens_and_stops(window, qtbot, no_eos_store, monkeypatch):
    assert window.open_project(no_eos_store.path)
    window.set_page(CHAT)
    page = window.chat_page
    assert _combo_texts(page) == ["tiny-no-eos  (base model)"]
    assert not page.send_button.isEnabled()
    page.load_button.click()
    assert page.state == "starting" and page.state_label.text() == "Loading tiny-no-eos…"
    assert not page.load_button.isEnabled()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    assert page.state_label.text().startswith("Ready") and "tiny-no-eos" in page.state_label.text()
    assert page.send_button.isEnabled() and not page.stop_button.isEnabled()

    # Enter sends; Shift+Enter is a newline inside the prompt.
    page.max_tokens_spin.setValue(16)
    page.temperature_spin.setValue(0.0)
    qtbot.keyClicks(page.input, "Hello")
    qtbot.keyClick(page.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(page.input, "where is my order?")
    assert page.input.toPlainText() == "Hello\nwhere is my order?"
    events = []  # what the chat client hands the page, recorded on the way
    real_poll = page.client.poll
    monkeypatch.setattr(page.client, "poll", lambda: [events.append(e) or e for e in real_poll()])
    qtbot.keyClick(page.input, Qt.Key.Key_Return)
    assert page.input.toPlainText() == "" and page.state == "generating"
    assert page.stop_button.isEnabled()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=60000)
    reply = page.messages[-1]["content"]
    assert page.messages[0] == {"role": "user", "content": "Hello\nwhere is my order?"}
    assert reply.strip()
    # Streamed: token events arrived one by one and add up to the reply the page shows.
    tokens = [e.payload["text"] for e in events if e.kind == "token"]
    assert len(tokens) >= 2 and "".join(tokens).strip() == reply.strip()
    stored = no_eos_store.chat_messages(page.client.session.id)
    assert [m.role for m in stored] == ["user", "assistant"] and stored[1].content == reply
    assert "Assistant" in page.transcript.toPlainText()

    # Stop interrupts a long reply (the model cannot end it by itself: it runs to the end of
    # the model's context, hundreds of tokens, unless stopped).
    page.max_tokens_spin.setValue(page.max_tokens_spin.maximum())
    page.temperature_spin.setValue(1.0)
    page.input.setPlainText("Tell me a long story about returns.")
    page.send_button.click()
    # The reply is shown while it is still being generated.
    qtbot.waitUntil(lambda: len(page.messages[-1]["content"]) > 3, timeout=30000)
    assert page.state == "generating"
    assert page.messages[-1]["content"] in page.transcript.toPlainText()
    page.stop_button.click()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=30000)
    assert "stopped" in page.transcript.toPlainText()
    assert page.messages[-1]["content"] in page.transcript.toPlainText()

    # New chat keeps the model loaded and starts an empty, separately stored conversation;
    # the old one stays in the project.
    old_session = page.client.session.id
    page.new_button.click()
    assert page.messages == [] and page.client.session.id != old_session
    assert page.state == "ready"
    assert [m.role for m in no_eos_store.chat_messages(old_session)] == ["user", "assistant"] * 2

    # Switching project closes the chat child.
    assert window.close_project()
    assert page.client is None


def test_the_selector_names_the_loaded_model_and_loading_another_asks_first(window, qtbot, two_model_store):
    """The selector and status line always name the loaded model, and loading another one asks
    before touching the conversation (one test: each model load starts a chat child)."""
    assert window.open_project(two_model_store.path)
    window.set_page(CHAT)
    page = window.chat_page
    assert _combo_texts(page) == ["tiny-gpt2-demo  (base model)", "tiny-no-eos  (base model)"]
    asked = []
    answer = {"value": dialogs.CANCEL}
    page.ask_about_conversation = lambda name: asked.append(name) or answer["value"]

    _select(page, "tiny-no-eos")
    page.load_button.click()  # nothing in view yet: no question
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    assert asked == []
    assert page.client.model.name == "tiny-no-eos"
    assert "tiny-no-eos" in page.state_label.text()

    # Switching pages and the run-status ticks (4x a second while a run trains) neither move
    # the selection nor rebuild the list (which would also reset an open dropdown).
    rebuilt = []
    page.model_combo.model().rowsRemoved.connect(lambda *a: rebuilt.append(a))
    for other in (MODELS, RUNS):
        window.set_page(other)
        window.set_page(CHAT)
        for _ in range(3):
            window.ctx.runs_changed.emit()
        window.ctx.models_changed.emit()
        assert page.model_combo.currentText() == "tiny-no-eos  (base model)"
        assert "tiny-no-eos" in page.state_label.text()
    assert rebuilt == []

    _exchange(qtbot, page, "def f(x):\n    return x")
    first_session = page.client.session.id
    first = list(page.messages)
    client = page.client

    # Cancel: nothing changes, and the selector goes back to the loaded model.
    _select(page, "tiny-gpt2-demo")
    page.load_button.click()
    assert asked == ["tiny-gpt2-demo"]
    assert page.client is client and page.state == "ready" and page.messages == first
    assert page.model_combo.currentText() == "tiny-no-eos  (base model)"

    # A choice made in the selector survives a refresh, and the status line still names what
    # is loaded until the new choice is.
    _select(page, "tiny-gpt2-demo")
    window.ctx.runs_changed.emit()
    window.set_page(RUNS)
    window.set_page(CHAT)
    assert page.model_combo.currentText() == "tiny-gpt2-demo  (base model)"
    assert "tiny-no-eos" in page.state_label.text()

    # Keep: Load loads that choice; the conversation stays in view, marked where the model
    # changed, and the new model continues it (its stored session starts with the earlier messages).
    answer["value"] = dialogs.KEEP_CONVERSATION
    page.load_button.click()
    assert asked[-1] == "tiny-gpt2-demo"
    assert page.messages[:2] == first
    text = page.transcript.toPlainText()
    assert "    return x" in text and "tiny-gpt2-demo" in text.split("return x", 1)[1]
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    assert page.client.model.name == "tiny-gpt2-demo"
    assert "tiny-gpt2-demo" in page.state_label.text()
    assert page.model_combo.currentText() == "tiny-gpt2-demo  (base model)"
    _exchange(qtbot, page, "And now?")
    second_session = page.client.session.id
    stored = [(m.role, m.content) for m in two_model_store.chat_messages(second_session)]
    assert stored[:2] == [(m["role"], m["content"]) for m in first]
    assert [r for r, _ in stored] == ["user", "assistant", "user", "assistant"]
    # The first model's conversation is kept as it was.
    assert [(m.role, m.content) for m in two_model_store.chat_messages(first_session)] == \
        [(m["role"], m["content"]) for m in first]

    # Start a new chat: the view empties, everything stays stored.
    answer["value"] = dialogs.NEW_CONVERSATION
    _select(page, "tiny-no-eos")
    page.load_button.click()
    assert page.messages == []
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    assert page.client.model.name == "tiny-no-eos"
    assert len(two_model_store.chat_messages(second_session)) == 4
    assert two_model_store.chat_messages(page.client.session.id) == []

    # The conversation list has the two chats with messages (not the empty new one); opening
    # the other model's conversation loads that model for it, and shows it as it was.
    clist = page.conversation_list
    qtbot.waitUntil(lambda: not clist.busy and clist.model.rowCount() == 2, timeout=30000)
    assert {c.id for c in clist.model.conversations} == {first_session, second_session}
    clist.open_row(next(i for i, c in enumerate(clist.model.conversations) if c.id == second_session))
    assert page.client.session.id == second_session
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    assert page.client.model.name == "tiny-gpt2-demo" and "tiny-gpt2-demo" in page.state_label.text()
    assert page.model_combo.currentText() == "tiny-gpt2-demo  (base model)"
    assert [(m["role"], m["content"]) for m in page.messages] == stored
    assert window.close_project()


def test_new_chat_never_loads_a_model(window, qtbot, two_model_store, tmp_path):
    from workbench.services import models

    # A model whose weights are corrupt: it is listed, but its chat child fails to load it.
    broken = tmp_path / "broken-model"
    shutil.copytree(two_model_store.list_base_models()[0].path, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not weights")
    models.add_local_model(two_model_store, str(broken))

    assert window.open_project(two_model_store.path)
    window.set_page(CHAT)
    page = window.chat_page
    page.ask_about_conversation = lambda name: dialogs.KEEP_CONVERSATION
    assert not page.new_button.isEnabled()  # nothing to clear, nothing loaded
    page.new_chat()
    assert page.client is None and page.state == "none"

    _select(page, "tiny-no-eos")
    page.load_button.click()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    _exchange(qtbot, page, "Hello")
    session = page.client.session.id
    conversation = list(page.messages)

    # The broken model fails to load: the conversation is still in view.
    _select(page, "broken-model")
    page.load_button.click()
    qtbot.waitUntil(lambda: page.state == "failed", timeout=LOAD_TIMEOUT)
    assert page.messages[:2] == conversation
    assert "broken-model" in page.state_label.text()

    # New chat with no model loaded only empties the view: it starts no model.
    failed = page.client
    assert page.new_button.isEnabled()
    page.new_button.click()
    assert page.messages == [] and page.client is failed and page.state == "failed"
    assert "broken-model" in page.state_label.text()
    qtbot.waitUntil(lambda: _chat_children() == [], timeout=30000)  # the failed child exits
    assert page.client is failed and page.state == "failed"
    assert len(two_model_store.chat_messages(session)) == 2
    assert window.close_project()


def test_view_keeps_indentation_and_appends_streamed_text(qtbot):
    view = ChatView()
    qtbot.addWidget(view)
    code = "def f(x):\n    if x:\n        return  x\n\treturn 0"
    view.set_messages([{"role": "user", "content": code}, {"role": "assistant", "content": ""}],
                      {1: "typing…"})
    text = view.toPlainText()
    assert "def f(x):\n    if x:\n        return  x\n\treturn 0" in text
    # Streaming appends to the last bubble, keeping the user's selection and any spaces: the
    # text grows, the document is never rebuilt.
    renders = view.full_renders
    for piece in ["Sure:", "\n", "  ", "  print(1)", "\n", "done <b>&amp;"]:
        before = len(view.toPlainText())
        view.append_to_last(piece)
        assert len(view.toPlainText()) == before + len(piece) and view.full_renders == renders
    assert view.toPlainText().rstrip("\n").endswith("Assistant typing…\nSure:\n    print(1)\ndone <b>&amp;")
    assert view.messages()[-1]["content"] == "Sure:\n    print(1)\ndone <b>&amp;"
    # A full re-render shows the same thing.
    view.rerender()
    assert view.toPlainText().rstrip("\n").endswith("Assistant typing…\nSure:\n    print(1)\ndone <b>&amp;")
