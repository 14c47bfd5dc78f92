"""Which device and precision a child uses, and the environment it records."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from typing import Any

from workbench.engine.errors import BadConfigError


@dataclass(frozen=True)
class DevicePlan:
    device: str  # "cpu" | "cuda" | "mps"
    dtype: str  # torch dtype name to load weights in: float32 | bfloat16 | float16
    bf16: bool  # Trainer mixed precision flags
    fp16: bool
    name: str  # human readable, e.g. "NVIDIA H200" or "CPU (2 threads)"

    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)


def pick_device(requested: str = "auto") -> DevicePlan:
    """CUDA (bf16 where supported, else fp16), then Apple MPS, then CPU (float32)."""
    import torch

    requested = (requested or "auto").lower()
    if requested not in ("auto", "cpu", "cuda", "mps"):
        raise BadConfigError(f"Unknown device {requested!r}.", advice="Use auto, cpu, cuda or mps.")
    want_cuda = requested in ("auto", "cuda")
    if want_cuda and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        if torch.cuda.is_bf16_supported():
            return DevicePlan("cuda", "bfloat16", True, False, name)
        return DevicePlan("cuda", "float16", False, True, name)
    if requested == "cuda":
        raise BadConfigError("No CUDA GPU is available.", advice="Choose device auto or cpu.")
    mps = getattr(torch.backends, "mps", None)
    if requested in ("auto", "mps") and mps is not None and mps.is_available():
        return DevicePlan("mps", "float32", False, False, "Apple GPU (MPS)")
    if requested == "mps":
        raise BadConfigError("Apple MPS is not available.", advice="Choose device auto or cpu.")
    return DevicePlan("cpu", "float32", False, False, f"CPU ({torch.get_num_threads()} threads)")


def environment(plan: DevicePlan) -> dict[str, Any]:
    """Library versions and device, recorded with every run so results can be compared."""
    import peft
    import torch
    import transformers

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "device": plan.device,
        "device_name": plan.name,
        "dtype": plan.dtype,
    }
    try:
        import accelerate

        env["accelerate"] = accelerate.__version__
    except ImportError:
        pass
    if plan.device == "cuda":
        env["cuda"] = torch.version.cuda
    return env
