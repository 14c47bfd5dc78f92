"""The main window: start-up imports, navigation, menus, recent projects, settings, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence

from workbench.core.errors import DataImportError
from workbench.ui.shell import dialogs
from workbench.ui.common import settings
from workbench.ui.common.errors import open_error_dialogs, show_error
from workbench.ui.shell.main_window import CHAT, DATASETS, PAGE_SPECS, RUNS, TRAIN, MainWindow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HEAVY = ("torch", "transformers", "peft")


def test_start_up_imports_nothing_heavy(tmp_path, project_path):
    """Run the real entry point in a fresh interpreter. When the window first shows, neither
    torch/transformers/peft nor the data stack (sqlite-utils pulls in pandas) is loaded; the
    project then opens without torch, and pyqtgraph only arrives with the Runs page."""
    watched = HEAVY + ("pyqtgraph", "pandas", "pyarrow", "sqlite_utils")
    script = textwrap.dedent(f"""
        import json, sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        app = QApplication(sys.argv[:1])
        from workbench.ui import app as wapp
        out = {{}}
        loaded = lambda: [m for m in {watched!r} if m in sys.modules]
        def window():
            return next(w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow")
        def first_paint():  # queued before main() queues the project opening
            win = window()
            out["shown_first"] = win.isVisible()
            out["at_show"] = loaded()
            # The check follows the project opening, however long building the window took.
            win.project_changed.connect(lambda ctx: ctx is not None and QTimer.singleShot(0, check))
        def check():
            win = window()
            out["project"] = win.ctx.name if win.ctx else None
            out["nav"] = [win.nav.item(i).text() for i in range(win.nav.count())]
            out["project_open"] = loaded()
            win.set_page(3)
            app.processEvents()
            out["after_runs"] = loaded()
            win.close()
        QTimer.singleShot(0, first_paint)
        code = wapp.main([{project_path!r}])
        print("RESULT" + json.dumps(out))
        sys.exit(code)
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               WORKBENCH_SETTINGS_FILE=str(tmp_path / "sub.ini"))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    out = json.loads(line[len("RESULT"):])
    assert out["shown_first"] and out["at_show"] == []
    assert out["project"] == "Proj"
    assert out["nav"] == ["Datasets", "Models", "Train", "Runs", "Evaluate", "Chat", "Arena", "Feedback"]
    assert not set(HEAVY + ("pyqtgraph",)) & set(out["project_open"])
    assert not set(HEAVY) & set(out["after_runs"]) and "pyqtgraph" in out["after_runs"]


def test_navigation_and_shortcuts(open_window, qtbot):
    win = open_window
    assert win.outer.currentIndex() == 1  # the workspace, not the welcome screen
    for i, action in enumerate(win.page_actions):
        assert action.shortcut() == QKeySequence(f"Ctrl+{i + 1}")
    win.activateWindow()
    qtbot.keyClick(win, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: win.current_page() == TRAIN, timeout=15000)
    win.page_actions[CHAT].trigger()
    assert win.current_page() == CHAT and win.nav.currentRow() == CHAT
    win.nav.setCurrentRow(DATASETS)
    assert win.stack.currentWidget() is win.datasets_page
    assert win.open_action.shortcut() == QKeySequence("Ctrl+O")
    assert win.quit_action.shortcut() == QKeySequence("Ctrl+Q")


def test_status_bar_and_title_show_the_project(open_window):
    assert open_window.project_label.text() == "Project: Proj"
    assert "Proj" in open_window.windowTitle()
    assert open_window.polling
    assert open_window.job_status.isHidden()


