"""What a finished training child measured and records: peak memory, throughput, provenance.

The record (workbench_run.json) travels inside every adapter folder, so an adapter copied out of
the project still says what made it.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Optional

from workbench.core.clock import now_iso
from workbench.core.hashing import file_sha256
from workbench.core.run_files import RUN_RECORD
from workbench.jobs.specs import TrainSpec



def peak_memory(device: str) -> tuple[int, str]:
    """(bytes, what was measured): CUDA max allocated on a GPU, else the process's peak RSS."""
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated()), "cuda_max_allocated"
    hwm = _vm_hwm()
    if hwm is not None:
        return hwm, "peak_rss"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return int(rss if sys.platform == "darwin" else rss * 1024), "peak_rss"


def memory_now(device: str) -> int:
    """The training process's memory now (the live memory curve): bytes allocated on a CUDA
    GPU, else the process's resident set size."""
    if device == "cuda":
        import torch

        return int(torch.cuda.memory_allocated())
    import psutil

    return int(psutil.Process().memory_info().rss)


def _vm_hwm() -> Optional[int]:
    """This process image's own peak RSS (Linux: VmHWM). Not ru_maxrss: Linux carries that over
    exec from the forked parent, so a child of a big GUI or test process would report the
    parent's size as its peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class Throughput:
    """Wall time and tokens of the training loop (model load and tokenising excluded)."""

    started: float = 0.0
    first_step_at: Optional[float] = None  # seconds from process start to the first optimizer step
    seconds: float = 0.0
    tokens: int = 0  # non-padding input tokens seen (the Trainer counts them)
    examples: int = 0

    def start(self) -> None:
        self.started = time.perf_counter()

    def stop(self, tokens: int, examples: int) -> None:
        self.seconds = time.perf_counter() - self.started
        self.tokens, self.examples = int(tokens), int(examples)

    @property
    def tokens_per_s(self) -> Optional[float]:
        return self.tokens / self.seconds if self.seconds > 0 and self.tokens else None

    @property
    def examples_per_s(self) -> Optional[float]:
        return self.examples / self.seconds if self.seconds > 0 and self.examples else None

    def summary(self) -> dict[str, Any]:
        return {"train_seconds": round(self.seconds, 3), "tokens_seen": self.tokens,
                "tokens_per_s": self.tokens_per_s, "examples_per_s": self.examples_per_s}


def write_run_record(folder: str, spec: TrainSpec, env: dict[str, Any], result: dict[str, Any]) -> None:
    record = {
        "run_id": spec.run_id,
        "config": asdict(spec.config),
        "seed": spec.config.seed,
        "dataset_version_id": spec.dataset_version_id,
        "dataset_hash": spec.dataset_hash,
        "dataset_sha256": file_sha256(spec.dataset_path),
        "dataset_path": os.path.abspath(spec.dataset_path),
        "split_seed": spec.split_seed,
        "base_model_path": os.path.abspath(spec.base_model_path),
        "base_model_fingerprint": spec.base_model_fingerprint,
        "author": spec.author,
        "resumed_from": spec.resume_from,
        "environment": env,
        "device": env.get("device"),
        "finished_at": now_iso(),
        **result,
    }
    with open(os.path.join(folder, RUN_RECORD), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
