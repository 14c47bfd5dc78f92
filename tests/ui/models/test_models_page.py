"""Models page: the table and details of registered models, built-in models through a worker,
local folders, and clear errors for folders that are not models."""

from __future__ import annotations

import json

import pytest

from workbench.ui.common.errors import open_error_dialogs
from workbench.ui.shell.main_window import MODELS


def _hf_folder(path, n_layer=2):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(
        {"model_type": "gpt2", "n_layer": n_layer, "n_embd": 64, "n_head": 2, "vocab_size": 1000,
         "n_positions": 256}), encoding="utf-8")
    (path / "model.safetensors").write_bytes(b"\0" * 2_000_000)
    return str(path)


def test_table_and_details(open_window, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "fresh-machine"))  # nothing built here
    store = open_window.ctx.store
    folder = _hf_folder(tmp_path / "my-model")
    store.add_base_model("my-model", "hf_folder", folder, "c" * 64)
    open_window.set_page(MODELS)
    page = open_window.models_page
    assert page.table.rowCount() == 1
    cells = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert cells[:4] == ["my-model", "local folder", folder, "c" * 15]
    # The folder is read in a worker: the details fill in when it is done.
    qtbot.waitUntil(lambda: "2.0 MB" in page.details.toPlainText(), timeout=10000)
    details = page.details.toPlainText()
    assert "gpt2" in details and "Layers" in details
    qtbot.waitUntil(lambda: page.states_task is None, timeout=10000)
    status = page.builtin_status["tiny"].text()
    assert "Not built yet" in status and "Built on this machine" not in status


def test_builtin_status_says_built_once_it_is(open_window, qtbot, tiny_model_dir):
    open_window.set_page(MODELS)
    page = open_window.models_page
    qtbot.waitUntil(lambda: page.states_task is None, timeout=10000)
    status = page.builtin_status["tiny"].text()
    assert "Built on this machine" in status and "Not built yet" not in status


def test_missing_folder_is_flagged(open_window, qtbot, tmp_path):
    open_window.ctx.store.add_base_model("gone", "hf_folder", str(tmp_path / "gone"), "d" * 64)
    open_window.set_page(MODELS)
    qtbot.waitUntil(lambda: "missing on this machine" in open_window.models_page.details.toPlainText(),
                    timeout=10000)


def test_model_folders_are_never_read_in_the_gui_thread(open_window, qtbot, tmp_path, monkeypatch):
    """The built-in check and the model facts read files: in workers only, not per refresh."""
    import threading

    from workbench.services import models

    store = open_window.ctx.store
    store.add_base_model("my-model", "hf_folder", _hf_folder(tmp_path / "my-model"), "c" * 64)
    threads = []
    for name in ("builtin_states", "model_facts"):
        real = getattr(models, name)

        def spy(*args, _real=real, **kwargs):
            threads.append(threading.current_thread() is threading.main_thread())
            return _real(*args, **kwargs)

        monkeypatch.setattr(models, name, spy)
    open_window.set_page(MODELS)
    page = open_window.models_page
    qtbot.waitUntil(lambda: page.states_task is None and page.facts_task is None, timeout=10000)
    calls = len(threads)
    assert calls >= 2 and not any(threads)
    for _ in range(5):  # repaints and refreshes read nothing again
        page.refresh()
        page.repaint()
    assert len(threads) == calls


def test_builtin_button_says_the_model_is_in_the_project(open_window, qtbot, tmp_path):
    """Once a built-in model is in the project its button is disabled and says so, also when
    the model was added elsewhere (another page, the CLI) and models_changed tells the page."""
    open_window.set_page(MODELS)
    page = open_window.models_page
    qtbot.waitUntil(lambda: page.states_task is None, timeout=10000)
    assert page.tiny_button.isEnabled() and page.tiny_button.text() in (
        "Build tiny demo model", "Add tiny demo model")
    open_window.ctx.store.add_base_model("tiny-gpt2-demo", "tiny", str(tmp_path / "tiny"), "a" * 64)
    open_window.ctx.models_changed.emit()
    assert page.tiny_button.text() == "Tiny demo model ✓ in project"
    assert not page.tiny_button.isEnabled()
    assert "tiny-gpt2-demo is in this project" in page.tiny_button.toolTip()
    assert page.smol_button.isEnabled() and "SmolLM2" in page.smol_button.text()
    assert "In this project." in page.builtin_status["tiny"].text()


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
    qtbot.waitUntil(lambda: "Built on this machine" in page.builtin_status["tiny"].text(), timeout=10000)
    assert page.tiny_button.text() == "Add tiny demo model"
    page.tiny_button.click()
    assert page.task is not None
    qtbot.waitUntil(lambda: page.task is None, timeout=120000)
    assert not open_error_dialogs()
    assert page.table.item(0, 0).text() == "tiny-gpt2-demo"
    assert page.table.item(0, 2).text() == tiny_model_dir
    assert "In this project." in page.builtin_status["tiny"].text()
    assert page.tiny_button.text() == "Tiny demo model ✓ in project" and not page.tiny_button.isEnabled()
