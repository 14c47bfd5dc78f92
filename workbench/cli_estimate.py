"""`workbench estimate --config FILE [--model M] [--project P] [--json]`: will the run fit?

The model is --model, else the config file's base_model: a model folder, or with --project a
project model's name or id or a built-in kind (tiny, smollm2); a built-in kind already built on
this machine works without a project.
"""

from __future__ import annotations

import os
from typing import Any

from workbench.core.errors import WorkbenchError
from workbench.core.memory_estimate import gb
from workbench.core.train_config import load_config_file


def add_estimate_parser(sub) -> None:
    e = sub.add_parser("estimate", help="estimate a run's peak memory against this machine (fits / tight / will not fit)")
    e.add_argument("--config", required=True, help="a run setup file (YAML or JSON), as the Train page saves it")
    e.add_argument("--model", help="model folder, or with --project a model name, id or built-in kind")
    # "" rather than None: the CLI treats a missing --project of the project verbs as an error.
    e.add_argument("--project", default="", help="the NAME.wbproj folder to look the model up in")
    e.add_argument("--json", action="store_true", help="print the result as JSON")


def _model_path(query: str, project: str) -> str:
    from workbench.services import models

    if os.path.isdir(query):
        if not os.path.isfile(os.path.join(query, "config.json")):
            raise WorkbenchError(f"{query} is not a Hugging Face model folder (it has no config.json).",
                                 advice="Point --model at the folder that holds config.json and the weights.")
        return os.path.abspath(query)
    if project:
        from workbench.services import lookup
        from workbench.services.projects import open_project

        store = open_project(project)
        try:
            return lookup.find_model(store, query).path
        finally:
            store.close()
    if query in models.BUILTIN_MODELS and os.path.isfile(os.path.join(models.builtin_model_dir(query), "config.json")):
        return models.builtin_model_dir(query)
    raise WorkbenchError(f"There is no model folder {query!r}.",
                         advice="Give a model folder, or add --project PATH to look up a project model by name, "
                                "id or built-in kind (tiny, smollm2).")


def run(args) -> dict[str, Any]:
    from workbench.services.fit import device_memory, estimate_fit

    setup = load_config_file(args.config)
    query = args.model or setup.base_model
    if not query:
        raise WorkbenchError(f"{args.config} names no base model.",
                             advice="Add base_model: FOLDER to the file, or pass --model.")
    problems = setup.config.validate()
    if problems:
        raise WorkbenchError("The training settings need fixing.", details="\n".join(problems), advice=problems[0])
    path = _model_path(query, args.project)
    device = device_memory()
    fit = estimate_fit(path, setup.config, device)
    return {
        "model": query, "model_path": path,
        "device": {"kind": device.kind, "name": device.name, "free_bytes": device.free_bytes,
                   "total_bytes": device.total_bytes},
        "verdict": fit.verdict, "peak_bytes": fit.peak_bytes, "available_bytes": fit.available_bytes,
        "parts": [{"name": name, "bytes": n} for name, n in fit.parts],
        "suggestions": fit.suggestions, "notes": fit.notes,
        "measured_as": "cuda_max_allocated" if fit.device_kind == "cuda" else "peak_rss",
        "measured_estimate_bytes": fit.measured_bytes,
    }


def show(result: dict[str, Any]) -> None:
    d = result["device"]
    print(f"{result['verdict'].upper()}: about {gb(result['peak_bytes'])} at the peak; "
          f"{gb(result['available_bytes'])} free on {d['name']}")
    for part in result["parts"]:
        print(f"  {gb(part['bytes']):>10}  {part['name']}")
    for note in result["notes"]:
        print(f"note: {note}")
    for s in result["suggestions"]:
        print(f"try: {s}")
