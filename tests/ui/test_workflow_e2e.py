"""The whole loop through the GUI with the real engine: train from the Train page, watch the
curve on the Runs page, then chat with the new adapter."""

from __future__ import annotations

import pytest

from workbench.ui.shell.main_window import CHAT, RUNS, TRAIN

pytestmark = pytest.mark.slow


def test_train_watch_and_chat_with_the_adapter(window, qtbot, demo_store):
    assert window.open_project(demo_store.path)
    window.set_page(TRAIN)
    form = window.train_page
    form.r_spin.setValue(16)
    form.alpha_spin.setValue(32)
    form.lr_edit.setText("5e-3")
    form.steps_spin.setValue(12)
    form.batch_spin.setValue(8)
    form.length_spin.setValue(160)
    form.name_edit.setText("ui-e2e")
    assert form.validate() == []
    form.start_button.click()
    assert window.current_page() == RUNS
    runs = window.runs_page
    assert runs.selected_run().name == "ui-e2e"
    assert runs.cancel_button.isEnabled()
    assert window.job_label.isVisible()

    # The curve only ever grows while the child trains. (How many points a poll sees depends on
    # the machine's speed: a fast one may finish 12 steps within one poll. The curve growing
    # point by point as events arrive is tested with a stand-in child in test_runs_page.py.)
    from workbench.ui.runs.table_model import COLUMN_KEYS

    run_id = runs.selected_run().id

    def loss_steps() -> list[int]:
        data = runs.chart.data(run_id)
        return [] if data is None or "loss" not in data.buffers else list(data.buffers["loss"].step)

    def cell(key: str) -> str:
        return runs.proxy.index(0, COLUMN_KEYS.index(key)).data()

    seen = []
    qtbot.waitUntil(lambda: seen.append(len(loss_steps())) or cell("status") == "completed", timeout=300000)
    run = window.ctx.store.get_run(run_id)
    assert run.status == "completed", run.error
    qtbot.waitUntil(lambda: len(loss_steps()) == 12, timeout=15000)
    assert seen == sorted(seen), "the curve lost points while the run trained"
    assert loss_steps() == list(range(1, 13))
    assert cell("steps") == "12 / 12"
    assert "adapter" in runs.details.toPlainText().lower()
    assert window.job_status.isHidden()

    # Chat with this run: the Chat page selects the adapter and loads it.
    assert runs.chat_button.isEnabled()
    runs.chat_button.click()
    chat = window.chat_page
    assert window.current_page() == CHAT
    assert chat.selected_choice().key == (run.base_model_id, run.id)
    assert chat.client is not None and chat.client.run.id == run.id
    qtbot.waitUntil(lambda: chat.state == "ready", timeout=120000)
    chat.max_tokens_spin.setValue(12)
    chat.input.setPlainText("Where is my order?")
    chat.send_button.click()
    qtbot.waitUntil(lambda: chat.state == "ready" and bool(chat.messages[-1]["content"]), timeout=60000)
    assert chat.messages[-1]["role"] == "assistant"
