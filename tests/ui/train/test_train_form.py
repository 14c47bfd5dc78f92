"""The Train form's knobs, driven through the real widgets: every TrainConfig field has a widget
and a tooltip and round-trips, presets apply and give way to custom, problems mark the knob and
block Start, Advanced hides and shows (and is remembered), target modules list the model's layers."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.core.train_config import PRESETS, TrainConfig, apply_preset

FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]
# A value other than the default for every field (checked below, so a new field cannot hide).
EVERYTHING_CHANGED = TrainConfig(
    r=12, alpha=24, dropout=0.1, target_modules=["c_attn", "c_fc"], use_dora=True, use_rslora=True,
    quantization="8bit", learning_rate=3.5e-4, lr_scheduler="cosine_with_restarts", warmup_ratio=0.05,
    weight_decay=0.01, max_grad_norm=0.5, epochs=2.5, max_steps=120, batch_size=6, grad_accum=3,
    max_length=384, packing=True, loss_on="all", precision="fp32", gradient_checkpointing=True, seed=7,
    eval_steps=25, save_steps=40, keep_checkpoints=5, auto_retry_oom=True, method="dpo", beta=0.25)


def pick(combo, data) -> None:
    """Choose an item the way a user does: the current index changes, then `activated`."""
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


@pytest.fixture
def page(open_window):
    open_window.set_page(2)
    return open_window.train_page


def test_every_field_has_a_widget_a_place_and_a_tooltip_that_gives_a_good_value(page):
    from workbench.ui.train import knobs

    placed = list(knobs.BASIC_FIELDS) + [n for _title, names in knobs.ADVANCED_GROUPS for n in names]
    assert sorted(placed) == sorted(FIELDS)  # each field exactly once
    for name in FIELDS:
        widget = page.form.widgets[name]
        assert widget.toolTip().strip(), name
        assert "Good value:" in widget.toolTip(), name
        label = page.form.labels.get(name)
        assert label is None or label.toolTip() == widget.toolTip()


def test_every_field_round_trips_config_to_widgets_to_config(page):
    default = TrainConfig()
    assert all(getattr(EVERYTHING_CHANGED, n) != getattr(default, n) for n in FIELDS)
    page.load_config(EVERYTHING_CHANGED)
    config, unreadable = page.form.config()
    assert unreadable == []
    assert config == EVERYTHING_CHANGED
    page.load_config(default)
    assert page.form.config() == (default, [])


def test_presets_apply_and_editing_one_of_their_knobs_switches_to_custom(page):
    page.seed_spin.setValue(1234)  # not a preset knob: kept
    before, _ = page.form.config()
    assert page.preset_combo.currentData() == "custom"
    pick(page.preset_combo, "quality")
    config, _ = page.form.config()
    assert config == apply_preset(before, "quality")
    assert config.seed == 1234 and config.target_modules == "all-linear" and config.epochs == 3.0
    assert page.preset_combo.currentData() == "quality"
    page.seed_spin.setValue(99)  # still every value of the preset
    assert page.preset_combo.currentData() == "quality"
    page.r_spin.setValue(40)
    assert page.preset_combo.currentData() == "custom"
    pick(page.preset_combo, "quick test")
    assert page.steps_spin.value() == PRESETS["quick test"]["max_steps"]
    assert page.r_spin.value() == PRESETS["quick test"]["r"]
    assert page.preset_combo.currentData() == "quick test"


def test_loading_settings_that_match_a_preset_shows_it(page):
    page.load_config(apply_preset(TrainConfig(seed=5), "balanced"))
    assert page.preset_combo.currentData() == "balanced"


@pytest.mark.parametrize("field, set_bad, message", [
    ("dropout", lambda p: p.dropout_spin.setValue(1.0), "LoRA dropout must be in [0, 1)"),
    ("keep_checkpoints", lambda p: p.form.widgets["keep_checkpoints"].setValue(0), "Keep at least 1 checkpoint"),
    ("grad_accum", lambda p: p.form.widgets["grad_accum"].setValue(0), "Gradient accumulation must be at least 1"),
    ("use_dora", lambda p: p.load_config(TrainConfig(use_dora=True, quantization="4bit")),
     "DoRA cannot be combined with 4-bit/8-bit quantisation"),
])
def test_an_invalid_knob_is_marked_and_blocks_start_with_its_message(train_window, field, set_bad, message):
    page = train_window.train_page
    assert page.start_action.isEnabled() and page.queue_action.isEnabled()
    set_bad(page)
    widget = page.form.widgets[field]
    assert widget.property("invalid") is True
    assert field in page.form.invalid_fields()
    assert message in page.validation_label.text()
    assert not page.start_button.isEnabled() and not page.queue_button.isEnabled()
    assert not page.start_action.isEnabled()
    first = page.problems()[0]
    assert page.start_button.toolTip() == first  # the first problem says why
    page.start_action.trigger()  # disabled: nothing happens
    assert train_window.ctx.store.list_runs() == []
    page.load_config(TrainConfig())
    assert not widget.property("invalid") and page.form.invalid_fields() == []
    assert page.start_button.isEnabled()


def test_a_learning_rate_that_is_not_a_number_marks_its_field(train_window):
    page = train_window.train_page
    page.lr_edit.setText("fast")
    assert page.lr_edit.property("invalid") is True
    assert page.problems() == ["Learning rate must be a number, e.g. 2e-4."]
    assert not page.start_button.isEnabled()


@pytest.fixture
def train_window(open_window, make_jsonl, tmp_path):
    from workbench.services import datasets

    store = open_window.ctx.store
    datasets.import_dataset(store, make_jsonl(40))
    store.add_base_model("some-model", "hf_folder", str(tmp_path / "model"), "f" * 64)
    open_window.ctx.datasets_changed.emit()
    open_window.ctx.models_changed.emit()
    open_window.set_page(2)
    return open_window


def test_advanced_toggle_hides_and_shows_the_groups_and_is_remembered(page, qtbot):
    from workbench.ui.train.page import TrainPage

    groups = page.form.groups
    assert set(groups) == {"Adapter", "Optimiser", "Data", "Machine", "Evaluation & checkpoints"}
    assert not page.advanced.isVisible()  # basics first
    assert page.form.basics.isVisible() and page.r_spin.isVisible()
    assert not page.form.widgets["warmup_ratio"].isVisible()
    page.advanced_button.click()
    assert page.advanced.isVisible() and all(g.isVisible() for g in groups.values())
    assert page.form.widgets["warmup_ratio"].isVisible()
    again = TrainPage()  # the next window opens it as it was left
    qtbot.addWidget(again)
    assert again.advanced_action.isChecked()
    page.advanced_button.click()
    assert not page.advanced.isVisible()
    later = TrainPage()
    qtbot.addWidget(later)
    assert not later.advanced_action.isChecked()


def test_effective_batch_and_validation_part_are_told_under_their_knobs(train_window):
    from workbench.services import dataset_ops

    page = train_window.train_page
    page.advanced_button.click()
    page.batch_spin.setValue(4)
    page.form.widgets["grad_accum"].setValue(4)
    assert "4 × 4 = 16" in page.form.notes["grad_accum"].text()
    assert "No validation part" in page.form.notes["eval_steps"].text()
    assert "Split it on the Datasets page" in page.form.notes["eval_steps"].toolTip()
    store = train_window.ctx.store
    parts = dataset_ops.make_split(store, store.list_versions()[0].id, counts={"validation": 4, "test": 4})
    train_window.ctx.datasets_changed.emit()
    page.dataset_combo.setCurrentIndex(page.dataset_combo.findData(parts["train"].id))
    assert "validation part (4 rows)" in page.form.notes["eval_steps"].text()
    page.form.widgets["eval_steps"].setValue(0)
    assert not page.form.notes["eval_steps"].isVisibleTo(page)


def test_target_modules_offer_the_models_own_linear_layers(tiny_window, qtbot):
    page = tiny_window.train_page
    page.advanced_button.click()
    targets = page.form.widgets["target_modules"]
    pick(targets.mode_combo, "choose")
    qtbot.waitUntil(lambda: targets.layer_list.count() > 0, timeout=20000)  # read in a worker
    names = [targets.layer_list.item(i).text() for i in range(targets.layer_list.count())]
    assert names == ["c_attn", "c_proj", "c_fc"]  # GPT-2's; not the embeddings, norms or head
    assert "Target modules must list at least one layer name" in page.validation_label.text()
    assert not page.start_button.isEnabled()
    from PySide6.QtCore import Qt

    for i in (0, 2):
        targets.layer_list.item(i).setCheckState(Qt.CheckState.Checked)
    assert page.form.config()[0].target_modules == ["c_attn", "c_fc"]
    assert targets.mode_combo.property("invalid") is False
    pick(targets.mode_combo, "all-linear")
    assert page.form.config()[0].target_modules == "all-linear"
    assert not targets.layer_list.isVisible()


def test_qlora_is_offered_disabled_with_the_reason_on_this_machine(page, qtbot):
    from workbench.services import fit

    available, reason = fit.quantization_support()
    if available:
        pytest.skip("this machine has CUDA and bitsandbytes")
    combo = page.form.widgets["quantization"]
    model = combo.model()
    qtbot.waitUntil(lambda: not model.item(combo.findData("4bit")).isEnabled()
                    and reason in (model.item(combo.findData("4bit")).toolTip() or ""), timeout=20000)
    for value in ("4bit", "8bit"):
        item = model.item(combo.findData(value))
        assert not item.isEnabled() and reason in item.toolTip()
    assert model.item(combo.findData("none")).isEnabled()
    assert "off here" in combo.toolTip()
    page.load_config(TrainConfig(quantization="4bit"))  # e.g. a teammate's file from a GPU machine
    assert combo.currentData() == "4bit"  # shown as it is, not silently changed
    assert any("not available here" in p for p in page.problems())
    assert combo.property("invalid") is True


def test_page_commands_are_shortcuts_while_the_page_is_on_screen(train_window, qtbot):
    from PySide6.QtCore import Qt

    from workbench.ui.common.errors import open_error_dialogs

    page = train_window.train_page
    train_window.activateWindow()
    qtbot.waitUntil(lambda: train_window.isActiveWindow(), timeout=15000)
    page.name_edit.setFocus()
    qtbot.keyClick(page.name_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert page.advanced.isVisible()
    qtbot.keyClick(page.name_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    # Start was tried: this fixture's model folder does not exist, and the dialog says so.
    boxes = open_error_dialogs()
    assert boxes and "missing on this machine" in boxes[0].text()
    for box in boxes:
        box.close()
    train_window.set_page(0)  # another page on screen: the Train page's keys do nothing
    qtbot.keyClick(train_window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert page.advanced_action.isChecked()
