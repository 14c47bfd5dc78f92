"""`workbench runs export RUN --merged OUT [--checkpoint best|final|N]`: a run as a merged model.

RUN is a run's name or id (or an id prefix). The merged folder loads with a plain
``AutoModelForCausalLM.from_pretrained(OUT)``; see workbench/services/exports.py.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable


def add_runs_subparsers(runs: argparse.ArgumentParser, project: Callable[..., None]) -> None:
    """The `runs` verb's sub-verbs; `workbench runs` alone still lists the runs."""
    sub = runs.add_subparsers(dest="runs_verb")
    e = sub.add_parser("export", help="merge a run's adapter into its base model and save a plain HF folder")
    # Accepted before or after the sub-verb (SUPPRESS: not given here keeps the value given before).
    project(e, required=False, default=argparse.SUPPRESS)
    e.add_argument("run", help="run name or id")
    e.add_argument("--merged", required=True, metavar="OUT", help="the folder to write the merged model to")
    e.add_argument("--checkpoint", default="final",
                   help="which adapter: final (default), best (lowest eval loss) or a checkpoint step N")
    from workbench.cli_runs import add_runs_control_parsers

    add_runs_control_parsers(sub, project)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from workbench.cli import _open, _progress
    from workbench.services import exports, lookup

    store = _open(args.project)
    try:
        run_record = lookup.find_run(store, args.run)
        job = exports.export_merged(store, run_record.id, args.merged, checkpoint=args.checkpoint)
        print(f"exporting {run_record.name} ({job.spec.checkpoint}) to {job.spec.output_dir}",
              file=sys.stderr, flush=True)
        result = job.wait(progress=_progress)
        return {"path": result.path, "run_id": result.run_id, "run": run_record.name,
                "checkpoint": result.checkpoint, "step": result.step, "dtype": result.dtype,
                "device": result.device, "size_bytes": result.size_bytes}
    finally:
        store.close()


def show(result: dict[str, Any]) -> None:
    step = f", step {result['step']}" if result.get("step") is not None else ""
    print(f"exported {result['run']} ({result['checkpoint']}{step}) merged in {result['dtype']} "
          f"on {result['device']}: {result['path']}")
