"""The Train page's regression gate: it lists the project's suites and their metrics (loaded in a
worker), builds the rule the right way round for each metric, blocks Start while incomplete, and
is attached to the run it starts."""

from __future__ import annotations

import pytest

from workbench.core.eval_records import EvalItem, GenerationSettings, MetricSpec
from workbench.services import datasets

ITEMS = [EvalItem("a", [{"role": "user", "content": "hi"}], ["hello"])]


@pytest.fixture
def gate_window(open_window, make_jsonl, tmp_path):
    store = open_window.ctx.store
    datasets.import_dataset(store, make_jsonl(12))
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # enough to be queued (its queue start fails: no weights)
    store.add_base_model("some-model", "hf_folder", str(folder), "f" * 64)
    suite = store.add_suite("probe", ITEMS, [MetricSpec("rouge_l"), MetricSpec("perplexity")],
                            GenerationSettings(), {"kind": "hand"})
    open_window.ctx.datasets_changed.emit()
    open_window.ctx.models_changed.emit()
    open_window.set_page(2)
    return open_window, suite


def test_the_gate_rule_follows_the_metric_and_is_attached_to_the_run(qtbot, gate_window):
    window, suite = gate_window
    page = window.train_page
    box = page.gate_box
    qtbot.waitUntil(lambda: box.suite_combo.count() == 1, timeout=20000)
    assert box.suite_combo.currentData() == suite.id and "probe v1" in box.suite_combo.currentText()
    assert [box.metric_combo.itemData(i) for i in range(box.metric_combo.count())] == ["rouge_l", "perplexity"]
    assert box.gate() is None and page.validate() == []  # off: no gate, nothing blocks
    box.setChecked(True)
    box.margin_spin.setValue(0.05)
    rule = box.rule()
    assert (rule.metric, rule.op, rule.baseline, rule.margin) == ("rouge_l", ">=", "base", 0.05)
    box.metric_combo.setCurrentIndex(1)  # lower perplexity is better: it must not rise
    box.baseline_combo.setCurrentIndex(1)
    box.value_spin.setValue(30.0)
    assert box.rule().op == "<=" and box.rule().baseline == 30.0
    assert "perplexity <= 30" in box.rule_label.text()
    run_id = page.enqueue()
    assert run_id is not None
    gate = window.ctx.store.run_gate(run_id)
    assert gate.suite_id == suite.id and gate.every_checkpoint
    assert [(r.metric, r.op, r.baseline) for r in gate.rules] == [("perplexity", "<=", 30.0)]


def test_a_gate_without_a_suite_blocks_start(qtbot, open_window, make_jsonl, tmp_path):
    store = open_window.ctx.store
    datasets.import_dataset(store, make_jsonl(12))
    store.add_base_model("some-model", "hf_folder", str(tmp_path / "m"), "f" * 64)
    open_window.ctx.datasets_changed.emit()
    open_window.ctx.models_changed.emit()
    open_window.set_page(2)
    page = open_window.train_page
    qtbot.waitUntil(lambda: "No eval suites yet" in page.gate_box.rule_label.text(), timeout=20000)
    page.gate_box.setChecked(True)
    assert any("regression gate" in p for p in page.validate())
    assert not page.start_button.isEnabled()
