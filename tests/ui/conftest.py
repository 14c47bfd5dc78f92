"""UI test fixtures: offscreen Qt, isolated QSettings, a main window on a real project, and a
check that no worker thread outlives its test (tests/conftest.py checks child processes and
Python threads)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("WORKBENCH_SETTINGS_FILE", str(path))
    return path


@pytest.fixture(autouse=True)
def _no_worker_leaks(qapp):
    from PySide6.QtCore import QThreadPool

    from workbench.ui.common import workers
    from workbench.ui.shell import poller

    yield
    pollers = poller.live_poller_count()
    leftover = workers.active_task_count()
    joined = workers.pool().waitForDone(10000) and QThreadPool.globalInstance().waitForDone(10000)
    qapp.processEvents()
    assert leftover == 0, f"{leftover} worker task(s) still running at the end of the test"
    assert pollers == 0, f"{pollers} run poller thread(s) still running (a project left open)"
    assert joined, "worker threads did not finish"
    for widget in qapp.topLevelWidgets():
        if widget.isVisible() and widget.objectName() in ("errorDialog", "taskProgressDialog"):
            widget.close()


@pytest.fixture
def project_path(tmp_path):
    """A real, empty project on disk (closed: the window opens it)."""
    from workbench.store import ProjectStore

    store = ProjectStore.create(str(tmp_path / "Proj.wbproj"))
    path = store.path
    store.close()
    return path


def wait_for_open(qtbot, win, open_project):
    """win.open_project, waiting for the project to be attached: the window opens projects in a
    worker (see MainWindow.open_project); True when `path` is then the open project."""
    def open_and_wait(path, **kwargs) -> bool:
        if not open_project(path, **kwargs):
            return False
        qtbot.waitUntil(lambda: win.opening is None, timeout=120000)
        return win.ctx is not None and win.ctx.path == os.path.abspath(path)
    return open_and_wait


@pytest.fixture
def window(qtbot):
    from workbench.ui.shell import dialogs
    from workbench.ui.shell.main_window import MainWindow

    win = MainWindow()
    # Tests read `assert window.open_project(path)` as "it is open now": wait for the worker.
    win.open_project = wait_for_open(qtbot, win, win.open_project)
    # Closing with active runs asks a modal question; tests stop their runs, never detach them.
    # (Set now: pytest-qt closes added widgets before fixture teardown runs.)
    win.ask_about_active_runs = lambda count: dialogs.STOP_RUNS

    def close_and_wait(w) -> None:  # stopping runs is asynchronous: wait for the close to finish
        w.close()
        if w.stopping is not None:
            qtbot.waitUntil(lambda: w.ctx is None, timeout=120000)

    qtbot.addWidget(win, before_close_func=close_and_wait)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


@pytest.fixture
def open_window(window, project_path):
    assert window.open_project(project_path)
    return window


@pytest.fixture
def make_jsonl(tmp_path):
    """make_jsonl(rows, name=...) -> path of a JSONL file of 3-turn conversations."""
    import json

    def make(rows: int, name: str = "chats.jsonl", prefix: str = "q") -> str:
        path = tmp_path / name
        with open(path, "w", encoding="utf-8") as f:
            for i in range(rows):
                f.write(json.dumps({"messages": [
                    {"role": "system", "content": "You are a shop assistant."},
                    {"role": "user", "content": f"{prefix} question {i}"},
                    {"role": "assistant", "content": f"answer number {i}"},
                ]}) + "\n")
        return str(path)

    return make
