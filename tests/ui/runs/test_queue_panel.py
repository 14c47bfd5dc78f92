"""The Runs page's queue: runs queued in a project start one after another when the window
has it open; the queue panel lists the waiting ones in order, and its actions (with their
shortcuts) move and remove them. The training children are the stand-ins of
tests/services/test_run_manager.py (they speak the real protocol; no torch)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import Qt

from tests.services.test_run_manager import STAND_IN
from workbench.core.records import TrainConfig
from workbench.jobs import launch
from workbench.services import datasets
from workbench.services.runs import RunManager
from workbench.store import ProjectStore
from workbench.ui.shell.main_window import RUNS


@pytest.fixture
def queued_project(tmp_path, make_jsonl, monkeypatch):
    """A closed project with three runs queued (a, b, c) and a base model folder start() accepts."""
    monkeypatch.setattr(launch, "engine_argv", lambda verb, spec, *_: [sys.executable, "-c", STAND_IN, spec, "cooperative"])
    store = ProjectStore.create(str(tmp_path / "Queue.wbproj"))
    version = datasets.import_dataset(store, make_jsonl(6))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    model = store.add_base_model("stand-in", "hf_folder", str(model_dir), "b" * 64)
    manager = RunManager(store)
    ids = [manager.enqueue(version.id, model.id, TrainConfig(max_steps=100), name=n).id for n in "abc"]
    path = store.path
    store.close()
    return path, ids


def _listed(panel) -> list[str]:
    return [panel.model.index(i).data() for i in range(panel.model.rowCount())]


def _statuses(page) -> dict[str, str]:
    """Run name -> status, as the Runs table shows them."""
    from workbench.ui.runs.table_model import COLUMN_KEYS, NAME_COL

    status = COLUMN_KEYS.index("status")
    proxy = page.proxy
    return {proxy.index(i, NAME_COL).data(): proxy.index(i, status).data() for i in range(proxy.rowCount())}


def test_the_queue_runs_one_at_a_time_and_its_panel_moves_and_removes(window, qtbot, queued_project):
    path, (a, b, c) = queued_project
    assert window.open_project(path)
    window.set_page(RUNS)
    page = window.runs_page
    panel = page.queue
    qtbot.waitUntil(lambda: window.ctx.active_run_ids() == [a], timeout=15000)  # the head starts
    qtbot.waitUntil(lambda: _listed(panel) == ["1. b", "2. c"], timeout=15000)
    # The row follows the poll that started it (the panel may show the queue a poll earlier).
    qtbot.waitUntil(lambda: _statuses(page) == {"a": "running", "b": "queued", "c": "queued"}, timeout=15000)

    assert page.tabs.tabText(page.tabs.indexOf(panel)) == "Queue (2)"
    page.tabs.setCurrentWidget(panel)  # the Queue tab
    panel.view.setFocus()
    panel.select(c)
    assert panel.up_action.isEnabled() and not panel.down_action.isEnabled()
    qtbot.keyClick(panel.view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)  # Move Up
    assert _listed(panel) == ["1. c", "2. b"] and panel.selected_run_id() == c
    assert window.ctx.runs.queued_run_ids() == [c, b]  # the project's order, not only the view's
    panel.select(b)
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)  # Remove from Queue
    assert _listed(panel) == ["1. c"]
    qtbot.waitUntil(lambda: _statuses(page).get("b") == "cancelled", timeout=15000)

    page.select_run(a)
    page.cancel_button.click()  # a saves and stops; then c starts
    qtbot.waitUntil(lambda: window.ctx.active_run_ids() == [c], timeout=30000)
    qtbot.waitUntil(lambda: _listed(panel) == [] and panel.empty.isVisible(), timeout=15000)
    assert not panel.remove_action.isEnabled()
