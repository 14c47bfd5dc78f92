"""The token cache and parallel tokenising: same examples as tokenising in-process, a second run
on the same data reads them from the cache, and any change of what decides the tokens misses."""

from __future__ import annotations

import os

import pytest

from tests.engine.demo_corpus import shop_conversations, write_parquet
from workbench.engine.token_cache import cache_key, cached_tokenize, parallel_tokenize
from workbench.engine.train_data import tokenize_all


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


def test_a_second_run_on_the_same_data_skips_tokenising(short_runs):
    """The session's three short runs share one cache (tests/engine/conftest.py): the first
    tokenises, the others read the cache, and the same seed trains the same curve from it."""
    results = short_runs.results
    states = [results[name].last("started").payload["token_cache"] for name in ("a", "b", "c")]
    losses = [[e.payload["values"]["loss"] for e in results[name].events
               if e.kind == "log" and "loss" in e.payload["values"]] for name in ("a", "b")]
    assert states == ["miss", "hit", "hit"]
    assert losses[0] == losses[1] and len(losses[0]) == 3
    assert len(os.listdir(short_runs.cache_dir)) == 1
