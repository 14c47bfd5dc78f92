"""Packing: conversations share rows of max_length tokens, each attends only to itself (the
model gives every conversation the logits it gives it alone), and a packed run trains on every
conversation with fewer rows."""

from __future__ import annotations


from tests.engine.demo_corpus import shop_conversations, write_parquet
from tests.engine.engine_helpers import run_engine
from workbench.core.records import TrainConfig
from workbench.engine.packing import PackedCollator, PackedDataset, pack
from workbench.engine.train_data import IGNORE_INDEX, Example, tokenize_all
from workbench.jobs.specs import TrainSpec


def _examples(lengths):
    return [Example(list(range(1, n + 1)), [IGNORE_INDEX] * 2 + list(range(3, n + 1))) for n in lengths]


def test_rows_hold_every_conversation_once_within_max_length():
    examples = _examples([30, 5, 12, 40, 7, 7, 22, 3, 50, 18])
    rows = pack(examples, 50)
    assert all(len(r.input_ids) <= 50 for r in rows)
    assert sum(r.sequences for r in rows) == len(examples)
    assert sorted(len(r.input_ids) for r in rows) and sum(len(r.input_ids) for r in rows) == 194
    assert len(rows) == 4  # 194 tokens in rows of 50: best-fit decreasing needs the minimum
    for r in rows:
        starts = [k for k, p in enumerate(r.position_ids) if p == 0]
        assert len(starts) == r.sequences and all(r.labels[k] == IGNORE_INDEX for k in starts)


def test_each_packed_conversation_gets_the_logits_it_gets_alone(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    model.config.use_cache = False
    data = tokenize_all(tok, [r["messages"] for r in shop_conversations(12)], 160, "chats")
    rows = pack(data.examples, 160)
    assert len(rows) < len(data.examples)
    batch = PackedCollator(tok.pad_token_id or 0)([PackedDataset(rows)[i] for i in range(len(rows))])
    assert "attention_mask" not in batch
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits
        worst = 0.0
        for k, row in enumerate(rows):
            starts = [j for j, p in enumerate(row.position_ids) if p == 0] + [len(row.input_ids)]
            for a, b in zip(starts, starts[1:]):
                alone = model(input_ids=torch.tensor([row.input_ids[a:b]])).logits[0]
                worst = max(worst, (alone - packed[k, a:b]).abs().max().item())
    assert worst < 1e-4


def test_a_packed_run_trains_on_every_conversation_in_fewer_rows(tmp_path, tiny_model_dir):
    dataset = write_parquet(shop_conversations(24), str(tmp_path / "mixed.parquet"))
    config = TrainConfig(r=4, alpha=8, learning_rate=5e-3, max_steps=6, batch_size=2, max_length=192,
                         packing=True, save_steps=0)
    run_dir = tmp_path / "pack"
    spec = TrainSpec(run_id="pack", base_model_path=tiny_model_dir, dataset_path=dataset, output_dir=str(run_dir),
                     journal_path=str(run_dir / "journal.jsonl"), stop_file=str(run_dir / "STOP"), config=config)
    result = run_engine("train", spec, str(tmp_path / "pack.json"))
    assert result.rc == 0, result.stderr[-3000:]
    started, done = result.last("started").payload, result.last("completed").payload
    assert 0 < started["packed_rows"] < started["usable_rows"] == 24
    losses = [e.payload["values"]["loss"] for e in result.events if e.kind == "log" and "loss" in e.payload["values"]]
    assert len(losses) == 6 and losses[-1] < losses[0]
    # 6 steps of 2 rows, each row several conversations.
    assert done["examples_per_s"] > 0 and done["tokens_seen"] > 6 * 2 * 100
