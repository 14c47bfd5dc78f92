"""The `build-model` verb: make a local base model folder (tiny demo model or SmolLM2)."""

from __future__ import annotations

from workbench.engine.errors import BadConfigError
from workbench.jobs.protocol import EventWriter
from workbench.jobs.specs import BuildModelSpec

KINDS = ("tiny", "smollm2")


def run_build_model(spec: BuildModelSpec, writer: EventWriter) -> int:
    def progress(fraction: float, message: str) -> None:
        writer.emit("progress", fraction=round(min(1.0, max(0.0, fraction)), 4), message=message)

    if spec.kind == "tiny":
        from workbench.engine.tiny_model import build_tiny

        result = build_tiny(spec.corpus_path, spec.output_dir, spec.pretrain_steps, progress)
    elif spec.kind == "smollm2":
        from workbench.engine.smollm2 import build_smollm2

        result = build_smollm2(spec.output_dir, progress)
    else:
        raise BadConfigError(f"Unknown model kind {spec.kind!r}.", advice=f"Use one of: {', '.join(KINDS)}.")
    writer.emit("completed", **result)
    return 0
