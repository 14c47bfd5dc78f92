"""`workbench eval gate`: a rule as a script writes it, attached to a run, and the gate's state
as the evals decide it (eval runs written through the real store: no child needed)."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.eval_results import add_eval, make_suite
from workbench.cli_eval_gate import parse_rule
from workbench.core.errors import WorkbenchError
from workbench.core.eval_records import EvalModel, GateRule


@pytest.mark.parametrize("text, rule", [
    ("exact_match>=base", GateRule("exact_match", ">=", "base", 0.0)),
    ("rouge_l >= base - 0.02", GateRule("rouge_l", ">=", "base", 0.02)),
    ("perplexity<=12.5+0.5", GateRule("perplexity", "<=", 12.5, 0.5)),
    ("judge>=0.8", GateRule("judge", ">=", 0.8, 0.0)),
])
def test_rules_parse(text, rule):
    assert parse_rule(text) == rule


@pytest.mark.parametrize("text", ["exact_match > base", "rouge_l>=base+0.1", "perplexity<=3-1", "=base"])
def test_bad_rules_say_what_a_rule_looks_like(text):
    with pytest.raises(WorkbenchError) as info:
        parse_rule(text)
    assert "--rule" in info.value.user_message and "--rule" in info.value.advice or "margin" in info.value.user_message


def test_a_gate_is_attached_and_decided_by_its_evals(capsys, store, tmp_path):
    version_id = store.add_version(dataset_id=store.add_dataset("d").id, content_hash="h", blob_path="b",
                                   row_count=1, format="x", source_name="s", source_size=1, source_hash="sh").id
    model_id = store.add_base_model("stand-in", "hf_folder", str(tmp_path / "m"), "c" * 64).id
    run = store.add_run(name="tuned", dataset_version_id=version_id, base_model_id=model_id, config={},
                        status="completed", work_dir="runs/tuned", step=30, total_steps=30,
                        adapter_path="runs/tuned/adapter")
    os.makedirs(store.abspath("runs/tuned/adapter"))
    with open(store.abspath("runs/tuned/adapter/adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA"}, f)
    suite = make_suite(store, [["Paris"], ["four"]], metrics=("exact_match",), name="capitals")
    wb = lambda *a: run_cli(capsys, *a, "--project", store.path)  # noqa: E731
    bad = wb("eval", "gate", "tuned", "--suite", "capitals", "--rule", "nonsense>=base")
    assert bad.returncode != 0 and "nonsense" in bad.stderr
    done = wb("eval", "gate", "tuned", "--suite", "capitals", "--rule", "exact_match>=base-0.1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "pending"
    assert store.run_gate(run.id).rules == [GateRule("exact_match", ">=", "base", 0.1)]
    add_eval(store, suite, ["Paris", "five"], model=EvalModel(model_id, label="base"), purpose="gate",
             summary={"exact_match": 0.5})
    add_eval(store, suite, ["Paris", "six"], purpose="gate", summary={"exact_match": 0.5},
             model=EvalModel(model_id, run_id=run.id, checkpoint="final", step=30, label="tuned · final"))
    shown = wb("eval", "gate", "tuned")
    assert shown.returncode == 0 and "gate passed" in shown.stdout and "step 30: 0.5" in shown.stdout
    add_eval(store, suite, ["Rome", "six"], purpose="gate", summary={"exact_match": 0.0},
             model=EvalModel(model_id, run_id=run.id, checkpoint="final", step=30, label="tuned · final"))
    failed = wb("eval", "gate", "tuned", "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["state"] == "failed"