def test_recent_projects_menu_is_ordered_pruned_and_capped(window, tmp_path):
    from workbench.store import ProjectStore

    paths = []
    for i in range(10):
        store = ProjectStore.create(str(tmp_path / f"P{i}.wbproj"))
        paths.append(store.path)
        store.close()
    for p in paths[:3]:
        assert window.open_project(p)
    window.rebuild_recent_menu()
    names = [a.text() for a in window.recent_menu.actions() if a.text() and not a.isSeparator()]
    assert names[:3] == ["P2.wbproj", "P1.wbproj", "P0.wbproj"] and names[-1] == "Clear Recent"
    # A folder that disappeared is dropped from the list.
    import shutil

    assert window.close_project()
    shutil.rmtree(paths[1])
    window.rebuild_recent_menu()
    names = [a.text() for a in window.recent_menu.actions() if a.text() and not a.isSeparator()]
    assert "P1.wbproj" not in names and "P2.wbproj" in names
    for p in paths[3:]:
        settings.add_recent_project(p)
    assert len(settings.recent_projects()) == settings.MAX_RECENT
    assert settings.recent_projects()[0] == paths[-1]
    # The recent entry's action opens that project.
    window.rebuild_recent_menu()
    action = next(a for a in window.recent_menu.actions() if a.text() == "P5.wbproj")
    action.trigger()
    assert window.ctx is not None and window.ctx.path == paths[5]


def test_close_project_returns_to_welcome(open_window):
    win = open_window
    assert win.close_project()
    assert win.ctx is None and win.outer.currentIndex() == 0
    assert not win.polling
    assert win.welcome.recent_list.count() == 1  # the project just closed
    assert not win.close_action.isEnabled()


def test_create_project_and_new_project_dialog(window, tmp_path):
    dialog = dialogs.NewProjectDialog(window, location=str(tmp_path))
    dialog.name_edit.setText("My Bot")
    assert dialog.project_path() == os.path.join(str(tmp_path), "My Bot.wbproj")
    dialog.name_edit.setText("bad/name")
    assert dialog.project_path() is None
    dialog.close()
    assert window.create_project(str(tmp_path / "My Bot.wbproj"))
    assert os.path.isfile(tmp_path / "My Bot.wbproj" / "project.sqlite")
    assert window.ctx.name == "My Bot"
    # Creating over an existing project is refused with an error dialog, not a traceback.
    assert not window.create_project(str(tmp_path / "My Bot.wbproj"))
    boxes = open_error_dialogs()
    assert boxes and "already exists" in boxes[0].text()


def test_opening_a_non_project_shows_an_error(window, tmp_path):
    (tmp_path / "NotAProject").mkdir()
    assert not window.open_project(str(tmp_path / "NotAProject"))
    boxes = open_error_dialogs()
    assert boxes and "is not a Workbench project" in boxes[0].text()
    assert "Choose a NAME.wbproj folder" in boxes[0].informativeText()
    assert window.ctx is None


def test_window_state_and_page_are_remembered(qtbot, project_path):
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    assert first.open_project(project_path)
    qtbot.waitUntil(lambda: first.ctx is not None, timeout=60000)
    first.set_page(RUNS)
    first.resize(640, 480)  # within the offscreen screen (800x600)
    size = (first.width(), first.height())
    assert size[1] == 480
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.current_page() == RUNS
    assert (second.width(), second.height()) == size
    second.close()


def test_theme_toggle_is_saved(window, qapp):
    window.dark_action.setChecked(True)
    assert settings.theme() == "dark"
    assert qapp.palette().window().color().lightness() < 100
    window.dark_action.setChecked(False)
    assert settings.theme() == "light"
    assert qapp.palette().window().color().lightness() > 150


def test_show_error_dialog_contents(qtbot):
    exc = DataImportError("Row 7 of chats.jsonl is not valid JSON.", details="line 7: Expecting ','",
                          advice="Fix the row or import with invalid rows skipped.")
    box = show_error(None, exc)
    assert box.text() == "Row 7 of chats.jsonl is not valid JSON."
    assert box.informativeText().startswith("Fix the row")
    assert box.detailedText() == "line 7: Expecting ','"
    box.close()
    try:
        {}["missing"]
    except KeyError as err:
        box = show_error(None, err)
    assert "KeyError" in box.text() and "Traceback" in box.detailedText()
    box.close()


def test_excepthook_shows_unexpected_errors(qtbot, monkeypatch):
    from workbench.ui.common import errors

    monkeypatch.setattr(sys, "excepthook", lambda *a: None)
    errors.install_excepthook()
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError as err:
        sys.excepthook(type(err), err, err.__traceback__)
    boxes = open_error_dialogs()
    assert any("boom in a slot" in b.text() and "Traceback" in b.detailedText() for b in boxes)


