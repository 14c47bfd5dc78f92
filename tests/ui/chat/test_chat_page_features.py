"""The Chat page's features with the real tiny model and ONE real chat child: the settings panel
(problems shown, nothing sent), presets, streaming appends (no full render per token), Esc
stops, per-reply stats and links (regenerate, edit -> a branch, ‹ 1/2 › arrows, copy, rate),
the rendered prompt, the conversation list (search in a worker, open without a reload) and
export."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication, QKeySequence

from workbench.ui.chat import transcript as tr
from workbench.ui.common.chat_view import link
from workbench.ui.feedback.dialog import FeedbackDialog
from workbench.ui.shell.main_window import CHAT

pytestmark = pytest.mark.slow

LOAD_TIMEOUT = 120000


@pytest.fixture
def no_eos_store(store, tiny_model_dir, tmp_path):
    """A project whose only model is a copy of the tiny model that can never end a reply by
    itself (every reply runs to the token limit or Stop: no assertion depends on its length)."""
    from workbench.services import models

    folder = tmp_path / "tiny-no-eos"
    shutil.copytree(tiny_model_dir, folder)
    gen = json.loads((folder / "generation_config.json").read_text())
    gen["suppress_tokens"] = [gen["eos_token_id"]]
    (folder / "generation_config.json").write_text(json.dumps(gen))
    models.add_local_model(store, str(folder))
    return store


def _click(page, command, turn_id):
    """A click on a bubble link, through the view's real anchor signal."""
    page.transcript.anchorClicked.emit(QUrl(link(command, turn_id)))


def _last_id(page, role):
    return next(page.view.turn_ids[i] for i in sorted(page.view.turn_ids, reverse=True)
                if page.messages[i]["role"] == role)


def _wait_ready(qtbot, page):
    qtbot.waitUntil(lambda: page.state == "ready" and not page.pending, timeout=60000)


