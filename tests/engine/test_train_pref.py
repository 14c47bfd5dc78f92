"""`train` with method dpo: a real TRL DPO run of a LoRA adapter on the tiny model, from the base
model and from an SFT run's adapter; the rewards curves; bad preference data."""

from __future__ import annotations

import json
import os

import pytest
from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import run_engine, short_spec

from workbench.core.metric_names import REWARD_ACCURACY, REWARD_CHOSEN, REWARD_MARGIN, REWARD_REJECTED
from workbench.core.records import TrainConfig
from workbench.core.run_files import RUN_RECORD
from workbench.jobs.specs import TrainSpec

pytestmark = pytest.mark.slow

CHOSEN = "Thank you, your order is on its way."
REJECTED = "No. Go away."
QUESTIONS = ["Where is my order?", "Can I get a refund?", "My parcel is late.", "Do you ship abroad?",
             "How do I change my address?", "The box arrived broken.", "Is my order paid?",
             "Can I cancel it?", "What is your phone number?", "When do you open?", "Do you sell gift cards?",
             "My code does not work."]


def preference_rows(n: int = 12, chosen: str = CHOSEN, rejected: str = REJECTED) -> list[dict]:
    """Pairs the tiny model can learn: the chosen reply is always one phrase, the rejected another."""
    return [{"messages": [{"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]},
                          {"role": "assistant", "content": chosen}],
             "rejected": [{"role": "assistant", "content": rejected}]} for i in range(n)]


def write_pairs(rows: list[dict], path: str) -> str:
    """A preference version's file as the store writes it: `messages` and `rejected` as JSON."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"messages": [json.dumps(r["messages"]) for r in rows],
                             "rejected": [json.dumps(r["rejected"]) for r in rows],
                             "source": [json.dumps({"row": i}) for i in range(len(rows))],
                             "source_row": list(range(len(rows)))}), path)
    return path


DPO = TrainConfig(method="dpo", beta=0.1, r=8, alpha=16, learning_rate=5e-3, max_steps=8, batch_size=4,
                  max_length=64, save_steps=4, eval_steps=0, seed=3)
# Questions the training pairs never ask: the validation part the DPO run is scored on at its end.
HELD_OUT = ["Why is my order so slow?", "Can I return these shoes?", "Who do I call about my bill?",
            "Is the blue one in stock?"]


def _spec(root: str, base: str, data: str, name: str, config: TrainConfig = DPO, **extra) -> TrainSpec:
    run_dir = os.path.join(root, name)
    return TrainSpec(run_id=name, base_model_path=base, dataset_path=data, output_dir=run_dir,
                     journal_path=os.path.join(run_dir, "journal.jsonl"), stop_file=os.path.join(run_dir, "STOP"),
                     config=config, dataset_name="Pairs", **extra)


def _series(events, key: str) -> list[float]:
    return [e.payload["values"][key] for e in events if e.kind == "log" and key in e.payload["values"]]


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory) -> str:
    return write_pairs(preference_rows(), str(tmp_path_factory.mktemp("pairs") / "pairs.parquet"))


@pytest.fixture(scope="module")
def held_out_path(tmp_path_factory) -> str:
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": CHOSEN}],
             "rejected": [{"role": "assistant", "content": REJECTED}]} for q in HELD_OUT]
    return write_pairs(rows, str(tmp_path_factory.mktemp("held-out") / "pairs.parquet"))


@pytest.fixture(scope="module")
def dpo_run(tmp_path_factory, tiny_model_dir, pairs_path, held_out_path):
    root = str(tmp_path_factory.mktemp("dpo"))
    # Scored once, at the last step, on the held-out pairs (no earlier evaluation changes the run).
    spec = _spec(root, tiny_model_dir, pairs_path, "dpo", DPO.replace(eval_steps=8), eval_dataset_path=held_out_path)
    result = run_engine("train", spec, os.path.join(root, "dpo.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return spec, result


def test_dpo_learns_the_preferred_reply(dpo_run):
    spec, result = dpo_run
    kinds = [k for k in result.kinds() if k != "heartbeat"]
    assert kinds[0] == "started" and kinds[-1] == "completed", kinds
    started = result.last("started").payload
    assert started["method"] == "dpo" and started["beta"] == 0.1 and started["total_steps"] == 8
    assert started["rows"] == 12 and started["environment"]["trl"]
    accuracy = _series(result.events, REWARD_ACCURACY)
    margins = _series(result.events, REWARD_MARGIN)
    assert len(accuracy) == 8 and len(margins) == 8
    assert len(_series(result.events, REWARD_CHOSEN)) == 8 and len(_series(result.events, REWARD_REJECTED)) == 8
    # Step 1 is measured before any update: the policy is its reference, no reward, no accuracy.
    assert accuracy[0] == 0.0 and abs(margins[0]) < 1e-4
    # After a few updates chosen beats rejected on (almost) every pair: far above chance (0.5).
    assert sum(accuracy[-3:]) / 3 >= 0.75, accuracy
    assert margins[-1] > 0.1, margins
    # And on pairs it never trained on (new questions): the preference generalises, above chance.
    held_out = _series(result.events, "eval_" + REWARD_ACCURACY)
    print("DPO held-out reward accuracy", held_out)
    assert len(held_out) == 1 and held_out[0] > 0.5, held_out
    assert _series(result.events, "eval_" + REWARD_MARGIN)[0] > 0
    assert [e.payload["step"] for e in result.events if e.kind == "checkpoint"] == [4, 8]


def test_dpo_adapter_is_a_plain_lora_folder(dpo_run):
    """What chat, eval and export load: the adapter (not TRL's reference copy), its tokenizer, the record."""
    spec, result = dpo_run
    folder = result.last("completed").payload["adapter_path"]
    names = set(os.listdir(folder))
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json", RUN_RECORD} <= names
    assert "ref" not in names  # TRL's frozen reference adapter stays out of the run's adapter
    with open(os.path.join(folder, RUN_RECORD), encoding="utf-8") as f:
        record = json.load(f)
    assert record["config"]["method"] == "dpo" and record["method"] == "dpo"
    assert record["last_reward_accuracy"] >= 0.75


def test_dpo_resumes_from_its_checkpoint(dpo_run, tmp_path, tiny_model_dir, pairs_path):
    spec, result = dpo_run
    checkpoint = os.path.join(spec.output_dir, "checkpoints", "checkpoint-4")
    resumed = _spec(str(tmp_path), tiny_model_dir, pairs_path, "resumed", spec.config, resume_from=checkpoint,
                    eval_dataset_path=spec.eval_dataset_path)
    again = run_engine("train", resumed, str(tmp_path / "resumed.json"))
    assert again.rc == 0, again.stderr[-3000:]
    assert again.last("started").payload["start_step"] == 4
    assert [e.payload["step"] for e in again.events if e.kind == "progress"] == [5, 6, 7, 8]
    # The same run from its step-4 state: the same curve from there on (CPU, same seed).
    first = _series(result.events, REWARD_MARGIN)[4:]
    assert _series(again.events, REWARD_MARGIN) == pytest.approx(first, rel=1e-3, abs=1e-4)


def test_dpo_from_an_sft_adapter_uses_it_as_the_reference(tmp_path, tiny_model_dir, pairs_path):
    """Starting from an SFT run's adapter: that adapter is trained further, and the reference is the
    SFT model (step 1's rewards are 0; with the base model as reference they would not be)."""
    sft_data = write_parquet(ticket_conversations(8), str(tmp_path / "sft.parquet"))
    sft = short_spec(str(tmp_path), tiny_model_dir, sft_data, "sft", seed=5)
    sft_result = run_engine("train", sft, str(tmp_path / "sft.json"))
    assert sft_result.rc == 0, sft_result.stderr[-3000:]
    sft_adapter = sft_result.last("completed").payload["adapter_path"]
    config = DPO.replace(r=16, alpha=32, max_steps=3, save_steps=0)  # the SFT adapter's own rank wins
    spec = _spec(str(tmp_path), tiny_model_dir, pairs_path, "dpo-from-sft", config, init_adapter_path=sft_adapter)
    result = run_engine("train", spec, str(tmp_path / "dpo-from-sft.json"))
    assert result.rc == 0, result.stderr[-3000:]
    assert result.last("started").payload["init_adapter_path"] == sft_adapter
    chosen, rejected = _series(result.events, REWARD_CHOSEN), _series(result.events, REWARD_REJECTED)
    assert abs(chosen[0]) < 1e-4 and abs(rejected[0]) < 1e-4
    folder = result.last("completed").payload["adapter_path"]
    with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as f:
        assert json.load(f)["r"] == 4  # SHORT_CONFIG's rank: the SFT adapter itself was trained on


def test_dpo_on_sft_data_fails_with_a_clear_message(tmp_path, tiny_model_dir):
    data = write_parquet(ticket_conversations(4), str(tmp_path / "sft.parquet"))
    result = run_engine("train", _spec(str(tmp_path), tiny_model_dir, data, "bad"), str(tmp_path / "bad.json"))
    assert result.rc != 0
    failed = result.last("failed").payload
    assert "not a preference dataset" in failed["message"] and "Pairs" in failed["message"]
    assert "SFT" in failed["advice"]


def test_dpo_pair_without_a_rejected_reply_names_the_row(tmp_path, tiny_model_dir):
    rows = preference_rows(3)
    rows[1]["rejected"] = []
    data = write_pairs(rows, str(tmp_path / "pairs.parquet"))
    result = run_engine("train", _spec(str(tmp_path), tiny_model_dir, data, "bad"), str(tmp_path / "bad.json"))
    assert result.rc != 0
    assert "row 2 of Pairs has no rejected reply" in result.last("failed").payload["message"]


def test_dpo_with_a_missing_start_adapter_fails_clearly(tmp_path, tiny_model_dir, pairs_path):
    spec = _spec(str(tmp_path), tiny_model_dir, pairs_path, "bad", init_adapter_path=str(tmp_path / "gone"))
    result = run_engine("train", spec, str(tmp_path / "bad.json"))
    assert result.rc != 0
    assert "adapter to start from is missing" in result.last("failed").payload["message"]


def test_the_memory_estimate_covers_a_dpo_run(dpo_run, tiny_model_dir):
    """The estimate counts chosen + rejected and the reference adapter: it stays near the
    child's measured peak (CPU peak RSS), as the SFT estimate does (tests/engine/test_memory_fit.py)."""
    from workbench.services.fit import estimated_measured_peak

    _spec_, result = dpo_run
    measured = result.last("completed").payload["peak_memory_bytes"]
    estimate = estimated_measured_peak(tiny_model_dir, DPO, "cpu")
    sft = estimated_measured_peak(tiny_model_dir, DPO.replace(method="sft"), "cpu")
    print(f"DPO peak RSS measured {measured / 2**20:.0f} MiB, estimated {estimate / 2**20:.0f} MiB "
          f"(SFT estimate {sft / 2**20:.0f} MiB)")
    assert estimate > sft
    assert 0.75 * measured < estimate < 1.35 * measured
