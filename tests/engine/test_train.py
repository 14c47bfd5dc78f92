"""`train`: a real LoRA run on the tiny model, its adapter, stopping, resuming, bad inputs."""

from __future__ import annotations

import json
import os

import pytest
from tests.engine.demo_corpus import write_parquet
from tests.engine.engine_helpers import LiveChild, events_key, journal_events, run_engine

from workbench.core.hashing import file_sha256
from workbench.core.metric_names import MEMORY, TOKENS, TOKENS_PER_S
from workbench.core.records import TrainConfig
from workbench.jobs.specs import TrainSpec

pytestmark = pytest.mark.slow


def _losses(events):
    return [e.payload["values"]["loss"] for e in events if e.kind == "log" and "loss" in e.payload["values"]]


def test_training_lowers_the_loss(trained_run):
    result = trained_run.result
    kinds = [k for k in result.kinds() if k != "heartbeat"]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    started = result.last("started").payload
    assert started["total_steps"] == 30 and started["device"] == "cpu" and started["seed"] == 7
    assert 0 < started["trainable_params"] < started["total_params"]
    assert started["rows"] == 40 and started["dropped_rows"] == 0 and started["usable_rows"] == 40
    for key in ("python", "torch", "transformers", "peft", "device"):
        assert started["environment"][key]
    steps = [e.payload["step"] for e in result.events if e.kind == "progress"]
    assert steps == list(range(1, 31))
    losses = _losses(result.events)
    done = result.last("completed").payload
    assert done["steps"] == 30 and len(losses) == 30
    assert done["first_loss"] == losses[0] and done["last_loss"] == losses[-1]
    assert done["last_loss"] < 0.85 * done["first_loss"], losses  # ~0.78 with seed 7 on CPU
    beats = [e.payload["step"] for e in result.events if e.kind == "heartbeat"]
    assert beats and beats == sorted(beats)  # loading alone takes longer than one 2 s beat
    log = next(e.payload for e in result.events if e.kind == "log")
    assert {"loss", "learning_rate", "grad_norm"} <= set(log["values"]) and log["epoch"] > 0


def test_train_logs_carry_tokens_throughput_and_memory(trained_run):
    """The live curves' values: tokens seen, tokens/s since the previous log, the process's memory."""
    result = trained_run.result
    logs = [e.payload for e in result.events if e.kind == "log" and "loss" in e.payload["values"]]
    done = result.last("completed").payload
    tokens = [p["values"][TOKENS] for p in logs]
    assert tokens == sorted(tokens) and tokens[-1] == done["tokens_seen"]  # from 0 (not resumed)
    epochs = [p["epoch"] for p in logs]
    assert epochs == sorted(epochs) and epochs[-1] > 1  # 30 steps of 8 over 40 rows: 6 epochs
    for p in logs:  # the process holds torch and a model: well over 100 MB, well under 16 GB
        assert 100 * 2 ** 20 < p["values"][MEMORY] < 16 * 2 ** 30
    # Each rate is the tokens since the previous log over the time between: the times add up to
    # at most the loop's measured wall time (which also holds its set-up).
    deltas = [b - a for a, b in zip([0.0, *tokens], tokens)]
    seconds = sum(d / p["values"][TOKENS_PER_S] for d, p in zip(deltas, logs))
    assert all(p["values"][TOKENS_PER_S] > 0 for p in logs)
    assert 0 < seconds <= done["train_seconds"] * 1.01


def test_journal_holds_the_same_events_as_stdout(trained_run):
    events = trained_run.result.events
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events_key(journal_events(trained_run.spec.journal_path)) == events_key(events)


def test_adapter_is_a_plain_peft_folder_that_helps(trained_run):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = trained_run.result.last("completed").payload["adapter_path"]
    assert adapter == os.path.join(trained_run.spec.output_dir, "adapter")
    assert {"adapter_model.safetensors", "adapter_config.json", "workbench_run.json"} <= set(os.listdir(adapter))
    record = json.load(open(os.path.join(adapter, "workbench_run.json")))
    assert record["dataset_sha256"] == file_sha256(trained_run.dataset_path)
    assert record["config"]["learning_rate"] == 5e-3 and record["seed"] == 7
    assert record["base_model_path"] == os.path.abspath(trained_run.spec.base_model_path)
    assert record["environment"]["torch"] == torch.__version__ and record["device"] == "cpu"
    assert json.load(open(os.path.join(adapter, "adapter_config.json")))["target_modules"] == ["c_attn"]

    base_path = trained_run.spec.base_model_path
    tok = AutoTokenizer.from_pretrained(base_path)
    messages = [{"role": "user", "content": "My desk lamp order #4321 has not arrived yet."},
                {"role": "assistant", "content": "TICKET #4321 | topic: late | item: desk lamp. "
                 "Thank you for contacting ShopCo, we will fix this for you."}]
    ids = torch.tensor([tok(tok.apply_chat_template(messages, tokenize=False), add_special_tokens=False)["input_ids"]])

    def loss(model):
        with torch.no_grad():
            return float(model(input_ids=ids, labels=ids).loss)

    base_loss = loss(AutoModelForCausalLM.from_pretrained(base_path).eval())
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), adapter).eval()
    assert loss(tuned) < base_loss - 0.5


