"""The baseline of bench_train.py: a plain transformers Trainer + peft LoRA script, written the
way the peft / transformers docs show it, with no Workbench code.

    python tests/benchmarks/plain_trainer.py CONFIG.json

CONFIG: {model, data (JSONL of {"messages": [...]}), r, alpha, dropout, lr, batch_size,
max_length, max_steps, seed, target_modules}. Prints one JSON line on stdout at the first optimizer
step (BENCH {"first_step": unix time}) and one at the end (BENCH ({"train_seconds", "tokens", "examples",
"losses"}).
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        cfg = json.load(f)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    tokenizer = AutoTokenizer.from_pretrained(cfg["model"])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    with open(cfg["data"], encoding="utf-8") as f:
        rows = [json.loads(line)["messages"] for line in f if line.strip()]
    features = []
    for messages in rows:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=cfg["max_length"])["input_ids"]
        features.append({"input_ids": ids})
    set_seed(cfg["seed"])
    model = AutoModelForCausalLM.from_pretrained(cfg["model"])
    model.config.use_cache = False
    model = get_peft_model(model, LoraConfig(r=cfg["r"], lora_alpha=cfg["alpha"], lora_dropout=cfg["dropout"],
                                             task_type="CAUSAL_LM", target_modules=cfg.get("target_modules")))
    losses: list[float] = []

    class Report(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 1:
                print("BENCH " + json.dumps({"first_step": time.time()}), flush=True)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    args = TrainingArguments(
        output_dir=cfg["out"], per_device_train_batch_size=cfg["batch_size"], learning_rate=cfg["lr"],
        max_steps=cfg["max_steps"], logging_steps=1, save_strategy="no", report_to=[], seed=cfg["seed"],
        disable_tqdm=True, use_cpu=not __import__("torch").cuda.is_available(),
        include_num_input_tokens_seen="non_padding", dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=features,
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False), callbacks=[Report()])
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    print("BENCH " + json.dumps({"train_seconds": seconds, "tokens": int(trainer.state.num_input_tokens_seen),
                      "examples": cfg["max_steps"] * cfg["batch_size"], "losses": losses}), flush=True)


if __name__ == "__main__":
    main()
