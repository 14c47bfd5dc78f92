"""`train` with method orpo and kto: real TRL runs of a LoRA adapter on the tiny model on pairs it
can learn (tests/engine/test_train_pref.py has DPO's): the events, the curves the Runs page
draws, the adapter folder, resume (ORPO)."""

from __future__ import annotations

import json
import os

import pytest
from tests.engine.engine_helpers import run_engine
from tests.engine.test_train_pref import (
    CHOSEN,
    DPO,
    HELD_OUT,
    REJECTED,
    _series,
    _spec,
    preference_rows,
    write_pairs,
)

from workbench.core.metric_names import (
    KL,
    LOG_ODDS_RATIO,
    LOSS,
    REWARD_ACCURACY,
    REWARD_CHOSEN,
    REWARD_MARGIN,
    REWARD_REJECTED,
)
from workbench.core.run_files import RUN_RECORD

pytestmark = pytest.mark.slow

ORPO = DPO.replace(method="orpo", beta=1.0, learning_rate=1e-2, max_steps=8, save_steps=4)
KTO = DPO.replace(method="kto", max_steps=6, save_steps=0)


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory) -> str:
    return write_pairs(preference_rows(), str(tmp_path_factory.mktemp("pairs") / "pairs.parquet"))


def _held_out(folder, chosen: str = CHOSEN, rejected: str = REJECTED) -> str:
    """Pairs of questions the training pairs never ask (tests/engine/test_train_pref.py's HELD_OUT)."""
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": chosen}],
             "rejected": [{"role": "assistant", "content": rejected}]} for q in HELD_OUT]
    return write_pairs(rows, str(folder / "pairs.parquet"))


@pytest.fixture(scope="module")
def held_out_path(tmp_path_factory) -> str:
    return _held_out(tmp_path_factory.mktemp("held-out"))


@pytest.fixture(scope="module")
def reversed_pairs_path(tmp_path_factory) -> str:
    """The pairs the other way round: ORPO's rewards are beta x the replies' mean log-probability,
    and the untrained tiny model already finds "Thank you, ..." likelier than "No. Go away.", so
    only preferring the curt reply starts below chance (accuracy 0)."""
    rows = preference_rows(chosen=REJECTED, rejected=CHOSEN)
    return write_pairs(rows, str(tmp_path_factory.mktemp("reversed") / "pairs.parquet"))


