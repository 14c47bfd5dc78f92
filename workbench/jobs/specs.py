"""Job specs: what a child process is asked to do, written as JSON next to its journal."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from workbench.core.records import TrainConfig, from_dict


@dataclass(frozen=True)
class TrainSpec:
    run_id: str
    base_model_path: str  # HF folder
    dataset_path: str  # Parquet with a `messages` column (JSON list of {role, content})
    output_dir: str  # run working folder: adapter/, checkpoints/
    journal_path: str
    stop_file: str  # its existence asks the child to stop cooperatively
    config: TrainConfig = field(default_factory=TrainConfig)
    resume_from: Optional[str] = None  # checkpoint folder
    dataset_name: str = ""  # the version as the user knows it (its title): what messages name
    eval_dataset_path: Optional[str] = None  # the version's validation part (eval loss, best checkpoint)
    # Provenance the run record keeps (the child cannot look these up: it never opens the store).
    dataset_version_id: str = ""
    dataset_hash: str = ""  # the version's content hash
    split_seed: Optional[int] = None  # the seed of the split the version is a part of
    base_model_fingerprint: str = ""
    author: str = ""
    cache_dir: str = ""  # the project's token cache (engine/token_cache.py); "": no cache
    # Training processes (torchrun workers, one per GPU or CPU share); the launcher starts them
    # (jobs/launch.engine_argv) and the spec records it, so a resume or re-attach knows it.
    nproc: int = 1


@dataclass(frozen=True)
class ChatSpec:
    base_model_path: str
    adapter_path: Optional[str] = None
    journal_path: Optional[str] = None
    device: str = "auto"


@dataclass(frozen=True)
class BuildModelSpec:
    kind: str  # "tiny" | "smollm2"
    output_dir: str
    journal_path: Optional[str] = None
    corpus_path: Optional[str] = None  # tiny: JSONL of messages to train tokenizer + pretrain
    pretrain_steps: int = 150


@dataclass(frozen=True)
class ExportSpec:
    """Merge a LoRA adapter into its base model and save a plain Hugging Face model folder."""

    base_model_path: str
    adapter_path: str  # a PEFT folder: a run's adapter/, best/ or checkpoints/checkpoint-N
    output_dir: str
    journal_path: Optional[str] = None
    run_id: str = ""  # provenance written into workbench_export.json (the child never opens the store)
    run_name: str = ""
    checkpoint: str = ""  # "final" | "best" | "checkpoint-N"
    step: Optional[int] = None
    base_model_fingerprint: str = ""
    device: str = "auto"


SPEC_TYPES = {"train": TrainSpec, "chat": ChatSpec, "build-model": BuildModelSpec, "export": ExportSpec}


def write_spec(spec: Any, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(asdict(spec), f, indent=2)
    os.replace(tmp, path)
    return path


def read_spec(verb: str, path: str) -> Any:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    cls = SPEC_TYPES[verb]
    if cls is TrainSpec:
        data["config"] = from_dict(TrainConfig, data.get("config") or {})
    return from_dict(cls, data)
