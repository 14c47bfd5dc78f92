"""An arena's models for tests: a copy of the tiny model that never ends a reply by itself
(every reply runs to the token limit or Stop, so every side streams tokens) and a finished run
holding a real LoRA adapter of it (seeded random weights, scaled up: its replies differ from the base's)."""

from __future__ import annotations

import json
import shutil

from workbench.core.chat_records import ChatTarget


def no_eos_copy(tiny_model_dir, folder) -> str:
    shutil.copytree(tiny_model_dir, folder)
    gen = json.loads((folder / "generation_config.json").read_text())
    gen["suppress_tokens"] = [gen["eos_token_id"]]
    (folder / "generation_config.json").write_text(json.dumps(gen))
    return str(folder)


def base_and_adapter(store, tiny_model_dir, tmp_path) -> tuple[ChatTarget, ChatTarget]:
    """(the base model, a completed run's adapter on it), registered in `store`."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tests.helpers.rows import chat, write_jsonl
    from workbench.services import datasets, models

    model = models.add_local_model(store, no_eos_copy(tiny_model_dir, tmp_path / "tiny-no-eos"))
    version = datasets.import_dataset(store, str(write_jsonl(tmp_path / "chats.jsonl",
                                                             [chat(f"q{i}", f"a{i}") for i in range(4)])))
    run = store.add_run(id="tuned", name="tuned-lora", dataset_version_id=version.id, base_model_id=model.id,
                        config={}, status="completed", work_dir="runs/tuned", adapter_path="runs/tuned/adapter")
    import torch

    torch.manual_seed(0)  # the same adapter every time; a large alpha: its replies differ from the base's
    lora = LoraConfig(r=4, lora_alpha=256, init_lora_weights=False, target_modules=["c_attn"])
    get_peft_model(AutoModelForCausalLM.from_pretrained(model.path), lora).save_pretrained(
        store.abspath("runs/tuned/adapter"))
    return ChatTarget(model.id), ChatTarget(model.id, run.id)
