"""services.chat_child: a real chat child with an adapter, driven through ChatChild, and
adapter_folder's answers for base models, runs and missing checkpoints."""

from __future__ import annotations

import time

import pytest

from workbench.core.chat_records import ChatTarget, SamplingSettings
from workbench.core.errors import ModelError
from workbench.services.chat_child import ChatChild, adapter_folder

MSGS = [{"role": "user", "content": "Hello there"}]


def _until(child, kind, timeout=120):
    events, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = child.poll()
        events += batch
        if any(e.kind in (kind, "failed") for e in batch):
            return events
        time.sleep(0.02)
    raise AssertionError(f"no {kind} within {timeout}s: {[e.kind for e in events]}")


@pytest.mark.slow
def test_chat_child_generates_batches_renders_and_stops(tiny_model_dir, tmp_path):
    import torch  # noqa: F401  (tests may; the service does not)
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = str(tmp_path / "lora")
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                   LoraConfig(r=4, init_lora_weights=False, target_modules=["c_attn"])).save_pretrained(adapter)
    child = ChatChild(tiny_model_dir, {"lora": adapter}, str(tmp_path / "work")).start()
    try:
        ready = _until(child, "ready")[-1]
        assert ready.kind == "ready" and child.state == "ready" and child.loaded == ["lora"]
        assert child.context_limit == 512
        greedy = SamplingSettings(temperature=0, max_new_tokens=12)
        child.send_generate("one", MSGS, "lora", greedy)
        done = _until(child, "done")[-1]
        assert done.kind == "done" and done.payload["id"] == "one" and done.payload["tokens"] > 0
        child.send_generate_many("many", [{"key": "x", "messages": MSGS, "adapter": "lora"},
                                          {"key": "y", "messages": MSGS, "adapter": None}], greedy)
        events = _until(child, "batch_done")
        dones = {e.payload["key"]: e.payload["text"] for e in events if e.kind == "done"}
        assert dones["x"] == done.payload["text"] and set(dones) == {"x", "y"}
        child.send_render("r", MSGS)
        rendered = _until(child, "rendered")[-1]
        assert rendered.payload["text"].endswith("assistant\n") and rendered.payload["tokens"] > 0
        child.send_generate("long", MSGS, None, {"temperature": 0.9, "max_new_tokens": 400, "seed": 1})
        _until(child, "token")
        child.stop("long")
        stopped = [e for e in _until(child, "done") if e.kind == "done"][-1]
        assert stopped.payload["id"] == "long" and stopped.payload["finish_reason"] in ("interrupted", "stop")
    finally:
        child.close()
    assert not child.alive() and child.state == "closed"


def test_adapter_folder_base_final_checkpoint_and_missing(demo_store):
    import os

    model = demo_store.list_base_models()[0]
    assert adapter_folder(demo_store, ChatTarget(model.id)) is None
    run = demo_store.add_run(id="r1", name="r1", dataset_version_id=demo_store.list_versions()[0].id,
                             base_model_id=model.id, config={}, status="completed", work_dir="runs/r1",
                             adapter_path="runs/r1/adapter")
    work = demo_store.abspath("runs/r1")
    for folder in ("adapter", "checkpoints/checkpoint-5"):
        os.makedirs(os.path.join(work, folder))
        with open(os.path.join(work, folder, "adapter_config.json"), "w") as f:
            f.write("{}")
    assert adapter_folder(demo_store, ChatTarget(model.id, run.id)) == os.path.join(work, "adapter")
    assert adapter_folder(demo_store, ChatTarget(model.id, run.id, "checkpoint-5")) == \
        os.path.join(work, "checkpoints", "checkpoint-5")
    with pytest.raises(ModelError, match="has no checkpoint-7 adapter") as err:
        adapter_folder(demo_store, ChatTarget(model.id, run.id, "checkpoint-7"))
    assert "checkpoint-5" in err.value.advice
    with pytest.raises(ModelError, match="another base model"):
        adapter_folder(demo_store, ChatTarget("other-model", run.id))
