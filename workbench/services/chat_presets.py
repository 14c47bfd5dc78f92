"""Named generation presets per model (a ChatTarget key), kept in the project folder.

chat_presets.json: {"version": 1, "presets": {TARGET_KEY: {NAME: {"system_prompt": str,
"settings": SamplingSettings.to_dict()}}}}. Written atomically (a temp file, then a rename), so
a crash never leaves half a file; a file that cannot be read is an error, never silently
replaced (the user's presets are never lost). Small file reads: call from a worker in the GUI.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from workbench.core.chat_records import SamplingSettings
from workbench.core.errors import WorkbenchError
from workbench.store import ProjectStore

FILE_NAME = "chat_presets.json"
NAME_CHARS = 60


@dataclass(frozen=True)
class ChatPreset:
    name: str
    target_key: str
    settings: SamplingSettings
    system_prompt: str = ""


def presets_path(store: ProjectStore) -> str:
    return store.abspath(FILE_NAME)


def _read(store: ProjectStore) -> dict[str, Any]:
    path = presets_path(store)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {"version": 1, "presets": {}}
    except (OSError, ValueError) as exc:
        raise WorkbenchError("The project's chat presets cannot be read.", details=f"{path}: {exc}",
                             advice="Fix or move the file aside; it is left as it is.") from None
    if not isinstance(data, dict) or not isinstance(data.get("presets"), dict):
        raise WorkbenchError("The project's chat presets file is not in the expected shape.", details=path,
                             advice="Fix or move the file aside; it is left as it is.")
    return data


def _write(store: ProjectStore, data: dict[str, Any]) -> None:
    path = presets_path(store)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def list_presets(store: ProjectStore, target_key: str) -> list[ChatPreset]:
    """The target's presets, by name."""
    entries = _read(store)["presets"].get(target_key) or {}
    return [ChatPreset(name, target_key, SamplingSettings.from_dict(e.get("settings")), str(e.get("system_prompt", "")))
            for name, e in sorted(entries.items(), key=lambda kv: kv[0].lower()) if isinstance(e, dict)]


def save_preset(store: ProjectStore, target_key: str, name: str, settings: SamplingSettings,
                system_prompt: str = "") -> ChatPreset:
    """Save (or replace) the target's preset `name`."""
    name = " ".join(name.split())
    if not name:
        raise WorkbenchError("A preset needs a name.")
    if len(name) > NAME_CHARS:
        raise WorkbenchError(f"A preset name can have at most {NAME_CHARS} characters.")
    problems = settings.problems()
    if problems:
        raise WorkbenchError("These generation settings cannot be saved.", details="\n".join(problems),
                             advice=problems[0])
    data = _read(store)
    data["presets"].setdefault(target_key, {})[name] = {"settings": settings.to_dict(),
                                                         "system_prompt": system_prompt}
    _write(store, data)
    return ChatPreset(name, target_key, settings, system_prompt)


def delete_preset(store: ProjectStore, target_key: str, name: str) -> None:
    data = _read(store)
    entries = data["presets"].get(target_key) or {}
    if name not in entries:
        raise WorkbenchError(f"There is no preset {name!r} for this model.")
    del entries[name]
    if not entries:
        data["presets"].pop(target_key, None)
    _write(store, data)
