"""Where things live on this machine: user data, cached base models, bundled resources."""

from __future__ import annotations

import os

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def resources_dir() -> str:
    return os.environ.get("WORKBENCH_RESOURCES") or os.path.join(_REPO_ROOT, "resources")


def resource(*parts: str) -> str:
    return os.path.join(resources_dir(), *parts)


def demo_dataset_path() -> str:
    return resource("demo", "support_chats.jsonl")
