"""Chat page with the real tiny model: load, stream a reply token by token, stop, new chat."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workbench.ui.main_window import CHAT

pytestmark = pytest.mark.slow


def test_chat_streams_tokens_and_stops(window, qtbot, demo_store):
    assert window.open_project(demo_store.path)
    window.set_page(CHAT)
    page = window.chat_page
    assert page.model_combo.count() == 1 and "(base model)" in page.model_combo.currentText()
    assert not page.send_button.isEnabled()
    page.load_button.click()
    assert page.state == "starting" and page.state_label.text() == "Loading…"
    assert not page.load_button.isEnabled()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=120000)
    assert page.state_label.text().startswith("Ready")
    assert page.send_button.isEnabled() and not page.stop_button.isEnabled()

    # Enter sends; Shift+Enter is a newline inside the prompt.
    page.max_tokens_spin.setValue(16)
    page.temperature_spin.setValue(0.0)
    qtbot.keyClicks(page.input, "Hello")
    qtbot.keyClick(page.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(page.input, "where is my order?")
    assert page.input.toPlainText() == "Hello\nwhere is my order?"
    events = []
    real_poll = page.client.poll
    page.client.poll = lambda: [events.append(e) or e for e in real_poll()]
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
    assert page._tokens_seen == len(tokens)
    stored = demo_store.chat_messages(page.client.session.id)
    assert [m.role for m in stored] == ["user", "assistant"] and stored[1].content == reply
    assert "Assistant" in page.transcript.toPlainText()

    # Stop interrupts a long reply.
    page.max_tokens_spin.setValue(400)
    page.temperature_spin.setValue(1.0)
    page.input.setPlainText("Tell me a long story about returns.")
    page.send_button.click()
    # The reply is shown while it is still being generated.
    qtbot.waitUntil(lambda: page.messages[-1]["content"] != "", timeout=30000)
    assert page.state == "generating"
    assert page.messages[-1]["content"] in page.transcript.toPlainText()
    page.stop_button.click()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=30000)
    assert "stopped" in page._notes.get(len(page.messages) - 1, "")

    # New chat keeps the model loaded but starts an empty, separately stored conversation.
    old_session = page.client.session.id
    page.new_button.click()
    assert page.messages == [] and page.client.session.id != old_session
    assert page.state == "ready"

    # Switching project closes the chat child.
    assert window.close_project()
    assert page.client is None
