"""Names and a reader for the small JSON files a run leaves in its folders: one place for the
engine that writes them and the services that read them."""

from __future__ import annotations

import json
from typing import Any

RUN_RECORD = "workbench_run.json"  # in every adapter folder (final, best/, checkpoint-N): engine.run_record


def read_json_object(path: str) -> dict[str, Any]:
    """The JSON object in `path`; {} when the file is missing, unreadable or not an object (a
    run's side files are optional facts: their absence is never an error)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
