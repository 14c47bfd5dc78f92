"""Train page: the form validates through TrainConfig.validate() and blocks a bad config."""

from __future__ import annotations

import pytest

from workbench.services import datasets


@pytest.fixture
def train_window(open_window, make_jsonl, tmp_path):
    store = open_window.ctx.store
    datasets.import_dataset(store, make_jsonl(40))
    # A registered base model (its folder is never loaded by these tests).
    store.add_base_model("some-model", "hf_folder", str(tmp_path / "model"), "f" * 64)
    open_window.ctx.datasets_changed.emit()
    open_window.ctx.models_changed.emit()
    open_window.set_page(2)
    return open_window


def test_empty_project_explains_what_is_missing(open_window):
    page = open_window.train_page
    open_window.set_page(2)
    problems = page.validate()
    assert "Add a base model on the Models page first." in problems
    assert "Import a dataset on the Datasets page first." in problems
    assert not page.start_button.isEnabled()
    assert page.validation_label.isVisibleTo(page)
    assert page.start() is None
    assert open_window.ctx.store.list_runs() == []


def test_valid_form_enables_start_and_shows_an_estimate(train_window):
    page = train_window.train_page
    assert page.model_combo.count() == 1 and page.dataset_combo.count() == 1
    assert page.validate() == []
    assert page.start_button.isEnabled()
    assert not page.validation_label.isVisibleTo(page)
    page.batch_spin.setValue(4)
    page.epochs_spin.setValue(2)
    assert page.estimate_label.text() == "40 conversations · about 20 optimisation steps"
    page.steps_spin.setValue(7)
    assert "about 7 optimisation steps" in page.estimate_label.text()


@pytest.mark.parametrize("change, message", [
    (lambda p: p.r_spin.setValue(0), "LoRA rank r must be at least 1."),
    (lambda p: p.lr_edit.setText("fast"), "Learning rate must be a number, e.g. 2e-4."),
    (lambda p: p.lr_edit.setText("3"), "Learning rate must be between 0 and 1"),
    (lambda p: (p.epochs_spin.setValue(0), p.steps_spin.setValue(0)),
     "Set a number of epochs or a maximum number of steps."),
    (lambda p: p.length_spin.setValue(4), "Max length must be at least 8 tokens."),
    (lambda p: p.batch_spin.setValue(0), "Batch size must be at least 1."),
])
def test_bad_values_block_start_with_an_inline_message(train_window, change, message):
    page = train_window.train_page
    change(page)
    assert any(p.startswith(message) for p in page.problems())
    assert message.split(" (")[0] in page.validation_label.text()
    assert not page.start_button.isEnabled()
    page.start_button.click()  # disabled: nothing happens
    assert page.start() is None
    assert train_window.ctx.store.list_runs() == []
    assert train_window.current_page() == 2


def test_config_reflects_the_form(train_window):
    page = train_window.train_page
    page.r_spin.setValue(16)
    page.alpha_spin.setValue(32)
    page.dropout_spin.setValue(0.1)
    page.lr_edit.setText("5e-4")
    page.steps_spin.setValue(30)
    page.batch_spin.setValue(2)
    page.length_spin.setValue(128)
    page.seed_spin.setValue(7)
    config, problems = page.config()
    assert problems == []
    assert (config.r, config.alpha, config.dropout, config.learning_rate) == (16, 32, 0.1, 5e-4)
    assert (config.max_steps, config.batch_size, config.max_length, config.seed) == (30, 2, 128, 7)


def test_missing_model_folder_is_reported_not_crashed(train_window):
    """RunManager refuses a base model whose folder is gone; the page shows its message."""
    from workbench.ui.errors import open_error_dialogs

    page = train_window.train_page
    assert page.start() is None
    boxes = open_error_dialogs()
    assert boxes and "missing on this machine" in boxes[0].text()
    assert train_window.current_page() == 2
