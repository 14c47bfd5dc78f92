"""The main window: navigation, pages, menus, status bar, project open/close, drag-and-drop."""

from __future__ import annotations

import os
from typing import Callable, Optional

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from workbench.ui.shell import closing, dialogs, project_open
from workbench.ui.common import settings, theme
from workbench.ui.shell.context import ProjectContext
from workbench.ui.shell.menus import build_menus, rebuild_recent_menu
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page
from workbench.ui.shell.job_status import JobStatus
from workbench.ui.shell.welcome import WelcomeWidget
from workbench.ui.common.workers import Task, progress_dialog, run_task, shutdown_workers

DATASETS, MODELS, TRAIN, RUNS, EVALUATE, CHAT, ARENA, FEEDBACK = range(8)
# (title, module, class). Pages are built the first time they are needed, so the window shows
# before their modules (and what those import) are loaded: start-up stays close to a bare window.
PAGE_SPECS = (
    ("Datasets", "workbench.ui.datasets.page", "DatasetsPage"),
    ("Models", "workbench.ui.models.page", "ModelsPage"),
    ("Train", "workbench.ui.train.page", "TrainPage"),
    ("Runs", "workbench.ui.runs.page", "RunsPage"),
    ("Evaluate", "workbench.ui.evaluate.page", "EvaluatePage"),
    ("Chat", "workbench.ui.chat.page", "ChatPage"),
    ("Arena", "workbench.ui.arena.page", "ArenaPage"),
    ("Feedback", "workbench.ui.feedback.page", "FeedbackPage"),
)


