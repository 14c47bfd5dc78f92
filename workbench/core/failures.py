"""Why a run failed: the kinds a training child reports (engine/errors.py) and the parent
derives (a killed process), with what the Runs page calls them. One source for both sides."""

from __future__ import annotations

FAILURE_LABELS = {
    "oom": "Out of memory",
    "bad_data": "Bad data",
    "bad_config": "Bad settings",
    "missing_model": "Base model missing",
    "disk_full": "Disk full",
    "killed": "Process killed",
    "error": "Error",
}
# What a child can report in its `failed` event; "killed" is only ever decided by the parent.
ERROR_KINDS = tuple(k for k in FAILURE_LABELS if k != "killed")
