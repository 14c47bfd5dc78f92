"""Where things live on this machine: user data, cached base models, bundled resources."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
from importlib import resources as _resources

# Files extracted by as_file() (only when the package is not on a file system, e.g. zipped)
# stay until the process exits: callers keep the paths (icons, stylesheets) for its lifetime.
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def user_data_dir() -> str:
    """WORKBENCH_DATA_DIR, else the platform's user data folder (~/.local/share/workbench)."""
    path = os.environ.get("WORKBENCH_DATA_DIR")
    if not path:
        import platformdirs  # imported on use: the GUI reads resource paths before its window shows

        path = platformdirs.user_data_dir("workbench", "Workbench")
    os.makedirs(path, exist_ok=True)
    return path


def models_dir() -> str:
    path = os.path.join(user_data_dir(), "models")
    os.makedirs(path, exist_ok=True)
    return path


def projects_dir() -> str:
    path = os.path.join(user_data_dir(), "projects")
    os.makedirs(path, exist_ok=True)
    return path


def resource(*parts: str) -> str:
    """A real file path for a file shipped in the workbench.resources package, e.g.
    resource("styles", "dark.qss"); it may not exist (callers check). WORKBENCH_RESOURCES, a
    folder laid out like workbench/resources/, overrides it (other icons or styles, no reinstall)."""
    override = os.environ.get("WORKBENCH_RESOURCES")
    if override:
        return os.path.join(override, *parts)
    return _packaged(parts)


@functools.lru_cache(maxsize=None)  # one extraction per file, should the package be zipped
def _packaged(parts: tuple[str, ...]) -> str:
    ref = _resources.files("workbench.resources")
    for part in parts:
        ref = ref / part
    return str(_extracted.enter_context(_resources.as_file(ref)))


def demo_dataset_path() -> str:
    return resource("demo", "support_chats.jsonl")
