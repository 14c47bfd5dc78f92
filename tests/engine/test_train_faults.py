"""Failures a training child explains: a full disk during a checkpoint save (the previous
checkpoint stays loadable) and a missing base model, each its own failure kind with advice."""

from __future__ import annotations

import glob
import os
import subprocess
import uuid

import pytest

from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import SHORT_CONFIG, run_engine
from workbench.core.records import TrainConfig
from workbench.jobs.specs import TrainSpec


def _dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _d, files in os.walk(path) for f in files)


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size (needs root, as in CI's container)."""
    mounts = []

    def make(size_kb: int) -> str:
        path = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounts.append(path)
        return str(path)

    yield make
    for path in mounts:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_during_a_checkpoint_save_keeps_the_previous_checkpoint(tmp_path, tiny_model_dir, small_disk,
                                                                           short_runs):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from workbench.services.runs import last_checkpoint

    dataset = write_parquet(ticket_conversations(16), str(tmp_path / "d.parquet"))
    # The session's short runs train the same adapter on the same model (r=4, the default
    # targets): one of their checkpoints is the size of one of this run's (a few bytes of
    # trainer state apart). Give the run room for one and a half.
    config = SHORT_CONFIG.replace(max_steps=6, save_steps=2, keep_checkpoints=5)
    [probe] = glob.glob(os.path.join(short_runs.root, "a", "checkpoints", "checkpoint-*"))
    one = _dir_size(probe)
    disk = small_disk(int(one * 1.5 / 1024) + 8)
    out = os.path.join(disk, "run")
    spec = TrainSpec(run_id="full", base_model_path=tiny_model_dir, dataset_path=dataset, output_dir=out,
                     journal_path=str(tmp_path / "full.jsonl"), stop_file=os.path.join(out, "STOP"), config=config)
    result = run_engine("train", spec, str(tmp_path / "full.json"))
    failed = result.last("failed").payload
    assert result.rc == 1 and failed["error_kind"] == "disk_full", failed
    assert "Free space" in failed["advice"]
    checkpoint = last_checkpoint(out)
    assert checkpoint is not None and checkpoint.endswith("checkpoint-2")
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), checkpoint)


def test_a_missing_base_model_is_its_own_failure_kind(tmp_path):
    dataset = write_parquet(ticket_conversations(4), str(tmp_path / "d.parquet"))
    spec = TrainSpec(run_id="m", base_model_path=str(tmp_path / "gone"), dataset_path=dataset,
                     output_dir=str(tmp_path / "m"), journal_path=str(tmp_path / "m.jsonl"),
                     stop_file=str(tmp_path / "m" / "STOP"), config=TrainConfig(max_steps=1))
    result = run_engine("train", spec, str(tmp_path / "m.json"))
    failed = result.last("failed").payload
    assert result.rc == 1 and failed["error_kind"] == "missing_model"
