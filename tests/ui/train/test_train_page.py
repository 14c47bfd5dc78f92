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
    (lambda p: p.r_spin.setValue(0), "LoRA rank r must be at least 1 "),
    (lambda p: p.lr_edit.setText("fast"), "Learning rate must be a number, e.g. 2e-4."),
    (lambda p: p.lr_edit.setText("3"), "Learning rate must be between 0 and 1"),
    (lambda p: (p.epochs_spin.setValue(0), p.steps_spin.setValue(0)),
     "Set a number of epochs or a maximum number of steps."),
    (lambda p: p.length_spin.setValue(8), "Max length must be at least 32 tokens"),
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
    from workbench.ui.common.errors import open_error_dialogs

    page = train_window.train_page
    assert page.start() is None
    boxes = open_error_dialogs()
    assert boxes and "missing on this machine" in boxes[0].text()
    assert train_window.current_page() == 2


# -- which version: split parts told apart, and a warning before training on a test part -------
@pytest.fixture
def split_window(train_window):
    from workbench.services import dataset_ops

    store = train_window.ctx.store
    whole = store.list_versions()[0]
    parts = dataset_ops.make_split(store, whole.id, counts={"validation": 4, "test": 4})
    train_window.ctx.datasets_changed.emit()
    return train_window, whole, parts


def _select(page, version_id):
    page.dataset_combo.setCurrentIndex(page.dataset_combo.findData(version_id))


def test_dataset_picker_names_each_part_and_its_parent(split_window):
    window, whole, parts = split_window
    combo = window.train_page.dataset_combo
    texts = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
    assert len(set(texts.values())) == 4  # validation and test have 4 rows each, yet differ
    assert texts[whole.id] == "chats v1 · imported · 40 rows"
    for name, v in parts.items():
        assert f"· {name} part of split of v1 · {v.row_count} rows" in texts[v.id]
        assert texts[v.id].startswith("chats v")


def test_a_new_split_preselects_its_train_part_never_the_test_part(train_window):
    from workbench.services import dataset_ops

    store = train_window.ctx.store
    page = train_window.train_page
    page.dataset_combo.setCurrentIndex(-1)  # nothing chosen yet
    parts = dataset_ops.make_split(store, store.list_versions()[0].id, counts={"validation": 4, "test": 4})
    train_window.ctx.datasets_changed.emit()
    assert page.dataset_combo.currentData() == parts["train"].id
    texts = [page.dataset_combo.itemText(i) for i in range(3)]
    assert [t.split(" · ")[1].split(" ")[0] for t in texts] == ["train", "validation", "test"]


def test_test_part_warns_inline_and_asks_before_training(split_window):
    from workbench.ui.common.errors import open_error_dialogs

    window, _whole, parts = split_window
    page = window.train_page
    asked: list[str] = []
    answer = [False]
    page.confirm_test_part = lambda title: asked.append(title) or answer[0]
    _select(page, parts["test"].id)
    assert page.part_warning.isVisibleTo(page)
    assert "test part of a split" in page.part_warning.text()
    assert "train part of split of v1" in page.part_warning.text()  # what to pick instead
    assert page.start() is None  # declined: nothing starts
    assert asked == [page.dataset_combo.currentText()] and "test part" in asked[0]
    assert window.ctx.store.list_runs() == [] and not open_error_dialogs()
    answer[0] = True
    assert page.start() is None  # accepted: the run is attempted (this model's folder is missing)
    assert len(asked) == 2 and "missing on this machine" in open_error_dialogs()[0].text()


def test_train_part_is_not_warned_about(split_window):
    from workbench.ui.common.errors import open_error_dialogs

    window, _whole, parts = split_window
    page = window.train_page
    asked: list[str] = []
    page.confirm_test_part = lambda title: asked.append(title) or False
    for name in ("train", "validation"):
        _select(page, parts[name].id)
        assert not page.part_warning.isVisibleTo(page)
        page.start()
    assert asked == []
    assert len(open_error_dialogs()) >= 1  # it went on to start (and the missing folder stopped it)


# -- max length against the data ----------------------------------------------------------------
LATE_REPLY = [{"role": "user", "content": "Where is my order? " * 12}, {"role": "assistant", "content": "Tomorrow."}]
SHORT = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "world!"}]


