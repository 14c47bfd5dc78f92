"""The training knobs reach the Trainer and peft: evaluation on a validation part with the best
checkpoint kept, checkpoint rotation, schedules, gradient accumulation and checkpointing, LoRA
variants, packing, loss on all tokens, and what a run measures (peak memory, tokens/s)."""

from __future__ import annotations

import json
import math
import os

import pytest

from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import run_engine
from workbench.core.records import TrainConfig
from workbench.jobs.specs import TrainSpec


def _spec(tmp_path, base, dataset, name, config, **extra) -> TrainSpec:
    run_dir = tmp_path / name
    return TrainSpec(run_id=name, base_model_path=base, dataset_path=dataset, output_dir=str(run_dir),
                     journal_path=str(run_dir / "journal.jsonl"), stop_file=str(run_dir / "STOP"),
                     config=config, **extra)


def _logged(result, name):
    return [(e.payload["step"], e.payload["values"][name]) for e in result.events
            if e.kind == "log" and name in e.payload["values"]]


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory, tiny_model_dir):
    tmp = tmp_path_factory.mktemp("knobs")
    train = write_parquet(ticket_conversations(40), str(tmp / "train.parquet"))
    val = write_parquet(ticket_conversations(12, seed=5), str(tmp / "val.parquet"))
    config = TrainConfig(r=4, alpha=8, learning_rate=5e-3, max_steps=8, batch_size=4, grad_accum=2,
                         max_length=96, lr_scheduler="cosine", warmup_ratio=0.25, weight_decay=0.01,
                         max_grad_norm=0.5, eval_steps=2, save_steps=2, keep_checkpoints=2,
                         target_modules="all-linear", use_rslora=True, gradient_checkpointing=True)
    spec = _spec(tmp, tiny_model_dir, train, "eval-run", config, eval_dataset_path=val,
                 dataset_version_id="v1", dataset_hash="abc", split_seed=11,
                 base_model_fingerprint="sha256:f", author="ana")
    result = run_engine("train", spec, str(tmp / "eval.spec.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return spec, result


def test_evaluates_on_the_validation_part_with_perplexity(eval_run):
    _spec_, result = eval_run
    evals = _logged(result, "eval_loss")
    assert [s for s, _ in evals] == [2, 4, 6, 8]
    ppl = dict(_logged(result, "eval_perplexity"))
    assert all(ppl[s] == pytest.approx(math.exp(v), rel=1e-6) for s, v in evals)
    assert result.last("started").payload["eval_rows"] == 12


def test_the_best_checkpoint_is_kept_and_exported_as_a_peft_folder(eval_run, tiny_model_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    spec, result = eval_run
    evals = _logged(result, "eval_loss")
    best_step = min(evals, key=lambda sv: sv[1])[0]
    ckpts = sorted(os.listdir(os.path.join(spec.output_dir, "checkpoints")))
    # The last K=2 are kept, and the best one besides them when it is older.
    assert f"checkpoint-{best_step}" in ckpts and "checkpoint-8" in ckpts and len(ckpts) <= 3
    done = result.last("completed").payload
    assert done["best_eval_loss"] == pytest.approx(min(v for _, v in evals))
    best = done["best_path"]
    assert json.load(open(os.path.join(best, "workbench_run.json")))["checkpoint"] == f"checkpoint-{best_step}"
    for folder in (best, done["adapter_path"], os.path.join(spec.output_dir, "checkpoints", "checkpoint-8")):
        PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), folder)


def test_schedule_accumulation_and_lora_variants_reach_the_trainer(eval_run):
    spec, result = eval_run
    lrs = [v for _, v in _logged(result, "learning_rate")]
    assert lrs[0] < lrs[1]  # warmup over the first quarter of 8 steps
    assert lrs[-1] < max(lrs) / 2  # then cosine decay
    assert result.last("started").payload["effective_batch"] == 8
    adapter_cfg = json.load(open(os.path.join(result.last("completed").payload["adapter_path"], "adapter_config.json")))
    assert adapter_cfg["use_rslora"] is True
    assert {"c_attn", "c_proj", "c_fc"} <= {name.rsplit(".", 1)[-1] for name in adapter_cfg["target_modules"]}


def test_the_run_records_provenance_peak_memory_and_throughput(eval_run):
    spec, result = eval_run
    done = result.last("completed").payload
    assert done["peak_memory_kind"] == "peak_rss" and done["peak_memory_bytes"] > 50 * 2**20
    assert done["tokens_per_s"] > 0 and done["tokens_seen"] > 8 * 8 * 10
    record = json.load(open(os.path.join(done["adapter_path"], "workbench_run.json")))
    assert (record["dataset_version_id"], record["dataset_hash"], record["split_seed"]) == ("v1", "abc", 11)
    assert (record["base_model_fingerprint"], record["author"]) == ("sha256:f", "ana")
    assert record["environment"]["torch"] and record["environment"]["precision"] == "fp32"
    assert record["peak_memory_bytes"] == done["peak_memory_bytes"] and record["tokens_per_s"] > 0


def test_dora_loss_on_all_tokens_and_bf16_on_cpu(tmp_path, tiny_model_dir):
    dataset = write_parquet(ticket_conversations(8), str(tmp_path / "t.parquet"))
    config = TrainConfig(r=4, alpha=8, max_steps=2, batch_size=4, max_length=96, use_dora=True,
                         loss_on="all", precision="bf16", save_steps=0, target_modules=["c_attn"])
    spec = _spec(tmp_path, tiny_model_dir, dataset, "dora", config)
    result = run_engine("train", spec, str(tmp_path / "dora.json"))
    assert result.rc == 0, result.stderr[-3000:]
    done = result.last("completed").payload
    assert json.load(open(os.path.join(done["adapter_path"], "adapter_config.json")))["use_dora"] is True
    assert json.load(open(os.path.join(done["adapter_path"], "workbench_run.json")))["environment"]["precision"] == "bf16"


@pytest.mark.parametrize("knob", [{"precision": "fp16"}, {"quantization": "4bit"}], ids=["fp16", "qlora"])
def test_gpu_only_settings_on_cpu_are_refused_with_the_reason(tmp_path, tiny_model_dir, knob):
    dataset = write_parquet(ticket_conversations(4), str(tmp_path / "t.parquet"))
    spec = _spec(tmp_path, tiny_model_dir, dataset, "cpu", TrainConfig(max_steps=1, **knob))
    result = run_engine("train", spec, str(tmp_path / "cpu.json"))
    failed = result.last("failed").payload
    assert result.rc == 1 and failed["error_kind"] == "bad_config" and "CUDA" in failed["message"]
