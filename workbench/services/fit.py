"""Will it fit: a run's estimated peak memory against the device it would train on.

Nothing here imports torch: the GPU is probed with nvidia-smi, the CPU's memory read from
/proc/meminfo, the model's shape from its config.json and safetensors headers (cached per folder
and file times, so the Train page can re-estimate on every edit from a worker thread).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import threading
import time
from typing import Optional

from workbench.core.memory_estimate import (
    FITS,
    DeviceMemory,
    FitEstimate,
    MemoryEstimate,
    estimate_memory,
    gb,
    verdict_for,
)
from workbench.core.model_shape import ModelShape, read_model_shape, weight_files
from workbench.core.train_config import MIN_MAX_LENGTH, TrainConfig

PROBE_SECONDS = 5.0  # free memory changes; a fresh probe at most this often
_NVIDIA_SMI_TIMEOUT = 5.0
_lock = threading.Lock()
_probe: Optional[tuple[float, DeviceMemory]] = None
_shapes: dict[tuple, ModelShape] = {}


def _torch_has_cuda() -> bool:
    """False for a CPU-only torch build (its version says +cpu): it trains on the CPU even
    beside a GPU. Read from the package metadata, without importing torch."""
    try:
        return "+cpu" not in importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return False


def _nvidia_smi() -> Optional[DeviceMemory]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.free,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=_NVIDIA_SMI_TIMEOUT, check=True).stdout
        name, free, total = [p.strip() for p in out.strip().splitlines()[0].rsplit(",", 2)]
        return DeviceMemory("cuda", name, int(float(free)) * 2**20, int(float(total)) * 2**20)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None  # no usable GPU: the run trains on the CPU


def _cpu_memory() -> DeviceMemory:
    name = f"CPU ({os.cpu_count() or 1} cores)"
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if len(line.split()) >= 2}
        return DeviceMemory("cpu", name, info["MemAvailable"], info["MemTotal"])
    except (OSError, KeyError, ValueError):
        import psutil

        vm = psutil.virtual_memory()
        return DeviceMemory("cpu", name, int(vm.available), int(vm.total))


def device_memory() -> DeviceMemory:
    """The device a run would train on (GPU 0, as the training child picks it) and its free memory."""
    global _probe
    with _lock:
        if _probe is not None and time.monotonic() - _probe[0] < PROBE_SECONDS:
            return _probe[1]
    gpu = _nvidia_smi() if _torch_has_cuda() else None
    device = gpu or _cpu_memory()
    with _lock:
        _probe = (time.monotonic(), device)
    return device


def quantization_support() -> tuple[bool, str]:
    """(available, why not): QLoRA needs a CUDA GPU and the bitsandbytes package."""
    device = device_memory()
    if device.kind != "cuda":
        if shutil.which("nvidia-smi") and not _torch_has_cuda():
            return False, "4-/8-bit quantisation needs a CUDA build of torch; this one is CPU-only."
        return False, "4-/8-bit quantisation (QLoRA) needs an NVIDIA GPU with CUDA; this machine trains on the CPU."
    if importlib.util.find_spec("bitsandbytes") is None:
        return False, "4-/8-bit quantisation needs the bitsandbytes package (pip install bitsandbytes)."
    return True, f"QLoRA through bitsandbytes on {device.name}."


def model_shape(model_path: str) -> ModelShape:
    """The folder's shape, read once per change of its config, weights or tokenizer."""
    files = [os.path.join(model_path, "config.json"), os.path.join(model_path, "tokenizer.json"),
             *weight_files(model_path)]
    key = (os.path.abspath(model_path), *((f, os.stat(f).st_mtime_ns) for f in files if os.path.exists(f)))
    with _lock:
        shape = _shapes.get(key)
    if shape is None:
        shape = read_model_shape(model_path)
        with _lock:
            _shapes[key] = shape
    return shape


def _change(label: str, before: MemoryEstimate, after: MemoryEstimate, available: int) -> str:
    return f"{label}: {gb(before.peak_bytes)} -> {gb(after.peak_bytes)} ({verdict_for(after.peak_bytes, available)})"


def _suggestions(shape: ModelShape, config: TrainConfig, device: DeviceMemory, now: MemoryEstimate) -> list[str]:
    """Each knob that lowers the peak, re-estimated; the most effective first."""
    options: list[tuple[str, TrainConfig]] = []
    if not config.gradient_checkpointing:
        options.append(("turn on gradient checkpointing", config.replace(gradient_checkpointing=True)))
    if config.batch_size // 2 >= config.min_batch_size:
        b = config.batch_size // 2
        options.append((f"batch {config.batch_size} -> {b} with gradient accumulation x{config.grad_accum * 2} "
                        f"(same effective batch)", config.replace(batch_size=b, grad_accum=config.grad_accum * 2)))
    if config.max_length // 2 >= MIN_MAX_LENGTH:
        n = config.max_length // 2
        options.append((f"max length {config.max_length} -> {n} (longer rows are cut)", config.replace(max_length=n)))
    quant_ok, quant_why = quantization_support() if device.kind == "cuda" else (False, "")
    if device.kind == "cuda" and config.quantization == "none":
        label = "4-bit quantisation" + ("" if quant_ok else " (needs bitsandbytes: pip install bitsandbytes)")
        options.append((label, config.replace(quantization="4bit", use_dora=False)))
    if device.kind == "cuda" and config.precision in ("fp32", "fp16"):
        options.append(("precision auto (16-bit weights)", config.replace(precision="auto")))
    scored = [(estimate_memory(shape, c, device.kind), label) for label, c in options]
    scored = [(e, label) for e, label in scored if e.peak_bytes < now.peak_bytes]
    scored.sort(key=lambda el: el[0].peak_bytes)
    out = [_change(label, now, e, device.free_bytes) for e, label in scored]
    if scored and all(verdict_for(e.peak_bytes, device.free_bytes) != FITS for e, _ in scored):
        combined = config.replace(gradient_checkpointing=True, batch_size=1,
                                  grad_accum=config.grad_accum * config.batch_size)
        if device.kind == "cuda" and quant_ok:
            combined = combined.replace(quantization="4bit", use_dora=False)
        both = estimate_memory(shape, combined, device.kind)
        if both.peak_bytes < scored[0][0].peak_bytes:
            out.insert(0, _change("all of: gradient checkpointing, batch 1 with accumulation"
                                  + (", 4-bit" if combined.quantization == "4bit" else ""), now, both,
                                  device.free_bytes))
        if verdict_for(both.peak_bytes, device.free_bytes) != FITS:
            out.append("use a smaller base model")
    return out


def estimate_fit(model_path: str, config: TrainConfig, device: Optional[DeviceMemory] = None) -> FitEstimate:
    """The run's estimated peak against `device` (the probed one by default), with a verdict."""
    device = device or device_memory()
    shape = model_shape(model_path)
    est = estimate_memory(shape, config, device.kind)
    verdict = verdict_for(est.peak_bytes, device.free_bytes)
    suggestions = _suggestions(shape, config, device, est) if verdict != FITS else []
    return FitEstimate(verdict=verdict, peak_bytes=est.peak_bytes, available_bytes=device.free_bytes,
                       device_name=device.name, parts=est.parts, suggestions=suggestions, device_kind=device.kind,
                       measured_bytes=est.measured_bytes, notes=est.notes)


def estimated_measured_peak(model_path: str, config: TrainConfig, device_kind: str) -> int:
    """What a finished run's measured peak should read on `device_kind`, for "estimated X, measured Y"."""
    return estimate_memory(model_shape(model_path), config, device_kind).measured_bytes