def test_chat_page_features(window, qtbot, no_eos_store, tmp_path):
    assert window.open_project(no_eos_store.path)
    window.set_page(CHAT)
    page = window.chat_page
    panel = page.settings_panel
    assert panel.isVisible() and page.temperature_spin is panel.temperature_spin
    page.load_button.click()
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    child = page.client._child

    # Settings that cannot be used are named in the panel, and nothing is sent.
    panel.top_p_spin.setValue(0.0)
    assert panel.problems_label.isVisible() and "Top-p" in panel.problems_label.text()
    assert not page.send_button.isEnabled()
    page.input.setPlainText("Hello")
    assert page.send() is None and page.messages == [] and page.input.toPlainText() == "Hello"
    panel.top_p_spin.setValue(1.0)
    assert not panel.problems_label.isVisible() and page.send_button.isEnabled()

    # Streaming appends to the last bubble: no full render per token; Esc stops the reply.
    panel.system_edit.setPlainText("Be brief.")
    page.temperature_spin.setValue(1.0)
    page.max_tokens_spin.setValue(page.max_tokens_spin.maximum())
    page.send_button.click()
    qtbot.waitUntil(lambda: len(page.messages[-1]["content"]) > 3, timeout=30000)
    renders, shown = page.transcript.full_renders, page.messages[-1]["content"]
    qtbot.waitUntil(lambda: len(page.messages[-1]["content"]) > len(shown) + 10, timeout=30000)
    assert page.state == "generating" and page.transcript.full_renders == renders
    assert page.messages[-1]["content"] in page.transcript.toPlainText()
    assert page.stop_action.shortcut() == QKeySequence(Qt.Key.Key_Escape)
    stops = []
    page.stop_action.triggered.connect(lambda *_: stops.append(page.state))
    window.activateWindow()
    page.input.setFocus()
    qtbot.waitUntil(lambda: page.isActiveWindow(), timeout=10000)  # shortcuts go to the active window
    qtbot.keyClick(page.input, Qt.Key.Key_Escape)
    assert stops == ["generating"]
    _wait_ready(qtbot, page)
    text = page.transcript.toPlainText()
    assert "stopped" in text and "tok/s" in text and " tokens" in text  # the stored turn's stats
    turns = page.client.turns()
    reply = turns[-1]
    assert reply.role == "assistant" and reply.finish_reason == "interrupted" and reply.tokens >= 2
    assert tr.reply_note(reply) in text
    assert page.client.session.system_prompt == "Be brief."
    assert {label for _, label in page.transcript.links()[1]} >= {"Regenerate", "Copy", "Rate / correct…"}

    # Regenerate: a second reply beside the first; the arrows switch between them.
    page.temperature_spin.setValue(0.0)
    page.max_tokens_spin.setValue(6)
    _click(page, tr.REGENERATE, reply.id)
    assert page.state == "generating"
    _wait_ready(qtbot, page)
    second = page.messages[-1]["content"]
    assert second and second != reply.content and "2/2" in page.transcript.toPlainText()
    _click(page, tr.PREV, _last_id(page, "assistant"))
    assert page.messages[-1]["content"] == reply.content and "1/2" in page.transcript.toPlainText()
    _click(page, tr.NEXT, _last_id(page, "assistant"))
    assert page.messages[-1]["content"] == second

    # Edit a user turn: a new branch with its own reply; the original stays one arrow away.
    page.ask_edit = lambda text: text + " again"
    _click(page, tr.EDIT, _last_id(page, "user"))
    _wait_ready(qtbot, page)
    assert page.messages[0]["content"] == "Hello again" and len(page.messages) == 2
    assert page.transcript.toPlainText().count("2/2") == 1
    _click(page, tr.PREV, _last_id(page, "user"))
    assert page.messages[0]["content"] == "Hello" and page.messages[1]["content"] == second

    # Copy and Rate / correct…
    _click(page, tr.COPY, _last_id(page, "assistant"))
    assert QGuiApplication.clipboard().text() == second
    _click(page, tr.RATE, _last_id(page, "assistant"))
    assert isinstance(page.feedback_dialog, FeedbackDialog)
    assert page.feedback_dialog.message_id == _last_id(page, "assistant")
    page.feedback_dialog.close()

    # Show prompt: the chat template's text, with the system prompt and what is being typed.
    page.input.setPlainText("Next question")
    page.show_prompt_button.click()
    qtbot.waitUntil(lambda: page.prompt_dialog is not None, timeout=30000)
    assert "Be brief." in page.prompt_dialog.text.toPlainText()
    assert "Next question" in page.prompt_dialog.text.toPlainText()
    assert page.prompt_dialog.tokens_label.text().split()[0].isdigit()
    page.prompt_dialog.close()
    page.input.clear()

    # Presets of this model: save, apply, delete (the file is read and written in a worker).
    panel.ask_preset_name = lambda suggestion: "Precise"
    panel.confirm_delete = lambda name: True
    panel.seed_spin.setValue(7)
    panel.stop_edit.setPlainText("User:\n\\n\\n")
    panel.save_preset_button.click()
    qtbot.waitUntil(lambda: [p.name for p in panel.presets] == ["Precise"] and not panel.busy, timeout=30000)
    assert os.path.exists(no_eos_store.abspath("chat_presets.json"))
    panel.seed_spin.setValue(-1)
    page.temperature_spin.setValue(1.5)
    panel.system_edit.setPlainText("")
    panel.apply_preset_button.click()
    settings = panel.settings()
    assert (settings.temperature, settings.seed, settings.stop) == (0.0, 7, ("User:", "\n\n"))
    assert panel.system_prompt() == "Be brief."
    panel.delete_preset_button.click()
    qtbot.waitUntil(lambda: panel.presets == [] and not panel.busy, timeout=30000)

    # Export the conversation shown (its branch), JSONL and Markdown.
    out = tmp_path / "chat.jsonl"
    task = page.export_conversation(path=str(out))
    qtbot.waitUntil(lambda: not task.running, timeout=30000)
    row = json.loads(out.read_text().splitlines()[0])
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][1]["content"] == "Hello" and row["messages"][2]["content"] == second
    task = page.export_conversation(path=str(tmp_path / "chat.md"))
    qtbot.waitUntil(lambda: not task.running, timeout=30000)
    assert "### Assistant" in (tmp_path / "chat.md").read_text()

    # The conversation list: a new chat is listed; search (in a worker); opening one of the
    # loaded model keeps its child (no reload) and shows its branch.
    first = page.client.session.id
    clist = page.conversation_list
    page.new_button.click()
    assert page.messages == [] and page.client.session.id != first
    page.input.setPlainText("Second chat about kettles")
    page.send_button.click()
    _wait_ready(qtbot, page)
    qtbot.waitUntil(lambda: clist.model.rowCount() == 2 and not clist.busy, timeout=30000)
    clist.search_edit.setText("hello again")
    qtbot.waitUntil(lambda: not clist.busy and clist.model.rowCount() == 1, timeout=30000)
    assert clist.count_label.text() == "1 found"
    clist.search_edit.setText("")
    qtbot.waitUntil(lambda: not clist.busy and clist.model.rowCount() == 2, timeout=30000)
    row = next(i for i, c in enumerate(clist.model.conversations) if c.id == first)
    clist.open_row(row)
    assert page.client.session.id == first and page.client._child is child and page.state == "ready"
    assert page.messages[0]["content"] == "Hello" and page.messages[1]["content"] == second
    assert panel.system_prompt() == "Be brief."
    assert window.close_project()
