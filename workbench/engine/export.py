"""The `export` verb: merge a LoRA adapter into its base model and save a plain HF model folder.

The folder (safetensors weights, config, generation config, tokenizer with its chat template,
and workbench_export.json saying what it was made from) loads with a bare
``AutoModelForCausalLM.from_pretrained`` and needs neither peft nor Workbench. It is written
atomically: a crash, a full disk or a cancel leaves the old folder or none, never half a model.

The merge runs in the precision the device would load the base in (float32 on a CPU, bf16 or
fp16 on a GPU, workbench.engine.devices.pick_device), and the weights are saved in it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from typing import Any

from workbench.core.clock import now_iso
from workbench.core.run_files import RUN_RECORD, read_json_object
from workbench.engine.control import StopSignal
from workbench.engine.errors import (
    BadConfigError,
    EngineError,
    MissingModelError,
    ModelLoadError,
    failure_payload,
)
from workbench.engine.model_files import atomic_folder
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import ExportSpec

EXPORT_RECORD = "workbench_export.json"
RUN_RECORD = RUN_RECORD  # engine.run_record writes it into adapter folders
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


EXPORT_DISK_ADVICE = ("Free space on that disk (old runs' checkpoints are the usual bulk) or export to "
                      "another disk; nothing half-written was kept.")
EXPORT_OOM_ADVICE = ("Merging needs the whole base model in memory, in full precision on a CPU. Close "
                     "other programs, or export on a machine with more memory or a GPU.")


class DiskFullError(EngineError):
    error_kind = "disk_full"


class _Stopped(Exception):
    """A cancel arrived (stdin "stop" or SIGTERM): the temporary folder is removed."""


def _check(spec: ExportSpec) -> None:
    if not os.path.isfile(os.path.join(spec.base_model_path, "config.json")):
        raise MissingModelError(
            f"The base model folder {spec.base_model_path} is missing or holds no config.json.",
            advice="The export needs the base model the adapter was trained on: rebuild it on the Models "
                   "page (built-in models) or put its folder back where the project expects it.")
    if not os.path.isfile(os.path.join(spec.adapter_path, "adapter_config.json")):
        raise BadConfigError(
            f"{spec.adapter_path} holds no adapter_config.json, so it is not a LoRA adapter that can be merged.",
            advice="Export the run's final adapter, its best checkpoint, or a checkpoint-N folder that holds "
                   "adapter_config.json (`workbench runs export RUN --merged OUT --checkpoint best|final|N`).")
    out = os.path.realpath(spec.output_dir)
    for name, folder in (("base model", spec.base_model_path), ("adapter", spec.adapter_path)):
        inside = os.path.realpath(folder)
        if out == inside or out.startswith(inside + os.sep) or inside.startswith(out + os.sep):
            raise BadConfigError(f"The export folder {spec.output_dir} overlaps the {name} folder {folder}.",
                                 advice="Export into a new, separate folder.")
    # Replacing a previous export is fine; replacing anything else would lose a user's files.
    if os.path.isdir(out) and os.listdir(out) and not os.path.isfile(os.path.join(out, EXPORT_RECORD)):
        raise BadConfigError(
            f"The export folder {spec.output_dir} already holds files that are not a Workbench export.",
            advice="Choose a new or empty folder; Workbench replaces only a folder it exported before.")


def _tokenizer(spec: ExportSpec):
    """The adapter folder's tokenizer and chat template (the ones training used), else the base's."""
    from transformers import AutoTokenizer

    folder = spec.adapter_path if any(
        os.path.isfile(os.path.join(spec.adapter_path, n)) for n in _TOKENIZER_FILES) else spec.base_model_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load the tokenizer of {folder}.", details=str(exc),
                             advice="The adapter or base model folder must hold its tokenizer files.") from exc
    if not tokenizer.chat_template:
        raise ModelLoadError(f"The tokenizer in {folder} has no chat template.",
                             advice="Export an adapter trained by Workbench: its folder keeps the chat template.")
    return tokenizer


def _merged(spec: ExportSpec, plan, stop: StopSignal, progress):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    where = f"{plan.dtype} on {plan.name}"
    progress(0.05, f"loading the base model ({where})")
    try:
        model = AutoModelForCausalLM.from_pretrained(spec.base_model_path, dtype=plan.torch_dtype(),
                                                     trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Cannot load the base model {spec.base_model_path}.", details=str(exc),
                             advice="Check that the folder holds a Hugging Face causal LM.") from exc
    if stop.requested():
        raise _Stopped()
    progress(0.35, "loading the adapter")
    try:
        model = PeftModel.from_pretrained(model.to(plan.device), spec.adapter_path)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"Cannot load the adapter {spec.adapter_path} onto {spec.base_model_path}.",
                             details=str(exc),
                             advice="The adapter must have been trained on this base model.") from exc
    if stop.requested():
        raise _Stopped()
    progress(0.5, f"merging the adapter into the weights ({where})")
    merged = model.merge_and_unload()
    merged.config.use_cache = True  # training turns the KV cache off; generation wants it
    return merged.eval()


def _set_generation_stops(merged, tokenizer) -> None:
    """A bare generate() must stop at the end of a reply as Workbench's chat does."""
    from workbench.engine.chat import generation_pad_id, stop_token_ids

    config = merged.generation_config
    stops = stop_token_ids(tokenizer, config)
    if stops:
        config.eos_token_id = stops[0] if len(stops) == 1 else stops
    if config.pad_token_id is None:
        config.pad_token_id = generation_pad_id(tokenizer, stops)


