"""Temporary files of an import in progress, and the clean-up of those a killed process left.

A dataset version is written as `.partial-<pid>-<random>.parquet` next to its final place and
renamed to `<content_hash>.parquet` only when complete, so a reader never sees half a file.
Cancel and errors delete the partial file at once; a process that is killed cannot, so every
import first removes partial files that are older than STALE_AFTER_S *and* whose process is
gone (a partial file of a running import, even a slow one, is never touched).
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Optional

PARTIAL_PREFIX = ".partial-"
STALE_AFTER_S = 300.0
_PARTIAL_NAME = re.compile(r"^\.partial-(\d+)-[0-9a-f]{32}(\.[A-Za-z0-9.]+)?$")
# Written by earlier versions (no pid in the name): stale by age alone.
_LEGACY_NAME = re.compile(r"^\.import-[0-9a-f]{32}\.parquet\.tmp$")


def partial_path(folder: str | Path, suffix: str = "") -> Path:
    """A new, unique temp path in `folder` that `clean_stale_partials` recognises."""
    return Path(folder) / f"{PARTIAL_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{suffix}"


def clean_stale_partials(folder: str | Path, max_age_s: float = STALE_AFTER_S, now: Optional[float] = None) -> list[Path]:
    """Delete partial files in `folder` left by dead processes; returns the removed paths."""
    folder = Path(folder)
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL_NAME.match(entry.name)
        legacy = match is None and _LEGACY_NAME.match(entry.name)
        if not (match or legacy):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat().st_mtime < max_age_s:
                continue
            if match and pid_alive(int(match.group(1))):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to delete: leave it
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (True when unsure)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process on Windows
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def _windows_pid_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
