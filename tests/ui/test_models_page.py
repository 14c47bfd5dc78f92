"""Models page: the table and details of registered models, built-in models through a worker,
local folders, and clear errors for folders that are not models."""

from __future__ import annotations

import json

import pytest

from workbench.ui.errors import open_error_dialogs
from workbench.ui.main_window import MODELS


def _hf_folder(path, n_layer=2):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "n_layer": n_layer, "n_embd": 64, "n_head": 2, "vocab_size": 1000,
         "n_positions": 256}), encoding="utf-8")
    (path / "model.safetensors").write_bytes(b"\0" * 2_000_000)
    return str(path)


def test_table_and_details(open_window, tmp_path):
    store = open_window.ctx.store
    folder = _hf_folder(tmp_path / "my-model")
    store.add_base_model("my-model", "hf_folder", folder, "c" * 64)
    open_window.set_page(MODELS)
    page = open_window.models_page
    assert page.table.rowCount() == 1
    cells = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert cells[:4] == ["my-model", "local folder", folder, "c" * 15]
    details = page.details.toPlainText()
    assert "gpt2" in details and "Layers" in details and "2.0 MB" in details
    assert "Not built yet" in page.builtin_status["tiny"].text() or \
        "Built on this machine" in page.builtin_status["tiny"].text()


def test_missing_folder_is_flagged(open_window, tmp_path):
    open_window.ctx.store.add_base_model("gone", "hf_folder", str(tmp_path / "gone"), "d" * 64)
    open_window.set_page(MODELS)
    assert "missing on this machine" in open_window.models_page.details.toPlainText()


def test_adding_a_folder_that_is_not_a_model_shows_why(open_window, qtbot, tmp_path):
    page = open_window.models_page
    (tmp_path / "empty").mkdir()
    task = page.add_local_folder(str(tmp_path / "empty"))
    with qtbot.waitSignal(task.done, timeout=10000):
        pass
    boxes = open_error_dialogs()
    assert boxes and "is not a Hugging Face model folder" in boxes[0].text()
    assert "config.json" in boxes[0].informativeText()
    assert page.table.rowCount() == 0 and page.local_button.isEnabled()


def test_add_local_folder_registers_it(open_window, qtbot, tmp_path):
    page = open_window.models_page
    task = page.add_local_folder(_hf_folder(tmp_path / "local"))
    assert not page.tiny_button.isEnabled()  # one model job at a time
    with qtbot.waitSignal(task.done, timeout=10000):
        pass
    assert page.table.rowCount() == 1 and page.selected_model().name == "local"
    assert open_window.train_page.model_combo.count() == 1  # the Train page heard about it


@pytest.mark.slow
def test_build_tiny_model_through_the_page(open_window, qtbot, tiny_model_dir):
    """The tiny model is cached for the session, so this registers it through the real service."""
    open_window.set_page(MODELS)
    page = open_window.models_page
    assert "Built on this machine" in page.builtin_status["tiny"].text()
    page.tiny_button.click()
    assert page.task is not None
    qtbot.waitUntil(lambda: page.task is None, timeout=120000)
    assert not open_error_dialogs()
    assert page.table.item(0, 0).text() == "tiny-gpt2-demo"
    assert page.table.item(0, 2).text() == tiny_model_dir
    assert "In this project." in page.builtin_status["tiny"].text()
