"""Create, open and seed projects."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from workbench.core.progress import CancelToken, ProgressCallback, report
from workbench.core.records import Project
from workbench.store import ProjectStore
from workbench.services import paths

if TYPE_CHECKING:
    from workbench.services.runs import RunManager

DEMO_NAME = "Demo"

# An open project as the UI holds it: the handle it passes to service functions. The UI never
# calls its methods (the import contract keeps workbench.store out of workbench.ui).
OpenProject = ProjectStore


def create_project(folder: str, name: Optional[str] = None) -> ProjectStore:
    return ProjectStore.create(folder, name)


def open_project(folder: str) -> ProjectStore:
    return ProjectStore.open(folder)


def open_run_manager(project: OpenProject, run_queue: bool = True) -> "RunManager":
    """The project's RunManager on a database connection of its own (the app's run poller uses
    it from its thread while the GUI reads through `project`). It re-attaches the runs still
    training and catches up on their journals: slow after a long run trained unwatched, so the
    app calls it from a worker."""
    from workbench.services.runs import RunManager

    connection = project.connect_again()
    try:
        return RunManager(connection, run_queue=run_queue)
    except BaseException:
        connection.close()
        raise


def open_for_app(folder: str, progress: Optional[ProgressCallback] = None,
                 cancel: Optional[CancelToken] = None) -> tuple[ProjectStore, "RunManager"]:
    """What opening a project costs before the window can show it (the migration and its
    backup, the runs' journal catch-up): for a worker thread. Close both with close_project."""
    report(progress, 0.0, f"Opening {os.path.basename(os.path.abspath(folder).rstrip(os.sep))}")
    store = open_project(folder)
    try:
        if cancel is not None:
            cancel.raise_if_cancelled()  # before re-attaching runs (it may restart a queued one)
        report(progress, 0.6, "Catching up on the runs")
        runs = open_run_manager(store)
    except BaseException:
        store.close()
        raise
    report(progress, 1.0, "Project open")
    return store, runs


def project_record(project: OpenProject) -> Project:
    """The project's name, folder and who made it."""
    return project.project


def close_project(project: OpenProject, runs: Optional["RunManager"] = None) -> None:
    """Close the project and, with `runs` (already shut down), the run manager's connection."""
    try:
        if runs is not None and runs.store is not project:
            runs.store.close()
    finally:
        project.close()


def default_demo_project_path() -> str:
    return os.path.join(paths.projects_dir(), f"{DEMO_NAME}.wbproj")


def open_or_create_demo_project(
    folder: Optional[str] = None,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> ProjectStore:
    """The demo project: the support-chat dataset imported and the tiny base model registered.

    Idempotent: an existing demo project is opened and only what it lacks is added.
    """
    # Imported here: these pull in pyarrow, which the window must not wait for.
    from workbench.services import datasets, models

    folder = folder or default_demo_project_path()
    if os.path.exists(os.path.join(folder, "project.sqlite")):
        store = ProjectStore.open(folder)
    else:
        store = ProjectStore.create(folder, DEMO_NAME)
    try:
        if not store.list_versions():
            report(progress, 0.02, "Importing the demo dataset")
            datasets.import_dataset(
                store, paths.demo_dataset_path(), name="Shop support chats",
                progress=lambda f, m: report(progress, 0.02 + 0.18 * f, m), cancel=cancel,
            )
        if not any(m.kind == "tiny" for m in store.list_base_models()):
            report(progress, 0.2, "Building the tiny demo model")
            models.ensure_builtin_model(
                store, "tiny", progress=lambda f, m: report(progress, 0.2 + 0.8 * f, m), cancel=cancel
            )
        report(progress, 1.0, "Demo project ready")
    except BaseException:
        store.close()
        raise
    return store


def prepare_demo_project(folder: Optional[str] = None, progress: Optional[ProgressCallback] = None,
                         cancel: Optional[CancelToken] = None) -> str:
    """Create or complete the demo project and close it again: its folder, for a caller that
    opens it elsewhere (the window opens it in the GUI thread after a worker prepared it)."""
    store = open_or_create_demo_project(folder, progress=progress, cancel=cancel)
    try:
        return store.path
    finally:
        store.close()
