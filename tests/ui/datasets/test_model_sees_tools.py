"""The "as the model sees it" panel with a tool-calling row: tool calls highlighted as trained
(in their own colour), tool results marked as read but not trained, a legend, and the
conversation tab writing the calls out; a row without tools keeps the plain legend."""

from __future__ import annotations

import pytest

from tests.helpers.dataset_ui import add_version
from tests.helpers.tool_template import build_tool_folder, tool_conversation
from workbench.ui.datasets.model_sees.panel import CONVERSATION, TEMPLATE
from workbench.ui.datasets.rows_model import summarize
from workbench.ui.datasets.model_sees.template_view import (
    TOOL_CALL_BG,
    TOOL_CALL_TOKEN_BG,
    TOOL_RESULT_BG,
    TRAINED_BG,
)


@pytest.fixture(scope="module")
def tool_folder(tmp_path_factory):
    return build_tool_folder(tmp_path_factory.mktemp("tool-template"))


def _wait(qtbot, panel):
    qtbot.waitUntil(lambda: panel.template_task is None and panel.template_view.rendered is not None, timeout=30000)


def test_tool_turns_as_the_model_sees_them(open_window, tool_folder, qtbot):
    store = open_window.ctx.store
    model = store.add_base_model("qwen-style-tools", "hf_folder", str(tool_folder), "test")
    plain = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    version = add_version(store, [plain, tool_conversation("Oslo", 4)], name="weather")
    open_window.ctx.models_changed.emit()
    page = open_window.datasets_page
    page.refresh(select_id=version.id)
    panel = page.inspector
    panel.set_model(model.id)
    panel.max_spin.setValue(4096)  # the test tokenizer's small vocabulary makes many tokens

    page.go_to_row(1)
    panel.tabs.setCurrentIndex(CONVERSATION)
    transcript = panel.conversation.toPlainText()
    assert '→ calls get_weather({"city": "Oslo"})' in transcript and "4 C and sunny" in transcript

    panel.tabs.setCurrentIndex(TEMPLATE)
    _wait(qtbot, panel)
    view = panel.template_view
    assert view.rendered.index == 1 and not view.rendered.truncated
    assert "trained on (assistant replies and tool calls, highlighted)" in view.header.text()
    assert view.legend.isVisible() and "tool result: read, not trained on" in view.legend.text()
    html = view.browser.toHtml()
    for color in (TRAINED_BG["light"], TOOL_CALL_BG["light"], TOOL_RESULT_BG["light"]):
        assert color in html
    text = view.browser.toPlainText()
    assert "<tool_call>" in text and "<tool_response>" in text and '"name": "get_weather"' in text
    view.tokens_check.setChecked(True)
    assert any(c in view.browser.toHtml() for c in TOOL_CALL_TOKEN_BG["light"])

    page.go_to_row(0)  # a row without tools: no tool colours, the plain legend
    qtbot.waitUntil(lambda: panel.template_view.rendered is not None and panel.template_view.rendered.index == 0,
                    timeout=30000)
    view.tokens_check.setChecked(False)
    assert TOOL_CALL_BG["light"] not in view.browser.toHtml()
    assert "tool call" not in view.legend.text() and "(assistant replies, highlighted)" in view.header.text()


def test_the_rows_table_summarises_a_tool_call_as_the_first_reply():
    summary = summarize({"index": 3, "messages": tool_conversation("Lima", 20)})
    assert summary.roles == "U A T A" and summary.first_user == "What is the weather in Lima?"
    assert summary.first_assistant == '→ calls get_weather({"city": "Lima"})'
