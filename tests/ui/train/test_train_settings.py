"""Save settings / Load settings (YAML and JSON, in a worker), Copy settings from run, and the
queue: Add to Queue beside Start and the line that says how many runs wait."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.core.train_config import TrainConfig, load_config_file

SETTINGS = TrainConfig(r=24, alpha=48, dropout=0.1, target_modules="all-linear", use_rslora=True,
                       learning_rate=3e-4, lr_scheduler="cosine", warmup_ratio=0.03, max_steps=90,
                       batch_size=2, grad_accum=4, max_length=192, packing=True, loss_on="all",
                       seed=11, eval_steps=30, save_steps=30, keep_checkpoints=2, auto_retry_oom=True)


@pytest.fixture
def page(tiny_window):
    return tiny_window.train_page


def _finish(qtbot, task):
    assert task is not None
    qtbot.waitUntil(lambda: not task.running, timeout=20000)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_save_then_load_round_trips_the_form_the_model_and_the_version(page, qtbot, tmp_path, suffix):
    model_id, version_id = page.model_combo.currentData(), page.dataset_combo.currentData()
    page.load_config(SETTINGS)
    page.name_edit.setText("my-run")
    path = str(tmp_path / f"settings{suffix}")
    _finish(qtbot, page.save_settings(path))  # written in a worker
    saved = load_config_file(path)
    assert saved.config == SETTINGS and saved.name == "my-run" and saved.dataset == version_id
    assert saved.base_model == page.model_name(model_id)
    page.load_config(TrainConfig())
    page.name_edit.clear()
    page.dataset_combo.setCurrentIndex(-1)
    _finish(qtbot, page.load_settings(path))
    assert page.form.config() == (SETTINGS, [])
    assert page.name_edit.text() == "my-run"
    assert (page.model_combo.currentData(), page.dataset_combo.currentData()) == (model_id, version_id)


def test_save_dialog_adds_the_chosen_formats_suffix():
    from workbench.ui.train.settings_files import with_suffix

    assert with_suffix("/x/run", "YAML (*.yaml *.yml)") == "/x/run.yaml"
    assert with_suffix("/x/run", "JSON (*.json)") == "/x/run.json"
    assert with_suffix("/x/run.yml", "JSON (*.json)") == "/x/run.yml"


def test_a_file_with_an_unknown_setting_is_refused_in_a_dialog_and_the_form_kept(page, qtbot, tmp_path):
    from workbench.ui.common.errors import open_error_dialogs

    path = tmp_path / "bad.yaml"
    path.write_text("config:\n  r: 32\n  learning_rat: 0.001\n", encoding="utf-8")
    before = page.form.config()
    _finish(qtbot, page.load_settings(str(path)))
    boxes = open_error_dialogs()
    assert boxes and "`learning_rat` is not a training setting" in boxes[0].text()
    assert "learning_rate" in boxes[0].informativeText()  # the nearest known key
    assert page.form.config() == before


def test_a_file_naming_a_model_this_project_lacks_loads_and_says_so(page, qtbot, tmp_path):
    from workbench.ui.common.errors import open_error_dialogs

    path = tmp_path / "other.json"
    path.write_text('{"base_model": "llama-70b", "r": 4}', encoding="utf-8")
    model_id = page.model_combo.currentData()
    _finish(qtbot, page.load_settings(str(path)))
    assert page.r_spin.value() == 4
    assert page.model_combo.currentData() == model_id  # kept as chosen
    boxes = open_error_dialogs()
    assert boxes and "'llama-70b'" in boxes[0].text()


def test_copy_settings_from_a_run_fills_the_form(page):
    store = page.ctx.store
    model, version = store.list_base_models()[0], store.list_versions()[0]
    for name, config in (("old", TrainConfig(r=4)), ("good-one", SETTINGS)):
        store.add_run(id=f"{name}-id", name=name, dataset_version_id=version.id, base_model_id=model.id,
                      config=dataclasses.asdict(config), status="completed", work_dir=f"runs/{name}")
    seen = []

    def answer(dialog) -> bool:
        seen.append([dialog.table.item(i, 0).text() for i in range(dialog.table.rowCount())])
        dialog.select_run("good-one-id")
        return True

    page.exec_dialog = answer
    page.copy_action.trigger()
    assert sorted(seen[0]) == ["good-one", "old"]
    assert page.form.config() == (SETTINGS, [])
    page.exec_dialog = lambda dialog: False  # cancelled: nothing changes
    page.load_config(TrainConfig())
    page.copy_action.trigger()
    assert page.form.config() == (TrainConfig(), [])


def test_add_to_queue_queues_the_run_and_the_line_counts_what_waits(tiny_window, qtbot):
    page = tiny_window.train_page
    assert page.queue_action.shortcut().toString() == "Ctrl+Shift+Return"
    assert not page.queue_label.isVisibleTo(page)
    tiny_window.ctx.runs.max_parallel = 0  # keep it waiting: this test is about the queue, not training
    page.name_edit.setText("later")
    page.queue_button.click()
    runs = tiny_window.ctx.store.list_runs()
    assert [(r.name, r.status) for r in runs] == [("later", "queued")]
    assert tiny_window.current_page() == 2  # queueing stays on the form
    assert "1 run waiting in the queue" in page.queue_label.text()
    page.queue_label.linkActivated.emit("runs")
    assert tiny_window.current_page() == 3