@pytest.fixture
def fit_window(open_window, tmp_path):
    from tests.helpers.dataset_ui import add_version, chatml_model

    store = open_window.ctx.store
    folder = chatml_model(tmp_path / "chatml")
    model = store.add_base_model("chatml", "hf_folder", str(folder), "e" * 64)
    late = add_version(store, [LATE_REPLY] * 6, name="late")
    mixed = add_version(store, [SHORT] * 3 + [LATE_REPLY] * 2, name="mixed")
    open_window.ctx.datasets_changed.emit()
    open_window.ctx.models_changed.emit()
    open_window.set_page(2)
    return open_window, model, late, mixed


def _fitted(qtbot, page):
    qtbot.waitUntil(lambda: page.fit.counts(page.length_spin.value()) is not None, timeout=20000)


def test_fit_line_counts_rows_cut_and_dropped_measured_in_a_worker(fit_window, qtbot):
    from workbench.services import dataset_ops

    from tests.helpers.dataset_ui import add_version

    window, model, late, _mixed = fit_window
    page = window.train_page
    # A version made now, with the page shown: the fixture's versions may have been measured
    # already while the page was shown (a full CI run saw no task for them here).
    mixed = add_version(window.ctx.store, [SHORT] * 3 + [LATE_REPLY] * 2, name="fresh")
    window.ctx.datasets_changed.emit()
    qtbot.waitUntil(lambda: page.dataset_combo.findData(mixed.id) >= 0, timeout=20000)
    _select(page, mixed.id)
    assert page.fit.task is not None  # measured off the GUI thread
    assert "Measuring" in page.fit_label.text()
    _fitted(qtbot, page)
    page.length_spin.setValue(48)
    expected = dataset_ops.token_fit(window.ctx.store, mixed.id, model.id).at(48)
    assert expected.dropped == 2 and expected.truncated == 2  # the late replies
    text = page.fit_label.text()
    assert "chatml's tokenizer" in text and "2 rows of 5 longer than 48 tokens" in text
    assert "2 rows dropped (no assistant reply starts within 48 tokens)" in text
    assert page.estimate_label.text().startswith("3 of 5 conversations kept")
    assert page.start_button.isEnabled()  # some rows remain: a warning, not a block
    page.length_spin.setValue(1024)
    assert "every row fits in 1,024 tokens" in page.fit_label.text()
    # Cached per (version, model): coming back to it measures nothing again.
    _select(page, late.id)
    _fitted(qtbot, page)
    _select(page, mixed.id)
    assert page.fit.task is None and "every row fits" in page.fit_label.text()


def test_a_max_length_that_drops_every_row_blocks_the_run(fit_window, qtbot):
    window, _model, late, _mixed = fit_window
    page = window.train_page
    _select(page, late.id)
    page.length_spin.setValue(32)
    _fitted(qtbot, page)
    shortest = page.fit.counts(32).shortest_fit
    assert shortest > 32
    assert not page.start_button.isEnabled()
    assert "Max length 32 drops all 6 rows" in page.validation_label.text()
    assert f"Raise it to at least {shortest}" in page.validation_label.text()
    assert page.start() is None and window.ctx.store.list_runs() == []
    page.length_spin.setValue(shortest)
    assert page.fit.problem(shortest) is None
    assert "drops all" not in " ".join(page.problems())


def test_stats_tab_and_train_page_start_from_the_same_max_length(open_window):
    from workbench.core.records import TrainConfig

    stats_default = open_window.datasets_page.inspector.max_spin.value()
    assert stats_default == open_window.train_page.length_spin.value() == TrainConfig().max_length


def test_the_fit_line_shows_the_counts_as_soon_as_they_arrive(fit_window, qtbot):
    """No edit after the measurement: the line must not keep saying "Measuring…"."""
    window, _model, _late, mixed = fit_window
    page = window.train_page
    _select(page, mixed.id)
    assert "Measuring" in page.fit_label.text()
    _fitted(qtbot, page)
    qtbot.waitUntil(lambda: page.fit.task is None, timeout=20000)
    assert "Measuring" not in page.fit_label.text()
    assert "chatml's tokenizer" in page.fit_label.text()


def test_showing_the_page_reads_the_project_only_after_a_change(train_window, monkeypatch):
    """Switching to Train must not read the project's models and versions in the GUI thread
    every time (page switches stay smooth); a change heard while hidden is read once."""
    from workbench.services import train_form

    reads = []
    real = train_form.train_choices
    monkeypatch.setattr(train_form, "train_choices", lambda store: reads.append(1) or real(store))
    for _ in range(3):
        train_window.set_page(0)
        train_window.set_page(2)
    assert reads == []
    train_window.set_page(0)
    train_window.ctx.datasets_changed.emit()
    train_window.ctx.models_changed.emit()
    assert reads == []  # hidden: noted, not read
    train_window.set_page(2)
    assert len(reads) == 1
