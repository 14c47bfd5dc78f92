"""The Train page's method: SFT or DPO (with beta), DPO asks for a preference version, and
"Start from" offers the base model or a finished run's adapter; a DPO run started from the page
trains from an SFT run started from the page, on the real engine."""

from __future__ import annotations

import pytest

from workbench.core.records import TrainConfig

CHOSEN = "Thank you, your order is on its way."


def pick(combo, data) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


@pytest.fixture
def pref_window(tiny_window):
    """The tiny window (an SFT version, the tiny model) plus a preference version named Pairs."""
    from workbench.services import datasets

    rows = [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": CHOSEN}],
             "rejected": [{"role": "assistant", "content": "No. Go away."}], "source": {"i": i}} for i in range(8)]
    version = datasets.create_version_from_rows(tiny_window.ctx.store, dataset_name="Pairs", rows=rows,
                                                kind="preference", source_name="test")
    tiny_window.ctx.datasets_changed.emit()
    return tiny_window, version


def _sft_version(store):
    return next(v for v in store.list_versions() if v.kind == "sft")


def test_method_selector_beta_and_the_data_it_needs(pref_window):
    window, pairs = pref_window
    page = window.train_page
    method, beta = page.form.widgets["method"], page.form.widgets["beta"]
    assert [method.itemText(i) for i in range(method.count())] == [
        "SFT (conversations)", "DPO (preference pairs)", "ORPO (preference pairs)", "KTO (preference pairs, unpaired)"]
    pick(method, "sft")
    assert not beta.isEnabled()  # beta means nothing to SFT
    pick(page.dataset_combo, _sft_version(window.ctx.store).id)
    assert page.start_action.isEnabled()
    pick(method, "dpo")
    assert beta.isEnabled()
    problems = page.validate()
    assert any("DPO trains on preference pairs" in p for p in problems), problems
    assert not page.start_action.isEnabled()
    assert "DPO trains on preference pairs" in page.validation_label.text()
    pick(page.dataset_combo, pairs.id)
    assert page.validate() == [] and page.start_action.isEnabled()
    beta.setValue(0.0)
    assert any(p.startswith("Beta must be above 0") for p in page.validate())
    assert "beta" in page.form.invalid_fields()
    beta.setValue(0.3)
    config, _ = page.form.config()
    assert config.method == "dpo" and config.beta == 0.3
    pick(method, "kto")  # KTO's own rule shows on the form like the others
    page.form.widgets["batch_size"].setValue(1)
    assert any("KTO needs a batch size of at least 2" in p for p in page.validate())
    page.form.widgets["batch_size"].setValue(4)
    page.form.widgets["max_steps"].setValue(0)
    page.form.widgets["epochs"].setValue(1.0)
    # KTO trains each pair as two rows: twice the steps of an epoch.
    assert page.estimate_label.text() == "8 pairs (16 rows) · about 4 optimisation steps"
    pick(method, "orpo")
    assert page.estimate_label.text() == "8 pairs · about 2 optimisation steps"
    assert beta.isEnabled() and page.validate() == []
    assert page.form.config()[0].method == "orpo"


def test_start_from_lists_only_the_base_model_without_finished_runs(pref_window):
    window, _pairs = pref_window
    combo = window.train_page.start_from
    assert [combo.itemText(i) for i in range(combo.count())] == ["Base model (a new adapter)"]
    assert combo.init_run_id() is None


@pytest.mark.slow
def test_dpo_from_an_sft_run_started_on_the_page(pref_window, qtbot):
    window, pairs = pref_window
    page, store = window.train_page, window.ctx.store
    short = TrainConfig(r=4, alpha=8, learning_rate=5e-3, max_steps=2, batch_size=4, max_length=192, save_steps=0)
    page.load_config(short)
    pick(page.dataset_combo, _sft_version(store).id)
    page.name_edit.setText("sft")
    sft_id = page.start()
    assert sft_id is not None
    qtbot.waitUntil(lambda: store.get_run(sft_id).status not in ("queued", "running"), timeout=180_000)
    assert store.get_run(sft_id).status == "completed", store.get_run(sft_id).error
    # Starting showed the Runs page; back on Train, the finished run is offered as a start
    # (runs_changed, heard while the page was hidden, refreshes it when shown).
    window.set_page(2)
    qtbot.waitUntil(lambda: page.start_from.findData(sft_id) >= 0, timeout=10_000)
    assert page.start_from.itemText(page.start_from.findData(sft_id)).startswith("sft  (SFT, 2 steps)")
    page.load_config(short.replace(method="dpo", beta=0.2, max_length=64, max_steps=3))
    pick(page.dataset_combo, pairs.id)
    assert page.start_from.choose(sft_id)
    page.name_edit.setText("dpo")
    dpo_id = page.start()
    assert dpo_id is not None
    run = store.get_run(dpo_id)
    assert run.init_run_id == sft_id and run.train_config.method == "dpo" and run.train_config.beta == 0.2
    qtbot.waitUntil(lambda: store.get_run(dpo_id).status not in ("queued", "running"), timeout=180_000)
    run = store.get_run(dpo_id)
    assert run.status == "completed", run.error
    assert len(store.metric_series(dpo_id, "rewards/accuracies")) == 3