def _spec(tmp_path, base, dataset, name, **overrides) -> TrainSpec:
    run_dir = tmp_path / name
    fields = dict(run_id=name, base_model_path=base, dataset_path=dataset, output_dir=str(run_dir),
                  journal_path=str(tmp_path / "journal.jsonl"), stop_file=str(run_dir / "STOP"),
                  config=TrainConfig(max_steps=2000, batch_size=4, max_length=96, learning_rate=1e-3))
    fields.update(overrides)
    return TrainSpec(**fields)


def test_stop_file_cancels_then_resume_and_stop_on_stdin(tmp_path, tiny_model_dir, trained_run):
    first = _spec(tmp_path, tiny_model_dir, trained_run.dataset_path, "first")
    child = LiveChild("train", first, str(tmp_path / "first.json"))
    try:
        child.wait_for("progress", timeout=120)
        open(first.stop_file, "w").close()
        end = child.wait_for("cancelled", "completed", "failed", timeout=60)
        assert end.kind == "cancelled", end.payload
        assert child.finish() == 0
    finally:
        child.kill()
    stopped_at = end.payload["step"]
    assert 1 <= stopped_at < 2000
    assert os.path.isfile(os.path.join(end.payload["adapter_path"], "adapter_model.safetensors"))
    checkpoint = [e for e in child.events if e.kind == "checkpoint"][-1].payload
    assert checkpoint["step"] == stopped_at and os.path.isdir(checkpoint["path"])

    # Resume from that checkpoint into the same journal; stop with a line on stdin this time.
    second = _spec(tmp_path, tiny_model_dir, trained_run.dataset_path, "second",
                   resume_from=checkpoint["path"])
    child = LiveChild("train", second, str(tmp_path / "second.json"))
    try:
        started = child.wait_for("started", timeout=120)
        assert started.payload["start_step"] == stopped_at
        progress = child.wait_for("progress", timeout=60)
        assert progress.payload["step"] > stopped_at
        child.send("stop")
        end = child.wait_for("cancelled", "completed", "failed", timeout=60)
        assert end.kind == "cancelled" and end.payload["step"] > stopped_at
        assert child.finish() == 0
    finally:
        child.kill()
    seqs = [e.seq for e in journal_events(first.journal_path)]
    assert seqs == list(range(1, len(seqs) + 1)), "a resumed run must continue the journal's numbering"


def test_dataset_without_assistant_turns_fails_as_bad_data(tmp_path, tiny_model_dir):
    rows = [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(5)]
    dataset = write_parquet(rows, str(tmp_path / "no_answers.parquet"))
    spec = _spec(tmp_path, tiny_model_dir, dataset, "bad")
    result = run_engine("train", spec, str(tmp_path / "bad.json"))
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_data" and "5 rows" in failed["message"]
    assert "assistant" in failed["advice"]
    assert "started" not in result.kinds() and not os.path.exists(os.path.join(spec.output_dir, "adapter"))


def test_messages_name_the_dataset_version_never_its_file(tmp_path, tiny_model_dir):
    """Max length 32 on replies that start later: the failure names the version as the user
    knows it (the spec's dataset_name), with the blob path only in the details."""
    late = [{"messages": [{"role": "user", "content": "Where is my order? " * 20},
                          {"role": "assistant", "content": "Tomorrow."}]} for _ in range(4)]
    dataset = write_parquet(late, str(tmp_path / "e0fadecc.parquet"))
    title = "shop v4 · test part of split of v2 · 4 rows"
    spec = _spec(tmp_path, tiny_model_dir, dataset, "late", dataset_name=title,
                 config=TrainConfig(max_steps=5, batch_size=2, max_length=32))
    result = run_engine("train", spec, str(tmp_path / "late.json"))
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_data"
    assert title in failed["message"] and "within the max length of 32 tokens" in failed["message"]
    assert "parquet" not in failed["message"] and "e0fadecc" not in failed["message"]


def test_malformed_row_is_named(tmp_path, tiny_model_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    path = str(tmp_path / "broken.parquet")
    pq.write_table(pa.table({"messages": [good, good, '[{"role": "user"}]']}), path)
    spec = _spec(tmp_path, tiny_model_dir, path, "broken", dataset_name="shop v1 · imported · 3 rows")
    result = run_engine("train", spec, str(tmp_path / "b.json"))
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_data" and "row 3 of shop v1 · imported · 3 rows" in failed["message"]
    assert "broken.parquet" not in failed["message"]


def test_invalid_config_fails_before_loading_anything(tmp_path, tiny_model_dir, trained_run):
    spec = _spec(tmp_path, tiny_model_dir, trained_run.dataset_path, "cfg",
                 config=TrainConfig(learning_rate=0.0, batch_size=0))
    result = run_engine("train", spec, str(tmp_path / "cfg.json"))
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_config" and "Batch size" in failed["advice"]
