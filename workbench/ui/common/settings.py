"""User settings (QSettings): theme, recent projects, window geometry, last page.

Tests and scripts isolate settings by pointing WORKBENCH_SETTINGS_FILE at an INI file; without
it the platform's native store for organisation/application "Workbench" is used.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

ORG = "Workbench"
APP = "Workbench"
SETTINGS_ENV = "WORKBENCH_SETTINGS_FILE"
MAX_RECENT = 8

_KEY_RECENT = "projects/recent"
_KEY_THEME = "view/theme"
_KEY_GEOMETRY = "window/geometry"
_KEY_STATE = "window/state"
_KEY_PAGE = "window/page"


def settings() -> QSettings:
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(ORG, APP)


def _as_list(value: object) -> list[str]:
    # QSettings returns a str for a one-element list with some backends, None when unset.
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[union-attr]


def recent_projects(prune: bool = True) -> list[str]:
    """Most recent first; entries whose folder no longer exists are dropped (and forgotten)."""
    s = settings()
    items = _as_list(s.value(_KEY_RECENT))
    if prune:
        kept = [p for p in items if os.path.isdir(p)]
        if kept != items:
            s.setValue(_KEY_RECENT, kept)
        items = kept
    return items[:MAX_RECENT]


def add_recent_project(path: str) -> list[str]:
    path = os.path.abspath(path)
    items = [p for p in recent_projects(prune=True) if os.path.abspath(p) != path]
    items = [path] + items
    items = items[:MAX_RECENT]
    settings().setValue(_KEY_RECENT, items)
    return items


def clear_recent_projects() -> None:
    settings().setValue(_KEY_RECENT, [])


def last_project() -> str | None:
    items = recent_projects()
    return items[0] if items else None


def theme() -> str:
    value = str(settings().value(_KEY_THEME, "light") or "light")
    return value if value in ("light", "dark") else "light"


def set_theme(name: str) -> None:
    settings().setValue(_KEY_THEME, name)


def window_state() -> tuple[QByteArray | None, QByteArray | None, int]:
    s = settings()
    geometry = s.value(_KEY_GEOMETRY)
    state = s.value(_KEY_STATE)
    try:
        page = int(s.value(_KEY_PAGE, 0))
    except (TypeError, ValueError):
        page = 0
    return (
        geometry if isinstance(geometry, QByteArray) else None,
        state if isinstance(state, QByteArray) else None,
        page,
    )


def save_window_state(geometry: QByteArray, state: QByteArray, page: int) -> None:
    s = settings()
    s.setValue(_KEY_GEOMETRY, geometry)
    s.setValue(_KEY_STATE, state)
    s.setValue(_KEY_PAGE, page)
    s.sync()


def project_view(project_id: str, view: str) -> dict:
    """A page's remembered view of one project (selection, chart choices, splitter sizes), as
    saved by set_project_view; {} when none was saved or it cannot be read."""
    import json

    raw = settings().value(f"projects/{project_id}/{view}")
    try:
        value = json.loads(str(raw)) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def set_project_view(project_id: str, view: str, state: dict) -> None:
    import json

    # JSON text: the native stores keep nested lists and dicts differently, a string the same.
    settings().setValue(f"projects/{project_id}/{view}", json.dumps(state, sort_keys=True))