def test_drop_a_dataset_file_imports_it(open_window, qtbot, make_jsonl):
    win = open_window
    path = make_jsonl(12)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(path)])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.set_page(TRAIN)
    win.dropEvent(event)
    assert win.current_page() == DATASETS
    dialog = win.datasets_page.dialog  # the import dialog, previewing the dropped file
    assert dialog is not None and dialog.path == path
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled(), timeout=20000)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    assert win.datasets_page.versions_table.rowCount() == 1
    assert win.datasets_page.rows_model.rowCount() == 12


def test_about_dialog_lists_versions(window):
    box = dialogs.about_dialog(window)
    assert "Workbench" in box.text() and "pyqtgraph" in box.informativeText()
    box.close()


@pytest.mark.parametrize("answer, closes", [(dialogs.CANCEL, False), (dialogs.KEEP_RUNNING, True)])
def test_close_asks_when_runs_are_active(open_window, monkeypatch, answer, closes):
    win = open_window
    asked = []
    monkeypatch.setattr(win.ctx, "active_run_ids", lambda: ["r1"])
    monkeypatch.setattr(win, "ask_about_active_runs", lambda n: asked.append(n) or answer)
    assert win.close_project() is closes
    assert asked == [1]
    assert (win.ctx is None) is closes
    monkeypatch.undo()  # the project has no runs really: it closes (and its poller stops)
    assert win.close_project()


@pytest.mark.slow
def test_open_demo_project_in_a_worker(window, qtbot, tmp_path, tiny_model_dir):
    """The demo project is prepared on a worker (progress dialog) and then opened."""
    folder = str(tmp_path / "Demo.wbproj")
    task = window.open_demo_project(folder)
    assert not window.demo_action.isEnabled() and not window.welcome.demo_button.isEnabled()
    with qtbot.waitSignal(task.done, timeout=120000):
        pass
    assert task.outcome == "finished", task.error
    qtbot.waitUntil(lambda: window.ctx is not None, timeout=60000)  # then opened in a worker
    assert window.ctx.path == folder
    assert window.datasets_page.versions_table.rowCount() == 1
    assert [m.kind for m in window.ctx.store.list_base_models()] == ["tiny"]
    assert window.demo_action.isEnabled()
    assert settings.recent_projects()[0] == folder


def test_initial_project_argv_then_last(window, project_path, tmp_path):
    from workbench.store import ProjectStore
    from workbench.ui import app

    other = ProjectStore.create(str(tmp_path / "Other.wbproj"))
    other_path = other.path
    other.close()
    app.open_initial_project(window, app.parse_args([other_path]))
    assert window.ctx.path == other_path
    window.close_project()
    settings.add_recent_project(project_path)
    app.open_initial_project(window, app.parse_args([]))  # no argv: the last project
    assert window.ctx.path == project_path
    assert app.parse_args(["--demo", "-platform", "offscreen"]).demo  # Qt options pass through


