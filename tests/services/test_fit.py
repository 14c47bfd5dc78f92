"""services.fit: the device probe, the verdict and suggestions against a device, the shape cache,
and a finished run keeping its measured peak beside the estimate."""

from __future__ import annotations

import dataclasses
import json
import os
import stat

import pytest

from tests.core.test_memory_estimate import GPT2, LLAMA, gpt2_tensors, write_safetensors
from workbench.core.memory_estimate import FITS, NO_FIT, DeviceMemory, estimate_memory, gb
from workbench.core.model_shape import shape_from_config
from workbench.core.records import TrainConfig
from workbench.jobs.protocol import Event
from workbench.services import fit, run_views
from workbench.services.run_ingest import ingest


@pytest.fixture
def llama_folder(tmp_path):
    folder = tmp_path / "llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(LLAMA))
    return str(folder)


@pytest.fixture
def gpt2_folder(tmp_path):
    folder = tmp_path / "gpt2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(GPT2))
    write_safetensors(folder / "model.safetensors", gpt2_tensors())
    return str(folder)


def test_the_cpu_probe_reads_available_memory():
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    device = fit._cpu_memory()
    assert device.kind == "cpu" and device.total_bytes == total and 0 < device.free_bytes <= total


def test_the_gpu_probe_reads_nvidia_smi(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA H200, 140123, 143771'\necho 'NVIDIA H200, 5, 143771'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    # GPU 0, the one the training child uses; nvidia-smi reports MiB.
    assert fit._nvidia_smi() == DeviceMemory("cuda", "NVIDIA H200", 140123 * 2**20, 143771 * 2**20)
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert fit._nvidia_smi() is None  # a broken driver: the run trains on the CPU


def test_quantization_support_says_why_not_on_this_machine():
    ok, why = fit.quantization_support()
    if fit.device_memory().kind == "cpu":
        assert not ok and ("GPU" in why or "CUDA" in why)
    else:
        assert ok or "bitsandbytes" in why


def test_a_model_that_fits_has_no_suggestions(gpt2_folder):
    device = DeviceMemory("cpu", "CPU (test)", 64 * 2**30, 64 * 2**30)
    result = fit.estimate_fit(gpt2_folder, TrainConfig(), device)
    assert result.verdict == FITS and result.suggestions == []
    assert result.peak_bytes == sum(b for _, b in result.parts) and result.available_bytes == 64 * 2**30
    assert result.device_name == "CPU (test)"


def test_suggestions_are_re_estimates_with_one_knob_changed(llama_folder):
    config = TrainConfig(batch_size=8, max_length=1024)
    shape = shape_from_config(LLAMA)
    now = estimate_memory(shape, config, "cuda").peak_bytes
    device = DeviceMemory("cuda", "Small GPU", int(now * 0.7), 8 * 2**30)
    result = fit.estimate_fit(llama_folder, config, device)
    assert result.verdict == NO_FIT and result.peak_bytes == now
    ckpt = estimate_memory(shape, config.replace(gradient_checkpointing=True), "cuda").peak_bytes
    half = estimate_memory(shape, config.replace(batch_size=4, grad_accum=2), "cuda").peak_bytes
    texts = " | ".join(result.suggestions)
    assert f"turn on gradient checkpointing: {gb(now)} -> {gb(ckpt)}" in texts
    assert f"batch 8 -> 4 with gradient accumulation x2 (same effective batch): {gb(now)} -> {gb(half)}" in texts
    assert "max length 1024 -> 512" in texts and "4-bit quantisation" in texts
    # Each suggestion lowers the peak, the biggest saving first.
    peaks = [float(s.rsplit("-> ", 1)[1].split(" GB")[0]) for s in result.suggestions if "-> " in s]
    assert peaks == sorted(peaks) and all(p * 2**30 < now for p in peaks)


def test_nothing_fits_says_so(llama_folder):
    device = DeviceMemory("cpu", "CPU", 100 * 2**20, 100 * 2**20)
    result = fit.estimate_fit(llama_folder, TrainConfig(), device)
    assert result.verdict == NO_FIT and result.suggestions[-1] == "use a smaller base model"
    assert not any("4-bit" in s for s in result.suggestions)  # not offered on a CPU


def test_the_shape_is_read_once_per_change_of_the_files(gpt2_folder):
    first = fit.model_shape(gpt2_folder)
    assert fit.model_shape(gpt2_folder) is first
    config = os.path.join(gpt2_folder, "config.json")
    bigger = {**GPT2, "n_layer": 4}
    with open(config, "w") as f:
        json.dump(bigger, f)
    st = os.stat(config)
    os.utime(config, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert fit.model_shape(gpt2_folder).layers == 4


def test_a_finished_run_keeps_its_measured_peak_beside_the_estimate(store, gpt2_folder):
    version = store.add_version(dataset_id=store.add_dataset("chats").id, content_hash="h", blob_path="b",
                                row_count=1, format="openai_messages", source_name="c.jsonl", source_size=1,
                                source_hash="s", options={})
    model = store.add_base_model("g", "hf_folder", gpt2_folder, "f")
    config = TrainConfig(batch_size=2, max_length=64, max_steps=3)
    store.add_run(id="r1", name="r1", dataset_version_id=version.id, base_model_id=model.id,
                  config=dataclasses.asdict(config), status="running", work_dir="runs/r1")
    assert run_views.peak_memory_text(store.get_run("r1")) == ""
    ingest(store, "r1", [Event(1, "started", {"total_steps": 3, "environment": {"torch": "2"}, "device": "cpu"}),
                         Event(2, "completed", {"steps": 3, "peak_memory_bytes": 500 * 2**20,
                                                "peak_memory_kind": "peak_rss"})])
    env = store.get_run("r1").environment
    expected = estimate_memory(fit.model_shape(gpt2_folder), config, "cpu").measured_bytes
    assert env["peak_memory_bytes"] == 500 * 2**20 and env["estimated_peak_bytes"] == expected
    assert env["environment"] == {"torch": "2"} and env["device"] == "cpu"  # what started reported stays
    assert run_views.peak_memory_text(store.get_run("r1")) == f"estimated {gb(expected)}, measured 0.49 GB (peak RSS)"
