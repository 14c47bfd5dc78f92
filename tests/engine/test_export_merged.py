"""The `export` verb: a LoRA adapter (final, best or a checkpoint-N) merged into its base model
is a plain HF folder that bare transformers loads, with the chat template, and that generates
the same greedy tokens as base + adapter."""

from __future__ import annotations

import json
import os

import pytest

from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import run_engine
from workbench.core.records import TrainConfig
from workbench.jobs.specs import ExportSpec, TrainSpec

PROMPT = [{"role": "user", "content": "My order #4411 arrived damaged. What now?"}]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir):
    """12 LoRA steps with checkpoints every 4 and evaluation, so final, best and checkpoint-N exist."""
    tmp = tmp_path_factory.mktemp("export")
    train = write_parquet(ticket_conversations(40), str(tmp / "train.parquet"))
    val = write_parquet(ticket_conversations(8, seed=3), str(tmp / "val.parquet"))
    out = tmp / "run"
    spec = TrainSpec(run_id="run-x", base_model_path=tiny_model_dir, dataset_path=train, output_dir=str(out),
                     journal_path=str(out / "journal.jsonl"), stop_file=str(out / "STOP"),
                     eval_dataset_path=val, base_model_fingerprint="sha256:base",
                     config=TrainConfig(r=8, alpha=16, learning_rate=5e-3, max_steps=12, batch_size=8,
                                        max_length=128, save_steps=4, eval_steps=4, seed=3))
    result = run_engine("train", spec, str(tmp / "train.spec.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return out


def _export(tmp_path, base, adapter, name="merged", **extra):
    spec = ExportSpec(base_model_path=base, adapter_path=str(adapter), output_dir=str(tmp_path / name),
                      journal_path=str(tmp_path / f"{name}.journal.jsonl"), **extra)
    return spec, run_engine("export", spec, str(tmp_path / f"{name}.spec.json"))


def _greedy(model, tokenizer, n=20) -> list[int]:
    import torch

    ids = tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)["input_ids"]
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                             min_new_tokens=n, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return out[0, ids.shape[1]:].tolist()


# The final adapter; kept checkpoints and best/ go through the same code and are exported by
# tests/services/test_exports.py (checkpoint-4, through the CLI) and tests/ui/runs/test_export_dialog.py (best/).
@pytest.mark.parametrize("which", ["adapter"])
def test_merged_folder_loads_plainly_and_generates_like_base_plus_adapter(run_dir, tmp_path, tiny_model_dir, which):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = run_dir / which
    spec, result = _export(tmp_path, tiny_model_dir, adapter, run_id="run-x", checkpoint=which, step=8,
                           base_model_fingerprint="sha256:base")
    assert result.rc == 0, result.stderr[-3000:]
    done = result.last("completed").payload
    assert done["path"] == str(tmp_path / "merged") and done["dtype"] == "float32" and done["device"] == "cpu"
    fractions = [e.payload["fraction"] for e in result.events if e.kind == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("float32" in e.payload["message"] for e in result.events if e.kind == "progress")
    out = tmp_path / "merged"
    names = set(os.listdir(out))
    assert {"model.safetensors", "config.json", "generation_config.json", "workbench_export.json"} <= names
    assert not any(n.startswith("adapter_") for n in names)  # a model, not an adapter
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".merged.")]  # no temporary folder left

    merged = AutoModelForCausalLM.from_pretrained(str(out)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    assert not hasattr(merged, "peft_config")
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    base_ids = _greedy(base, tokenizer)
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                             str(adapter)).eval()
    adapter_ids = _greedy(with_adapter, tokenizer)
    merged_ids = _greedy(merged, tokenizer)
    assert len(merged_ids) == 20
    assert merged_ids == adapter_ids
    assert adapter_ids != base_ids  # the adapter changed the model: the merge is not the base again

    record = json.load(open(out / "workbench_export.json"))
    assert record["run_id"] == "run-x" and record["checkpoint"] == which and record["step"] == 8
    assert record["base_model_fingerprint"] == "sha256:base" and record["dtype"] == "float32"
    assert record["adapter_path"] == str(adapter)
    # A bare generate() stops at the end of a reply, as Workbench's chat does.
    gen = json.load(open(out / "generation_config.json"))
    eos = gen["eos_token_id"]
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in (eos if isinstance(eos, list) else [eos])


def test_the_best_checkpoint_exports_too(run_dir, tmp_path, tiny_model_dir):
    assert os.path.isfile(run_dir / "best" / "adapter_config.json")
    _spec, result = _export(tmp_path, tiny_model_dir, run_dir / "best", checkpoint="best")
    assert result.rc == 0, result.stderr[-3000:]
    record = json.load(open(tmp_path / "merged" / "workbench_export.json"))
    # best/ carries the run record, so its provenance reaches the export without the spec saying it.
    assert record["run_id"] == "run-x" and record["base_model_fingerprint"] == "sha256:base"


def test_a_folder_without_adapter_config_fails_with_advice(run_dir, tmp_path, tiny_model_dir):
    broken = tmp_path / "checkpoint-3"
    broken.mkdir()
    (broken / "trainer_state.json").write_text("{}")
    _spec, result = _export(tmp_path, tiny_model_dir, broken)
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_config" and "adapter_config.json" in failed["message"]
    assert "--checkpoint" in failed["advice"]
    assert not (tmp_path / "merged").exists()


def test_a_missing_base_model_fails_with_advice(run_dir, tmp_path):
    _spec, result = _export(tmp_path, str(tmp_path / "gone"), run_dir / "adapter")
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "missing_model" and "Models page" in failed["advice"]


def test_a_folder_of_other_files_is_never_replaced(run_dir, tmp_path, tiny_model_dir):
    mine = tmp_path / "merged"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    _spec, result = _export(tmp_path, tiny_model_dir, run_dir / "adapter")
    assert result.rc == 1 and "not a Workbench export" in result.last("failed").payload["message"]
    assert os.listdir(mine) == ["notes.txt"]
    # A previous export is replaced, though.
    (mine / "notes.txt").unlink()
    assert _export(tmp_path, tiny_model_dir, run_dir / "adapter")[1].rc == 0
    assert _export(tmp_path, tiny_model_dir, run_dir / "checkpoints" / "checkpoint-4")[1].rc == 0
    assert json.load(open(mine / "workbench_export.json"))["adapter_path"].endswith("checkpoint-4")


def test_stop_on_stdin_cancels_and_leaves_nothing(run_dir, tmp_path, tiny_model_dir):
    spec = ExportSpec(base_model_path=tiny_model_dir, adapter_path=str(run_dir / "adapter"),
                      output_dir=str(tmp_path / "merged"))
    result = run_engine("export", spec, str(tmp_path / "x.spec.json"), stdin_text="stop\n")
    assert result.rc == 0 and result.kinds()[-1] == "cancelled", result.stderr[-2000:]
    assert os.listdir(tmp_path) == ["x.spec.json"]