@pytest.mark.slow
def test_stop_them_saves_reattached_and_owned_runs_without_freezing(window, qtbot, demo_store):
    """Real training children: one left running by an earlier session (re-attached through its
    journal), one started in this one. Quit with Stop Them: the window keeps running while both
    save; each ends `cancelled` with an adapter and a checkpoint that resume continues from."""
    import time

    from PySide6.QtCore import QTimer

    from workbench.core.records import TrainConfig
    from workbench.services.runs import RunManager, resume_check

    store = demo_store
    version, model = store.list_versions()[0], store.list_base_models()[0]
    config = TrainConfig(learning_rate=1e-3, max_steps=2000, batch_size=2, max_length=96)

    def poll_until(manager, predicate, timeout=300.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "timed out"
            manager.poll()
            time.sleep(0.1)

    earlier = RunManager(store)  # the app, an earlier session
    old = earlier.start(version.id, model.id, config, name="from-last-session")
    poll_until(earlier, lambda: store.get_run(old.id).step >= 2)
    earlier.shutdown()  # Keep Running
    assert window.open_project(store.path)
    assert window.ctx.active_run_ids() == [old.id]
    new = window.ctx.runs.start(version.id, model.id, config, name="this-session")
    step = store.get_run(old.id).step
    qtbot.waitUntil(lambda: store.get_run(old.id).step > step and store.get_run(new.id).step >= 2,
                    timeout=300000)

    ticks: list[bool] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(window.stopping is not None))
    timer.start(50)
    window.close()  # Stop Them (the fixture's answer)
    assert window.isVisible() and window.stopping is not None  # returned at once
    assert window.stopping.runs_list.count() == 2
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=300000)
    timer.stop()
    assert sum(ticks) >= 3  # the event loop ran while the runs saved
    assert window.ctx is None

    checks = {}
    for run_id in (old.id, new.id):
        run = store.get_run(run_id)
        assert run.status == "cancelled" and not run.error, run.error
        assert os.path.isfile(os.path.join(store.abspath(run.adapter_path), "adapter_config.json"))
        checks[run_id] = resume_check(store, run)
        assert checks[run_id].ok, checks[run_id].reason
    # The re-attached run's checkpoint is accepted by resume: training continues after it.
    saved_at = int(checks[old.id].checkpoint.rsplit("-", 1)[1])
    assert saved_at >= step
    manager = RunManager(store)
    resumed = manager.resume(old.id)  # the same run continues its curve after the checkpoint
    poll_until(manager, lambda: store.metric_series(resumed.id, "loss")[-1][0] > saved_at)
    steps = [s for s, _ in store.metric_series(resumed.id, "loss")]
    assert resumed.id == old.id and steps == list(range(1, len(steps) + 1))
    manager.cancel(resumed.id)
    poll_until(manager, lambda: resumed.id not in manager.active_run_ids())
    assert store.get_run(resumed.id).status == "cancelled"


@pytest.mark.parametrize("button, answer", [("Keep Running", "keep"), ("Stop Them", "stop"),
                                            ("Cancel", "cancel")])
def test_the_real_question_boxes_return_the_clicked_answer(qtbot, button, answer):
    """The dialogs tests usually answer for the user, driven through their real buttons."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from workbench.ui.shell import dialogs

    def click():
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        assert box.defaultButton().text() == "Keep Running"
        next(b for b in box.buttons() if b.text().replace("&", "") == button).click()

    QTimer.singleShot(50, click)
    assert dialogs.ask_about_active_runs(None, 2) == answer


def test_the_conversation_question_returns_the_clicked_answer(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.ui.shell import dialogs

    QTimer.singleShot(50, lambda: next(b for b in QApplication.activeModalWidget().buttons()
                                       if b.text() == "Start New Chat").click())
    assert dialogs.ask_about_conversation(None, "SmolLM2") == dialogs.NEW_CONVERSATION


def test_every_page_fits_a_small_laptop_screen(open_window):
    """No page forces the window wider than a 1024-pixel screen (the Runs page's chart controls
    once asked for ~1110 px: a tool bar puts what does not fit in its extension menu)."""
    for index in range(len(PAGE_SPECS)):
        open_window.set_page(index)
    assert open_window.minimumSizeHint().width() <= 1024
    assert max(page.minimumSizeHint().width() for page in open_window.pages) <= 1024 - open_window.nav.width()


PRELOAD = r"""
import os, sys, time
from PySide6.QtWidgets import QApplication
from workbench.ui.shell.main_window import RUNS, MainWindow
app = QApplication([])
window = MainWindow()
window.show()
window.set_page(0)
assert "pyqtgraph" not in sys.modules
window.open_project(sys.argv[1])
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not (window.ctx is not None and "pyqtgraph" in sys.modules):
    app.processEvents()
    time.sleep(0.01)
print("PRELOADED" if "pyqtgraph" in sys.modules and window._pages[RUNS] is None else "MISSING", flush=True)
window.close()
"""


def test_heavy_page_imports_are_made_in_a_worker_after_a_project_opens(project_path):
    """pyqtgraph (the Runs page's charts, ~0.7 s of imports) is imported by a worker once a
    project is open, before any Runs page exists: its first show then does not stall."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", PRELOAD, project_path], capture_output=True, text=True,
                         env=env, timeout=180)
    assert "PRELOADED" in out.stdout, out.stdout + out.stderr[-2000:]
