"""Tokenised training data, cached and computed on every core.

A run's examples depend only on the dataset file, the tokenizer (vocabulary, special tokens and
chat template), the max length and the loss mode, so they are stored once per such key in the
project's cache/tokens/ folder (Arrow IPC, written atomically): a second run on the same data
starts training without tokenising again.

Tokenising is mostly Python (the chat template is rendered once per assistant turn to find
the reply spans), so a large dataset is split into chunks tokenised by worker processes, one
per core. The fast tokenizer's own Rust threads are left off (TOKENIZERS_PARALLELISM=false in
children): processes already use every core, and the Rust pool must not be forked.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Optional

from workbench.core.hashing import file_sha256
from workbench.engine.train_data import Example, TokenizedData, tokenize_all

# Bump when tokenize_conversation's output changes for the same inputs: old entries then miss.
CACHE_FORMAT = 1
# Below this many conversations, starting worker processes costs more than it saves.
PARALLEL_MIN_ROWS = 2000


def tokenizer_fingerprint(tokenizer) -> str:
    """What decides the token ids and labels: the Rust tokenizer, special tokens, chat template."""
    h = hashlib.sha256()
    backend = getattr(tokenizer, "backend_tokenizer", None)
    h.update((backend.to_str() if backend is not None else repr(tokenizer.get_vocab())).encode())
    h.update(json.dumps([tokenizer.chat_template, tokenizer.eos_token, tokenizer.bos_token,
                         tokenizer.pad_token], sort_keys=True, default=str).encode())
    return h.hexdigest()


def cache_key(dataset_path: str, tokenizer, max_length: int, loss_on: str, extra: str = "") -> str:
    parts = [f"v{CACHE_FORMAT}", file_sha256(dataset_path), tokenizer_fingerprint(tokenizer),
             str(max_length), loss_on, extra]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _write(path: str, data: TokenizedData) -> None:
    import pyarrow as pa

    table = pa.table({
        "input_ids": pa.array([e.input_ids for e in data.examples], type=pa.list_(pa.int32())),
        "labels": pa.array([e.labels for e in data.examples], type=pa.list_(pa.int32())),
    })
    meta = {"rows": data.rows, "dropped_rows": data.dropped_rows, "truncated_rows": data.truncated_rows,
            "dropped_row_numbers": data.dropped_row_numbers}
    table = table.replace_schema_metadata({"workbench": json.dumps(meta)})
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read(path: str) -> Optional[TokenizedData]:
    import pyarrow as pa

    try:
        with pa.memory_map(path, "r") as source:
            table = pa.ipc.open_file(source).read_all()
        meta = json.loads(table.schema.metadata[b"workbench"])
        ids, labels = table.column("input_ids").to_pylist(), table.column("labels").to_pylist()
    except (OSError, pa.ArrowException, KeyError, TypeError, ValueError):
        return None  # a damaged entry is a miss; it is rewritten
    return TokenizedData([Example(i, lab) for i, lab in zip(ids, labels)], meta["rows"],
                         meta["dropped_rows"], meta["truncated_rows"], meta["dropped_row_numbers"])


def _chunk_worker(args: tuple[str, list[Any], int, str, str, int]) -> TokenizedData:
    from transformers import AutoTokenizer

    tokenizer_path, conversations, max_length, source, loss_on, offset = args
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, trust_remote_code=False)
    data = tokenize_all(tokenizer, conversations, max_length, source, loss_on, allow_empty=True,
                        row_offset=offset)
    return data


def parallel_tokenize(tokenizer, tokenizer_path: str, conversations: list[Any], max_length: int,
                      source: str, loss_on: str, workers: Optional[int] = None,
                      min_rows: int = PARALLEL_MIN_ROWS) -> TokenizedData:
    """tokenize_all over all cores (same result, same order, same row numbers in messages)."""
    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(conversations) < min_rows:
        return tokenize_all(tokenizer, conversations, max_length, source, loss_on)
    size = -(-len(conversations) // (workers * 4))  # a few chunks per worker evens out the load
    jobs = [(tokenizer_path, conversations[i:i + size], max_length, source, loss_on, i)
            for i in range(0, len(conversations), size)]
    import multiprocessing

    # spawn, not fork: this process runs threads (heartbeat, stdin) and may hold library locks.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(_chunk_worker, jobs))
    return TokenizedData.merge(parts, source, max_length, conversations)


def cached_tokenize(cache_dir: Optional[str], key: Optional[str], compute: Callable[[], TokenizedData]
                    ) -> tuple[TokenizedData, bool]:
    """(data, hit): the cached examples for `key`, else compute() and store them."""
    if not cache_dir or not key:
        return compute(), False
    path = os.path.join(cache_dir, f"{key}.arrow")
    if os.path.isfile(path):
        data = _read(path)
        if data is not None:
            return data, True
    data = compute()
    try:
        _write(path, data)
    except OSError:
        pass  # a full or read-only disk costs the next run a re-tokenise, not this run
    return data, False