class MainWindow(QMainWindow):
    project_changed = Signal(object)  # ProjectContext or None
    theme_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Workbench")
        self.setWindowIcon(theme.app_icon())
        self.resize(1200, 780)
        self.ctx: Optional[ProjectContext] = None
        self.demo_task: Optional[Task] = None
        self.opening: Optional[Task] = None  # the project opening in a worker
        self._pages_imported = False  # every page module and its heavy imports, in a worker
        self._opening_path = ""
        self._poll_error_shown = False
        self._closing = False
        self.stopping: Optional[dialogs.StoppingRunsDialog] = None  # runs saving before a close
        self._build_pages()
        self._build_menus()
        self._build_status_bar()
        self.setAcceptDrops(True)
        geometry, state, page = settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self.nav.setCurrentRow(page if 0 <= page < len(PAGE_SPECS) else 0)
        self.show_workspace(False)

    # -- construction ----------------------------------------------------------------------------
    def _build_pages(self) -> None:
        self._pages: list[Optional[Page]] = [None] * len(PAGE_SPECS)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(150)
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setSpacing(2)
        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        for title, _module, _cls in PAGE_SPECS:
            self.nav.addItem(title)
            self.stack.addWidget(QWidget())  # placeholder until the page is first needed
        self.nav.currentRowChanged.connect(self._on_nav)
        workspace = QWidget()
        layout = QHBoxLayout(workspace)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.welcome = WelcomeWidget()
        self.welcome.new_requested.connect(self.new_project_dialog)
        self.welcome.open_requested.connect(self.open_project_dialog)
        self.welcome.demo_requested.connect(self.open_demo_project)
        self.welcome.recent_requested.connect(self.open_project)
        self.outer = QStackedWidget()
        self.outer.addWidget(self.welcome)
        self.outer.addWidget(workspace)
        self.setCentralWidget(self.outer)

    def page(self, index: int) -> Page:
        """The page at `index`, built (and given the open project) on first use."""
        page = self._pages[index]
        if page is None:
            import importlib

            _title, module, cls = PAGE_SPECS[index]
            page = getattr(importlib.import_module(module), cls)()
            self._pages[index] = page
            placeholder = self.stack.widget(index)
            current = self.stack.currentIndex()
            self.stack.insertWidget(index, page)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self.stack.setCurrentIndex(current)
            if index == TRAIN:
                page.run_started.connect(self._on_run_started)
                page.runs_requested.connect(lambda: self.set_page(RUNS))
            elif index == RUNS:
                page.chat_requested.connect(self._on_chat_requested)
                page.duplicate_requested.connect(self._on_duplicate_requested)
            if self.ctx is not None:
                page.set_context(self.ctx)
        return page

    @property
    def pages(self) -> list[Page]:
        """The pages built so far (the others have nothing to refresh or shut down)."""
        return [p for p in self._pages if p is not None]

    datasets_page = property(lambda self: self.page(DATASETS))
    models_page = property(lambda self: self.page(MODELS))
    train_page = property(lambda self: self.page(TRAIN))
    runs_page = property(lambda self: self.page(RUNS))
    evaluate_page = property(lambda self: self.page(EVALUATE))
    chat_page = property(lambda self: self.page(CHAT))
    arena_page = property(lambda self: self.page(ARENA))
    feedback_page = property(lambda self: self.page(FEEDBACK))

    def _build_menus(self) -> None:
        build_menus(self, [title for title, _module, _cls in PAGE_SPECS])

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.project_label = QLabel("No project open")
        self.project_label.setObjectName("statusProject")
        self.job_status = JobStatus()
        self.job_label, self.job_progress = self.job_status.label, self.job_status.progress
        status.addWidget(self.project_label)
        status.addPermanentWidget(self.job_status)

    # -- navigation ------------------------------------------------------------------------------
    def _on_nav(self, row: int) -> None:
        if 0 <= row < len(PAGE_SPECS):
            if self.ctx is not None:
                page = self.page(row)
                self.stack.setCurrentIndex(row)
                self._make_current(page)
            else:
                self.stack.setCurrentIndex(row)

    def _make_current(self, page: Optional[Page]) -> None:
        """Tell the pages which one is shown: hidden ones leave their refreshes for later."""
        for other in self.pages:
            if other is not page:
                other.set_current(False)
        if page is not None:
            page.set_current(True)

    def set_page(self, index: int) -> None:
        self.nav.setCurrentRow(index)

    def current_page(self) -> int:
        return self.stack.currentIndex()

    def show_workspace(self, on: bool) -> None:
        self.outer.setCurrentIndex(1 if on else 0)
        for action in self.page_actions + [self.close_action, self.import_action]:
            action.setEnabled(on)
        if not on:
            self._make_current(None)
            self.welcome.set_recent(settings.recent_projects())

    def _on_run_started(self, run_id: str) -> None:
        self.set_page(RUNS)
        self.runs_page.select_run(run_id)
        self._update_job_status()

    def _on_chat_requested(self, run_id: str) -> None:
        self.set_page(CHAT)
        self.chat_page.select_run(run_id)

    def _on_duplicate_requested(self, duplicate) -> None:
        """Runs page > Duplicate Settings: the Train page with the run's settings, base model and
        dataset version (where the project still has them)."""
        config, version_id, model_id, _name = duplicate
        self.set_page(TRAIN)
        train = self.train_page
        train.load_config(config)
        for combo, value in ((train.model_combo, model_id), (train.dataset_combo, version_id)):
            if combo.findData(value) >= 0:
                combo.setCurrentIndex(combo.findData(value))

    def set_theme(self, name: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_theme(app, name)
        settings.set_theme(name)
        self.dark_action.blockSignals(True)
        self.dark_action.setChecked(name == "dark")
        self.dark_action.blockSignals(False)
        for page in self.pages:
            page.theme_changed()
        self.theme_changed.emit(name)

    # -- projects --------------------------------------------------------------------------------
    def rebuild_recent_menu(self) -> None:
        rebuild_recent_menu(self)

    def clear_recent(self) -> None:
        settings.clear_recent_projects()
        self.welcome.set_recent([])

    def new_project_dialog(self) -> None:
        dialog = dialogs.NewProjectDialog(self)
        if dialog.exec() and dialog.project_path():
            self.create_project(dialog.project_path() or "")

    def open_project_dialog(self) -> None:
        start = os.path.dirname(self.ctx.path) if self.ctx else ""
        folder = QFileDialog.getExistingDirectory(self, "Open Project (a NAME.wbproj folder)", start)
        if folder:
            self.open_project(folder)

    def create_project(self, path: str) -> bool:
        if not self.close_project(then=lambda: self.create_project(path)):
            return False
        try:
            from workbench.services import projects  # not at start-up: see app.py

            store = projects.create_project(path)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc)
            return False
        return self._attach(store)

    def open_project(self, path: str, if_failed: Optional[Callable[[], object]] = None) -> bool:
        """Open the project at `path`. The slow part (the migration and its backup, catching up
        on the journals of runs that trained meanwhile) runs in a worker while the window stays
        live and says "Opening NAME…"; the project is then attached in the GUI thread
        (project_changed). True when it is open or opening; False when nothing was started:
        the window is closing, the user kept the current project, or its runs are still
        stopping (the open follows once they have). `if_failed` runs if the open fails."""
        return self._open(os.path.abspath(path), if_failed)

    def _open(self, path: str, if_failed: Optional[Callable[[], object]]) -> bool:
        if self._closing:  # a demo task finishing while the window closes
            return False
        if self.ctx is not None and path == self.ctx.path:
            return True
        if self.opening is not None:  # one open at a time
            return path == self._opening_path
        if not self.close_project(then=lambda: self._open(path, if_failed)):
            return False
        opened: list = []
        task = run_task(project_open.open_for_app, path, opened, PAGE_SPECS[self.current_page()], name="open project")
        self.opening, self._opening_path = task, path
        name = os.path.basename(path.rstrip("/\\")).removesuffix(".wbproj")
        self.welcome.set_opening(f"Opening {name}…")
        self.statusBar().showMessage(f"Opening {name}…")
        task.done.connect(lambda: self._opened(task, opened, if_failed))
        return True

    def _opened(self, task: Task, opened: list, if_failed: Optional[Callable[[], object]]) -> None:
        self.opening, self._opening_path = None, ""
        self.welcome.set_opening(None)
        self.statusBar().clearMessage()
        if task.outcome == "finished" and not self._closing:
            self._attach(*task.result)
            return
        for store, runs in opened:  # cancelled (the window closed) or not wanted any more
            project_open.close_unattached(store, runs)
        if task.outcome == "failed":
            show_error(self, task.error)
            self.welcome.set_recent(settings.recent_projects())
            if if_failed is not None:
                if_failed()

    def _attach(self, store, runs=None) -> bool:
        try:
            ctx = ProjectContext(store, runs)
        except Exception as exc:  # noqa: BLE001
            if runs is not None:
                project_open.close_unattached(store, runs)
            else:
                from workbench.services import projects

                projects.close_project(store)
            show_error(self, exc)
            return False
        self.ctx = ctx
        self._poll_error_shown = False
        ctx.poll_failed.connect(self._on_poll_failed)
        ctx.polled.connect(self._on_polled)
        settings.add_recent_project(ctx.path)
        self.setWindowTitle(f"{ctx.name} — Workbench")
        self.project_label.setText(f"Project: {ctx.name}")
        self.project_label.setToolTip(ctx.path)
        for page in self.pages:
            page.set_context(ctx)
        self.show_workspace(True)
        current = self.page(self.current_page())
        self.stack.setCurrentIndex(self.current_page())
        self._make_current(current)
        ctx.start_polling()  # its first poll runs at once, on the poller's thread
        self._update_job_status()
        self.project_changed.emit(ctx)
        if not self._pages_imported:  # the other pages' first shows, ahead of time
            self._pages_imported = True
            run_task(project_open.import_pages, PAGE_SPECS, name="import pages")
        return True

    @property
    def polling(self) -> bool:
        """The open project's runs are being polled."""
        return self.ctx is not None and self.ctx.polling

    def open_demo_project(self, folder: Optional[str] = None) -> Task:
        """Create (first time: imports data, builds the tiny model) and open the demo project."""
        task = run_task(project_open.prepare_demo, folder, name="demo project")
        self.demo_task = task
        self.demo_action.setEnabled(False)
        self.welcome.demo_button.setEnabled(False)
        progress_dialog(self, task, "Demo Project", "Preparing the demo project…")
        task.finished.connect(self._open_prepared_demo)
        task.failed.connect(lambda exc: show_error(self, exc))

        def done() -> None:
            self.demo_task = None
            self.demo_action.setEnabled(True)
            self.welcome.demo_button.setEnabled(True)

        task.done.connect(done)
        return task

    def _open_prepared_demo(self, path: str) -> None:
        self._open(path, None)

    def ask_about_active_runs(self, count: int) -> str:
        """KEEP_RUNNING / STOP_RUNS / CANCEL; a method so tests can answer it."""
        return dialogs.ask_about_active_runs(self, count)

    def close_project(self, then: Optional[Callable[[], object]] = None) -> bool:
        """Close the open project, asking about active runs (see closing.close_project)."""
        return closing.close_project(self, then)

    # -- polling ---------------------------------------------------------------------------------
    def _on_polled(self, _result) -> None:
        """After each poll that changed something (every poll while runs stop)."""
        if self.ctx is None:
            return
        self._update_job_status()
        if self.stopping is not None:
            closing.follow_stopping(self)

    def _update_job_status(self) -> None:
        self.job_status.update_from(self.ctx)

    def _on_poll_failed(self, exc: BaseException) -> None:
        # The timer keeps polling; one dialog per project is enough, later ones go to stderr.
        if not self._poll_error_shown:
            self._poll_error_shown = True
            show_error(self, exc)

    # -- drag and drop ---------------------------------------------------------------------------
    def _dropped_datasets(self, event) -> list[str]:
        mime = event.mimeData()
        if self.ctx is None or not mime.hasUrls():
            return []
        from workbench.ui.datasets.page import droppable  # files of known types, folders

        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and droppable(u.toLocalFile())]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if self._dropped_datasets(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if self._dropped_datasets(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = self._dropped_datasets(event)
        if files:
            event.acceptProposedAction()
            self.set_page(DATASETS)
            self.datasets_page.import_dropped(files)  # the import dialog, one per path

    def import_dataset(self) -> None:
        self.set_page(DATASETS)
        self.datasets_page.choose_and_import()

    # -- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.close_project(then=self.close):
            event.ignore()
            return
        settings.save_window_state(self.saveGeometry(), self.saveState(), self.current_page())
        self._closing = True
        shutdown_workers()
        event.accept()
