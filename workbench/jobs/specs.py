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
    # A LoRA adapter folder (an SFT run's) the run starts from, trained further; None: a new adapter.
    init_adapter_path: Optional[str] = None


@dataclass(frozen=True)
class ChatSpec:
    """One chat child: one base model, loaded once, with LoRA adapters of it by name."""

    base_model_path: str
    adapter_path: Optional[str] = None  # loaded as the adapter named "default"
    journal_path: Optional[str] = None
    device: str = "auto"
    adapters: dict[str, str] = field(default_factory=dict)  # name -> adapter folder


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


@dataclass(frozen=True)
class JudgeSpec:
    """The local model that judges each output against a rubric (evaluation.judge)."""

    model_path: str  # a HF folder (any local causal LM with a chat template, e.g. SmolLM2)
    rubric: str
    scale: str = "pass_fail"  # core.eval_records.RATING_SCALES
    adapter_path: Optional[str] = None
    max_new_tokens: int = 160
    # "auto": a reply without a readable verdict line gets the verdict the judge model finds most
    # likely after the cue (engine/eval_judge.py); "text": such a reply is an error on the item.
    verdict: str = "auto"


@dataclass(frozen=True)
class EvalSpec:
    """Generate (and judge) every item of a suite with one model: `python -m workbench.engine
    eval SPEC.json`. The parent resolves every path (the child never opens the store)."""

    eval_run_id: str
    base_model_path: str
    items_path: str  # JSONL, one core.eval_records.EvalItem per line (suite order)
    journal_path: str
    stop_file: str  # its existence (or "stop" on stdin) asks the child to stop after the batch
    adapter_path: Optional[str] = None  # a PEFT folder (a snapshot of the run's checkpoint); None: the base model
    generation: dict[str, Any] = field(default_factory=dict)  # core.eval_records.GenerationSettings fields
    reference_loss: bool = False  # measure each item's first reference's NLL (loss / perplexity metrics)
    judge: Optional[JudgeSpec] = None
    # Resume: items generated already (item id -> output) are not generated again; those of
    # them in judged_ids are not judged again either.
    done_outputs: dict[str, str] = field(default_factory=dict)
    judged_ids: list[str] = field(default_factory=list)
    device: str = "auto"
    base_model_fingerprint: str = ""


SPEC_TYPES = {"train": TrainSpec, "chat": ChatSpec, "build-model": BuildModelSpec, "export": ExportSpec,
              "eval": EvalSpec}


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
    if cls is EvalSpec and data.get("judge"):
        data["judge"] = from_dict(JudgeSpec, data["judge"])
    return from_dict(cls, data)
