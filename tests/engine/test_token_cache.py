"""The token cache and parallel tokenising: same examples as tokenising in-process, a second run
on the same data reads them from the cache, and any change of what decides the tokens misses."""

from __future__ import annotations

import os

import pytest

from tests.engine.demo_corpus import shop_conversations, write_parquet
from tests.engine.engine_helpers import run_engine
from workbench.core.records import TrainConfig
from workbench.engine.token_cache import cache_key, cached_tokenize, parallel_tokenize
from workbench.engine.train_data import tokenize_all
from workbench.jobs.specs import TrainSpec


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _conversations():
    rows = [r["messages"] for r in shop_conversations(40)]
    rows.insert(7, [{"role": "user", "content": "no reply here"}])  # dropped: nothing to learn
    return rows


def test_parallel_tokenising_gives_the_same_examples_and_row_numbers(tokenizer, tiny_model_dir):
    conversations = _conversations()
    serial = tokenize_all(tokenizer, conversations, 64, "chats")
    parallel = parallel_tokenize(tokenizer, tiny_model_dir, conversations, 64, "chats", "assistant",
                                 workers=2, min_rows=0)
    assert parallel.examples == serial.examples
    assert (parallel.rows, parallel.dropped_rows, parallel.truncated_rows) == \
        (serial.rows, serial.dropped_rows, serial.truncated_rows)
    assert parallel.dropped_row_numbers == serial.dropped_row_numbers == [8]


def test_the_cache_hits_and_misses_on_every_key_part(tmp_path, tokenizer):
    path = write_parquet(shop_conversations(10), str(tmp_path / "d.parquet"))
    conversations = [r["messages"] for r in shop_conversations(10)]
    calls = []

    def compute():
        calls.append(1)
        return tokenize_all(tokenizer, conversations, 64, "d")

    key = cache_key(path, tokenizer, 64, "assistant")
    first, hit1 = cached_tokenize(str(tmp_path / "cache"), key, compute)
    second, hit2 = cached_tokenize(str(tmp_path / "cache"), key, compute)
    assert (hit1, hit2, len(calls)) == (False, True, 1)
    assert second.examples == first.examples and second.rows == first.rows
    assert len({key, cache_key(path, tokenizer, 65, "assistant"), cache_key(path, tokenizer, 64, "all")}) == 3
    other = write_parquet(shop_conversations(11), str(tmp_path / "e.parquet"))
    assert cache_key(other, tokenizer, 64, "assistant") != key
    # A damaged entry is a miss that is rewritten, never an error.
    with open(tmp_path / "cache" / f"{key}.arrow", "wb") as f:
        f.write(b"garbage")
    third, hit3 = cached_tokenize(str(tmp_path / "cache"), key, compute)
    assert (hit3, len(calls)) == (False, 2) and third.examples == first.examples


def test_a_second_run_on_the_same_data_skips_tokenising(tmp_path, tiny_model_dir):
    dataset = write_parquet(shop_conversations(16), str(tmp_path / "d.parquet"))
    config = TrainConfig(r=4, alpha=8, max_steps=2, batch_size=4, max_length=96, save_steps=0)
    states, losses = [], []
    for name in ("first", "second"):
        run_dir = tmp_path / name
        spec = TrainSpec(run_id=name, base_model_path=tiny_model_dir, dataset_path=dataset,
                         output_dir=str(run_dir), journal_path=str(run_dir / "j.jsonl"),
                         stop_file=str(run_dir / "STOP"), config=config, cache_dir=str(tmp_path / "cache"))
        result = run_engine("train", spec, str(tmp_path / f"{name}.json"))
        assert result.rc == 0, result.stderr[-3000:]
        states.append(result.last("started").payload["token_cache"])
        losses.append([e.payload["values"]["loss"] for e in result.events
                       if e.kind == "log" and "loss" in e.payload["values"]])
    assert states == ["miss", "hit"]
    assert losses[0] == losses[1]
    assert len(os.listdir(tmp_path / "cache")) == 1