@pytest.fixture(scope="module")
def orpo_run(tmp_path_factory, tiny_model_dir, reversed_pairs_path):
    pairs_path = reversed_pairs_path
    root = str(tmp_path_factory.mktemp("orpo"))
    held_out = _held_out(tmp_path_factory.mktemp("orpo-held-out"), chosen=REJECTED, rejected=CHOSEN)
    # Scored at the last step on held-out pairs (the same way round as the training pairs).
    spec = _spec(root, tiny_model_dir, pairs_path, "orpo", ORPO.replace(eval_steps=ORPO.max_steps),
                 eval_dataset_path=held_out)
    result = run_engine("train", spec, os.path.join(root, "orpo.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return spec, result


def test_orpo_learns_the_preferred_reply(orpo_run):
    spec, result = orpo_run
    kinds = [k for k in result.kinds() if k != "heartbeat"]
    assert kinds[0] == "started" and kinds[-1] == "completed", kinds
    started = result.last("started").payload
    assert started["method"] == "orpo" and started["beta"] == ORPO.beta and started["total_steps"] == ORPO.max_steps
    accuracy, margins = _series(result.events, REWARD_ACCURACY), _series(result.events, REWARD_MARGIN)
    assert len(accuracy) == len(margins) == len(_series(result.events, LOG_ODDS_RATIO)) == ORPO.max_steps
    print("ORPO accuracy", accuracy, "margins", margins, "loss", _series(result.events, LOSS))
    # Step 1 (before any update): the rejected reply is the likelier one on every pair; after a
    # few updates the chosen one's log-probability overtakes it on (almost) every pair.
    assert accuracy[0] < 0.5, accuracy
    assert sum(accuracy[-2:]) / 2 >= 0.75, accuracy
    assert margins[-1] > margins[0], margins
    loss = _series(result.events, LOSS)
    assert loss[-1] < loss[0], loss
    held_out = _series(result.events, "eval_" + REWARD_ACCURACY)
    print("ORPO held-out accuracy", held_out)
    assert len(held_out) == 1 and held_out[0] > 0.5, held_out
    folder = result.last("completed").payload["adapter_path"]
    assert {"adapter_config.json", "adapter_model.safetensors", RUN_RECORD} <= set(os.listdir(folder))
    with open(os.path.join(folder, RUN_RECORD), encoding="utf-8") as f:
        assert json.load(f)["method"] == "orpo"


def test_orpo_resumes_from_its_checkpoint(orpo_run, tmp_path, tiny_model_dir, reversed_pairs_path):
    pairs_path = reversed_pairs_path
    spec, result = orpo_run
    checkpoint = os.path.join(spec.output_dir, "checkpoints", "checkpoint-4")
    resumed = _spec(str(tmp_path), tiny_model_dir, pairs_path, "resumed", spec.config, resume_from=checkpoint,
                    eval_dataset_path=spec.eval_dataset_path)
    again = run_engine("train", resumed, str(tmp_path / "resumed.json"))
    assert again.rc == 0, again.stderr[-3000:]
    assert again.last("started").payload["start_step"] == 4
    assert [e.payload["step"] for e in again.events if e.kind == "progress"] == [5, 6, 7, 8]
    assert _series(again.events, REWARD_MARGIN) == pytest.approx(_series(result.events, REWARD_MARGIN)[4:],
                                                                 rel=1e-3, abs=1e-4)




@pytest.fixture(scope="module")
def kto_run(tmp_path_factory, tiny_model_dir, pairs_path, held_out_path):
    root = str(tmp_path_factory.mktemp("kto"))
    # Scored at the last step on the held-out pairs, unpaired the same way.
    spec = _spec(root, tiny_model_dir, pairs_path, "kto", KTO.replace(eval_steps=KTO.max_steps),
                 eval_dataset_path=held_out_path)
    result = run_engine("train", spec, os.path.join(root, "kto.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return result


def test_kto_learns_the_preferred_reply(kto_run):
    """KTO on the pairs unpaired (chosen: desirable, rejected: undesirable): the chosen replies'
    reward (relative to the reference, so 0 at step 1) rises above the rejected ones'."""
    result = kto_run
    kinds = [k for k in result.kinds() if k != "heartbeat"]
    assert kinds[0] == "started" and kinds[-1] == "completed", kinds
    assert result.last("started").payload["method"] == "kto"
    chosen, rejected = _series(result.events, REWARD_CHOSEN), _series(result.events, REWARD_REJECTED)
    margins, kl = _series(result.events, REWARD_MARGIN), _series(result.events, KL)
    print("KTO chosen", chosen, "rejected", rejected, "margins", margins, "kl", kl)
    assert len(margins) == 6 and len(kl) == 6
    assert abs(margins[0]) < 1e-4  # step 1: the policy is its reference
    assert margins[-1] > 0.1 and chosen[-1] > rejected[-1], margins
    held_out = _series(result.events, "eval_" + REWARD_MARGIN)
    print("KTO held-out margin", held_out)
    assert len(held_out) == 1 and held_out[0] > 0, held_out
    folder = result.last("completed").payload["adapter_path"]
    assert "ref" not in os.listdir(folder)  # TRL's frozen reference adapter stays out


def test_the_memory_estimate_covers_orpo_and_kto(orpo_run, kto_run, tiny_model_dir):
    """ORPO has no reference adapter, so it is estimated below DPO; each stays near its child's
    measured peak (CPU peak RSS), as DPO's does (tests/engine/test_train_pref.py)."""
    from workbench.services.fit import estimated_measured_peak

    dpo = estimated_measured_peak(tiny_model_dir, ORPO.replace(method="dpo"), "cpu")
    for config, result in ((ORPO, orpo_run[1]), (KTO, kto_run)):
        measured = result.last("completed").payload["peak_memory_bytes"]
        estimate = estimated_measured_peak(tiny_model_dir, config, "cpu")
        print(f"{config.method} peak RSS measured {measured / 2**20:.0f} MiB, estimated {estimate / 2**20:.0f} MiB")
        assert 0.75 * measured < estimate < 1.35 * measured
    assert estimated_measured_peak(tiny_model_dir, ORPO, "cpu") < dpo


def test_kto_rows_keep_both_kinds_in_a_batch_and_mismatched_kl_replies():
    from workbench.engine.train_pref_trainers import unpaired

    pairs = [{"prompt": [{"role": "user", "content": f"q{i}"}], "chosen": [{"role": "assistant", "content": f"c{i}"}],
              "rejected": [{"role": "assistant", "content": f"r{i}"}]} for i in range(5)]

    def names(rows):
        return [r["completion"][0]["content"] for r in rows]

    rows = unpaired(pairs, batch_size=4)
    assert names(rows) == ["c0", "c1", "r0", "r1", "c2", "c3", "r2", "r3", "c4", "r4"]
    assert [r["label"] for r in rows[:4]] == [True, True, False, False]
    assert all(r["prompt"][0]["content"] == "q" + names([r])[0][1:] for r in rows)
    # KTO's KL reply for row i is row i-1's (the first row of a batch takes the last one's).
    for start in range(0, 8, 4):
        batch = rows[start:start + 4]
        for i, row in enumerate(batch):
            assert row["prompt"] != batch[i - 1]["prompt"]
    assert names(unpaired(pairs[:2], batch_size=2)) == ["c0", "r0", "c1", "r1"]
