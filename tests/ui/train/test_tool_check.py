"""Train page: a dataset version with tool-calling conversations is checked against the chosen
base model's chat template (services.tool_check, in a worker) before a run can start; a template
that cannot show tools blocks Start and Add to Queue with the reason and advice."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture
def tool_window(open_window, make_jsonl, tiny_model_dir, tmp_path):
    from tests.helpers.tool_template import build_tool_folder
    from workbench.services import datasets, models

    store = open_window.ctx.store
    tools = datasets.import_dataset(store, str(SAMPLES / "tool_calls.jsonl"), name="support tools")
    plain = datasets.import_dataset(store, make_jsonl(10), name="plain chats")
    tiny = models.ensure_builtin_model(store, "tiny")  # ChatML without tools
    folder = build_tool_folder(tmp_path / "tool-chatml")
    capable = store.add_base_model("tool-chatml", "hf_folder", str(folder), "d" * 64)
    open_window.ctx.datasets_changed.emit()
    open_window.ctx.models_changed.emit()
    open_window.set_page(2)
    # The test tokenizers spend a token on most characters: every reply must start within it.
    open_window.train_page.length_spin.setValue(2048)
    return open_window, tools, plain, tiny, capable


def _choose(page, version_id, model_id) -> None:
    page.model_combo.setCurrentIndex(page.model_combo.findData(model_id))
    page.dataset_combo.setCurrentIndex(page.dataset_combo.findData(version_id))


def _checked(qtbot, page) -> None:
    qtbot.waitUntil(lambda: page.tools.known, timeout=30000)


def test_tool_data_on_a_template_without_tools_blocks_start_with_the_reason(tool_window, qtbot):
    window, tools, plain, tiny, _capable = tool_window
    page = window.train_page
    _choose(page, tools.id, tiny.id)
    assert page.tools.task is not None  # checked off the GUI thread
    _checked(qtbot, page)
    reason = page.tools.problem()
    assert reason is not None
    assert reason.startswith(f"The chat template of {Path(tiny.path).name} does not support tools, but the "
                             "dataset support tools has tool-calling conversations")
    assert "Pick a base model whose chat template renders tool calls" in reason  # the advice
    assert not page.start_button.isEnabled() and not page.queue_button.isEnabled()
    assert page.start_button.toolTip() == reason and page.queue_button.toolTip() == reason
    assert page.validation_label.isVisibleTo(page)
    assert "does not support tools" in page.validation_label.text()
    assert "Pick a base model" in page.validation_label.text()
    assert page.start() is None and page.enqueue() is None
    assert window.ctx.store.list_runs() == []


def test_the_same_version_on_a_tool_capable_template_can_start(tool_window, qtbot):
    window, tools, _plain, tiny, capable = tool_window
    page = window.train_page
    _choose(page, tools.id, tiny.id)
    _checked(qtbot, page)
    assert not page.start_button.isEnabled()
    _choose(page, tools.id, capable.id)
    _checked(qtbot, page)
    assert page.tools.problem() is None
    assert not any("support tools" in p for p in page.problems())
    qtbot.waitUntil(lambda: page.start_button.isEnabled(), timeout=30000)
    assert page.queue_button.isEnabled()
    # Each (version, model) is checked once: going back answers from what is known.
    _choose(page, tools.id, tiny.id)
    assert page.tools.task is None and page.tools.problem() is not None
    assert not page.start_button.isEnabled()


def test_a_version_without_tools_is_never_refused(tool_window, qtbot):
    window, _tools, plain, tiny, _capable = tool_window
    page = window.train_page
    _choose(page, plain.id, tiny.id)
    _checked(qtbot, page)
    assert page.tools.problem() is None
    assert not any("support tools" in p for p in page.problems())
    qtbot.waitUntil(lambda: page.start_button.isEnabled(), timeout=30000)
