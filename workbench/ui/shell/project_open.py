"""The work a project open (or the demo project) does in a worker thread, for the main window:
nothing here touches a widget; the window attaches what it returns in the GUI thread."""

from __future__ import annotations

from typing import Optional


def import_pages(specs, progress=None, cancel=None) -> None:
    """Worker: import page modules and the heavy modules each imports when first shown
    (Page.heavy_imports), so that no first show stalls the GUI thread on an import (pyqtgraph
    alone is ~0.7 s). Neither makes Qt objects at import."""
    import importlib

    for _title, module, cls in specs:
        page = getattr(importlib.import_module(module), cls)
        for name in page.heavy_imports:
            importlib.import_module(name)


def open_for_app(path: str, opened: list, page_spec, progress=None, cancel=None):
    """Worker: open the project and its run manager (migration, backup, journal catch-up). What
    it opened is also kept in `opened`, so a window that no longer wants it can close it. The
    page to show is imported here too, with its heavy imports; the GUI thread then only builds it."""
    from workbench.services import projects

    result = projects.open_for_app(path, progress=progress, cancel=cancel)
    opened.append(result)
    import_pages([page_spec])
    return result


def close_unattached(store, runs) -> None:
    """A project opened in a worker that the window did not take: detach and close it."""
    from workbench.services import projects

    try:
        runs.shutdown()  # the children keep training; the next open re-attaches them
    finally:
        projects.close_project(store, runs=runs)


def prepare_demo(folder: Optional[str], progress=None, cancel=None) -> str:
    """Worker: create/complete the demo project; the GUI thread then opens it by path."""
    from workbench.services import projects

    return projects.prepare_demo_project(folder, progress=progress, cancel=cancel)