def _weights_bytes(model) -> int:
    # parameters() yields a tied weight (GPT-2's lm_head = wte) once, as the saved file holds it.
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _check_space(folder: str, need: int) -> None:
    parent = os.path.dirname(os.path.abspath(folder))
    while parent and not os.path.isdir(parent):
        parent = os.path.dirname(parent)
    free = shutil.disk_usage(parent).free
    if free < need * 1.05 + 16 * 2**20:
        raise DiskFullError(
            f"Not enough disk space to export: the merged model needs about {need / 2**20:,.0f} MB, "
            f"{parent} has {free / 2**20:,.0f} MB free.", advice=EXPORT_DISK_ADVICE)



def export_record(spec: ExportSpec, plan, env: dict[str, Any]) -> dict[str, Any]:
    run = read_json_object(os.path.join(spec.adapter_path, RUN_RECORD))  # final/ and best/ carry one
    return {
        "format": "workbench-merged-model/1",
        "run_id": spec.run_id or run.get("run_id", ""),
        "run_name": spec.run_name,
        "checkpoint": spec.checkpoint,
        "step": spec.step,
        "adapter_path": os.path.abspath(spec.adapter_path),
        "base_model_path": os.path.abspath(spec.base_model_path),
        "base_model_fingerprint": spec.base_model_fingerprint or run.get("base_model_fingerprint", ""),
        "dtype": plan.dtype,
        "merged_on": plan.device,
        "dataset_version_id": run.get("dataset_version_id", ""),
        "dataset_hash": run.get("dataset_hash", ""),
        "config": run.get("config"),
        "environment": env,
        "exported_at": now_iso(),
    }


def run_export(spec: ExportSpec, writer: EventWriter) -> int:
    def progress(fraction: float, message: str) -> None:
        writer.emit("progress", fraction=round(min(1.0, max(0.0, fraction)), 4), message=message)

    stop = StopSignal(None)
    stop.watch_stdin()

    def on_term(_signum, _frame) -> None:
        raise _Stopped()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        return _export(spec, writer, stop, progress)
    except _Stopped:
        writer.emit("cancelled", path=None)
        return 0
    except Exception as exc:  # reported here: a full disk or OOM needs export advice, not training's
        payload = failure_payload(exc, oom_advice=EXPORT_OOM_ADVICE)
        if payload["error_kind"] == "disk_full":
            payload["advice"] = EXPORT_DISK_ADVICE
        writer.emit("failed", **payload)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _export(spec: ExportSpec, writer: EventWriter, stop: StopSignal, progress) -> int:
    _check(spec)
    tokenizer = _tokenizer(spec)
    from workbench.engine.devices import environment, pick_device

    plan = pick_device(spec.device)
    merged = _merged(spec, plan, stop, progress)
    _set_generation_stops(merged, tokenizer)
    size = _weights_bytes(merged)
    _check_space(spec.output_dir, size)
    record = export_record(spec, plan, environment(plan))

    def write(folder: str) -> None:
        if stop.requested():
            raise _Stopped()
        progress(0.7, f"saving {size / 2**20:,.0f} MB of {plan.dtype} weights (safetensors)")
        merged.save_pretrained(folder)
        tokenizer.save_pretrained(folder)  # with the chat template
        with open(os.path.join(folder, EXPORT_RECORD), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
        if stop.requested():
            raise _Stopped()

    try:
        path = atomic_folder(spec.output_dir, write)
    except PermissionError as exc:
        raise EngineError(f"Could not write the merged model to {spec.output_dir}.", details=str(exc),
                          advice="Choose a folder you can write to.") from exc
    progress(1.0, "exported")
    writer.emit("completed", path=path, dtype=plan.dtype, device=plan.device, size_bytes=size,
                checkpoint=spec.checkpoint, step=spec.step)
    return 0

