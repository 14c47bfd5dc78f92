"""Ids, timestamps and the current user's name."""

from __future__ import annotations

import getpass
import os
import uuid
from datetime import datetime, timezone


def new_id() -> str:
    return str(uuid.uuid4())


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def default_user() -> str:
    """The user's name for created_by: WORKBENCH_USER, else the OS user."""
    name = os.environ.get("WORKBENCH_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return "unknown"
