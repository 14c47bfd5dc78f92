"""The Runs page shows a run's regression gate: the Gate column (passed / failed / pending) and
the Gate tab with the rule, the scores by step plotted, and the threshold."""

from __future__ import annotations

import json
import os

from tests.helpers.eval_results import add_eval, make_suite
from workbench.core.eval_records import EvalModel, GateRule
from workbench.core.records import TrainConfig
from workbench.ui.runs.page import TABS
from workbench.ui.runs.table_model import GATE_COL


def _gated_run(store, tmp_path):
    version = store.add_version(dataset_id=store.add_dataset("d").id, content_hash="h", blob_path="b", row_count=1,
                                format="x", source_name="s", source_size=1, source_hash="sh")
    model = store.add_base_model("stand-in", "hf_folder", str(tmp_path / "m"), "c" * 64)
    run = store.add_run(name="gated", dataset_version_id=version.id, base_model_id=model.id,
                        config=TrainConfig().__dict__, status="completed", work_dir="runs/gated", step=40,
                        total_steps=40, adapter_path="runs/gated/adapter")
    os.makedirs(store.abspath("runs/gated/adapter"))
    with open(store.abspath("runs/gated/adapter/adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA"}, f)
    suite = make_suite(store, [["Paris"], ["four"]], metrics=("exact_match",))
    from workbench.services import eval_gate

    eval_gate.attach_gate(store, run.id, suite.id, [GateRule("exact_match", ">=", "base", 0.0)], every_checkpoint=True)
    outputs = ["Paris", "five"]
    add_eval(store, suite, outputs, model=EvalModel(model.id, label="base"), purpose="gate",
             summary={"exact_match": 0.5})
    for checkpoint, step, score in (("checkpoint-20", 20, 0.25), ("final", 40, 1.0)):
        add_eval(store, suite, outputs, purpose="gate", summary={"exact_match": score},
                 model=EvalModel(model.id, run_id=run.id, checkpoint=checkpoint, step=step, label=f"gated · {checkpoint}"))
    return run


def test_the_gate_column_and_tab_show_the_runs_gate(qtbot, open_window, tmp_path):
    window = open_window
    run = _gated_run(window.ctx.store, tmp_path)
    window.ctx.refresh_runs()
    from workbench.ui.shell.main_window import RUNS

    window.set_page(RUNS)
    page = window.runs_page
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=20000)
    assert page.model.index(0, GATE_COL).data() == "passed"
    page.select_run(run.id)
    page.tabs.setCurrentIndex(TABS.index("Gate"))
    gate = page.gate
    qtbot.waitUntil(lambda: "Gate passed" in gate.state_label.text(), timeout=20000)
    assert "exact_match 1 >= 0.5" in gate.state_label.text()
    assert "20 ✗" in gate.state_label.text() and "✓ exact_match >= the base model" in gate.state_label.text()
    assert gate.series["exact_match"] == [(20, 0.25), (40, 1.0)]
    items = gate.plot.getPlotItem().listDataItems()
    xs, ys = items[0].getData()
    assert list(xs) == [20, 40] and list(ys) == [0.25, 1.0]
