"""The Chat page's side panels without a model: the settings panel turns its widgets into
SamplingSettings and names what cannot be used; the conversation list searches the real store
in a worker thread (never the GUI thread) and lists only conversations with messages."""

from __future__ import annotations

import threading

from workbench.core.chat_records import SamplingSettings
from workbench.ui.chat import conversations
from workbench.ui.chat.conversations import ConversationList
from workbench.ui.chat.settings_panel import SettingsPanel, format_stops, parse_stops


def test_the_settings_panel_makes_sampling_settings_and_names_problems(qtbot):
    panel = SettingsPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert panel.settings() == SamplingSettings()  # the defaults, seed random
    panel.top_k_spin.setValue(40)
    panel.seed_spin.setValue(0)  # 0 is a seed, not "random"
    panel.stop_edit.setPlainText("###\n\n  \nEnd\\n")
    s = panel.settings()
    assert (s.top_k, s.seed, s.stop) == (40, 0, ("###", "End\n"))
    assert parse_stops(format_stops(s.stop)) == s.stop
    assert not panel.problems_label.isVisible()
    panel.repetition_spin.setValue(0.2)
    assert panel.problems_label.isVisible() and "Repetition penalty" in panel.problems_label.text()
    assert not panel.save_preset_button.isEnabled()
    panel.show_settings(SamplingSettings(temperature=0.0, max_new_tokens=9999, seed=5), "Be brief.")
    s = panel.settings()
    assert (s.temperature, s.max_new_tokens, s.seed, s.repetition_penalty) == (0.0, 4096, 5, 1.0)
    assert panel.system_prompt() == "Be brief." and not panel.problems_label.isVisible()
    # No model loaded: no presets to apply or save to.
    assert not panel.apply_preset_button.isEnabled() and not panel.save_preset_button.isEnabled()


def test_the_conversation_list_searches_in_a_worker(qtbot, store, monkeypatch):
    model = store.add_base_model("tiny", "tiny", "/nowhere", "f" * 64).id
    kettle = store.add_conversation("Kettle return", model)
    store.add_turn(kettle.id, "user", "Can I return the kettle?")
    order = store.add_conversation("Order", model)
    store.add_turn(order.id, "user", "Where is my ORDER?")
    store.add_conversation("nothing said yet", model)
    threads = []
    real = conversations.list_conversations

    def recorded(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(conversations, "list_conversations", recorded)
    clist = ConversationList()
    qtbot.addWidget(clist)
    clist.set_store(store)
    qtbot.waitUntil(lambda: not clist.busy and clist.model.rowCount() == 2, timeout=30000)
    assert sorted(clist.model.titles()) == ["Kettle return", "Order"]
    clist.search_edit.setText("order")  # any message's text, any case
    qtbot.waitUntil(lambda: not clist.busy and clist.model.titles() == ["Order"], timeout=30000)
    assert clist.count_label.text() == "1 found"
    opened = []
    clist.open_requested.connect(opened.append)
    clist.open_row(0)
    assert [c.id for c in opened] == [order.id]
    assert threads and not any(threads)  # every search ran off the GUI thread
