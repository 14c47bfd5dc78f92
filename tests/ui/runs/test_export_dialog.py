"""Runs page: "Export merged model…" (Ctrl+E and its button) opens a dialog that lists the run's
checkpoints from a worker (best by default), merges the chosen one into a plain model folder in
the real export child with progress, and cancels without leaving a folder. The run exported is
"lr-high" of the Runs page's session runs (tests/ui/runs/conftest.py): a real 4-step run of the
tiny model on a split of the demo data that evaluates, so it keeps a best/ checkpoint."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from workbench.core.clock import new_id, now_iso
from workbench.core.records import TrainConfig
from workbench.ui.common.errors import open_error_dialogs
from workbench.ui.shell.main_window import RUNS

@pytest.fixture
def trained_project(trained_runs):
    """(project path, run id): this test's copy of the session's trained project (closed: each
    window opens it)."""
    return trained_runs.path, trained_runs.ids["lr-high"]


def _open_dialog(window, qtbot, project):
    path, run_id = project
    assert window.open_project(path)
    window.set_page(RUNS)
    page = window.runs_page
    page.select_run(run_id)
    assert page.export.button.isEnabled() and page.export.button.defaultAction() is page.export.action
    assert page.export.action.shortcut().toString() == "Ctrl+E"
    assert page.export.button.text() == "Export merged model…"
    page.export.action.trigger()
    dialog = page.export.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.task is not None and not dialog.export_button.isEnabled()  # listed in a worker
    qtbot.waitUntil(lambda: dialog.state == "ready", timeout=30000)
    return page, dialog


def _choose(dialog, label: str) -> None:
    dialog.checkpoint_combo.setCurrentIndex(dialog.checkpoint_combo.findData(label))


@pytest.mark.slow
def test_the_dialog_exports_the_chosen_checkpoint_as_a_plain_model(window, qtbot, trained_project, tmp_path):
    page, dialog = _open_dialog(window, qtbot, trained_project)
    combo = dialog.checkpoint_combo
    titles = [combo.itemText(i) for i in range(combo.count())]
    labels = [combo.itemData(i) for i in range(combo.count())]
    assert labels[:2] == ["final", "best"] and "checkpoint-4" in labels and "checkpoint-2" in labels
    assert titles[0].startswith("final (step 4")
    best = titles[1]
    assert best.startswith("best (step ") and "eval loss " in best  # step and the loss measured there
    assert combo.currentData() == "best"  # the default when the run kept one

    # Browse: an empty folder picked is the export folder itself.
    picked = tmp_path / "picked"
    picked.mkdir()
    dialog.ask_folder = lambda start: str(picked)
    dialog.browse_button.click()
    assert dialog.folder() == str(picked)

    out = tmp_path / "lr-high-merged"
    dialog.folder_edit.setText(str(out))
    dialog.export_button.click()
    assert dialog.busy and dialog.close_button.text() == "Cancel Export"
    assert not combo.isEnabled() and not dialog.export_button.isEnabled()
    seen = set()

    def finished() -> bool:
        seen.add(dialog.bar.value())
        return dialog.state == "completed"

    qtbot.waitUntil(finished, timeout=180000)
    assert len(seen) > 2 and dialog.bar.value() == 1000  # the bar followed the child's progress
    files = os.listdir(out)
    assert "model.safetensors" in files and "config.json" in files
    assert "tokenizer.json" in files and "tokenizer_config.json" in files
    record = json.load(open(out / "workbench_export.json"))
    assert record["checkpoint"] == "best" and record["run_name"] == "lr-high"
    assert str(out) in dialog.message.text() and "best (step " in dialog.message.text()
    assert dialog.load_line.isVisible() and dialog.load_line.text() == f"AutoModelForCausalLM.from_pretrained('{out}')"
    assert dialog.close_button.text() == "Close" and not open_error_dialogs()
    dialog.close_button.click()
    qtbot.waitUntil(lambda: page.export.dialog is None, timeout=5000)

    # Browse beside a folder that holds files: the export goes into a new folder inside it.
    dialog = page.export.open()
    qtbot.waitUntil(lambda: dialog.state == "ready", timeout=30000)
    dialog.ask_folder = lambda start: str(tmp_path)
    dialog.browse_button.click()
    assert dialog.folder() == str(tmp_path / "lr-high-merged")
    dialog.reject()

    # Closed at once, while its checkpoints are still being read: their answer still arrives.
    from workbench.ui.common import workers

    dialog = page.export.open()
    assert dialog.state == "listing"
    dialog.reject()
    qtbot.waitUntil(lambda: page.export.dialog is None and workers.active_task_count() == 0, timeout=30000)


@pytest.mark.slow
def test_cancel_leaves_no_folder_and_errors_are_shown(window, qtbot, trained_project, tmp_path):
    page, dialog = _open_dialog(window, qtbot, trained_project)
    _choose(dialog, "final")
    base = tmp_path / "exports"
    base.mkdir()
    out = base / "cancelled"
    dialog.folder_edit.setText(str(out))
    dialog.export_button.click()
    dialog.close_button.click()  # Cancel Export, at once (the child may not have started yet)
    assert dialog.close_button.text() == "Cancel Export" and not dialog.close_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.state == "ready", timeout=120000)
    assert "cancelled" in dialog.message.text() and dialog.isVisible()
    assert os.listdir(base) == []  # neither the folder nor a temporary one
    assert dialog.export_button.isEnabled() and dialog.checkpoint_combo.isEnabled()

    # A folder that holds someone's files is refused by the child, in the error dialog.
    taken = base / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    dialog.folder_edit.setText(str(taken))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: bool(open_error_dialogs()), timeout=120000)
    box = open_error_dialogs()[0]
    assert "already holds files that are not a Workbench export" in box.text()
    assert dialog.state == "ready" and os.listdir(taken) == ["notes.txt"]
    box.close()

    # Closing the dialog while the merge runs cancels it, and closes once the child has stopped.
    dialog.folder_edit.setText(str(out))
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.state == "running" and dialog.bar.value() > 0, timeout=120000)
    dialog.reject()
    assert dialog.isVisible()  # not before the child has stopped: it would be left unwatched
    qtbot.waitUntil(lambda: page.export.dialog is None, timeout=120000)  # closed and deleted
    assert sorted(os.listdir(base)) == ["taken"]


def test_export_is_offered_only_for_a_run_with_an_adapter(window, tmp_path, make_jsonl):
    from workbench.services import datasets
    from workbench.store import ProjectStore

    store = ProjectStore.create(str(tmp_path / "Failed.wbproj"))
    version = datasets.import_dataset(store, make_jsonl(5))
    model = store.add_base_model("tiny", "tiny", str(tmp_path / "model"), "a" * 64)
    run_id = new_id()
    store.add_run(id=run_id, name="broke", dataset_version_id=version.id, base_model_id=model.id,
                  config=dataclasses.asdict(TrainConfig(max_steps=4)), status="queued",
                  work_dir=os.path.join("runs", run_id), started_at=now_iso())
    store.finish_run(run_id, "failed", error="Bad data.")
    path = store.path
    store.close()
    assert window.open_project(path)
    window.set_page(RUNS)
    page = window.runs_page
    page.select_run(run_id)
    assert not page.export.button.isEnabled()
    assert "completed or cancelled run with an adapter" in page.export.button.toolTip()
    page.export.action.trigger()
    assert page.export.open() is None and page.export.dialog is None
