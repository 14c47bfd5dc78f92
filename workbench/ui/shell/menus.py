"""The main window's menus: File (projects, recent, import), View (pages, theme), Help."""

from __future__ import annotations

import os

from PySide6.QtGui import QAction, QKeySequence

from workbench.ui.shell import dialogs
from workbench.ui.common import settings, theme


def build_menus(w, page_titles: list[str]) -> None:
    """File, View and Help menus of the main window `w` (actions are stored on it)."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    w.new_action = file_menu.addAction("&New Project…", w.new_project_dialog)
    w.new_action.setShortcut(QKeySequence.StandardKey.New)
    w.open_action = file_menu.addAction("&Open Project…", w.open_project_dialog)
    w.open_action.setShortcut(QKeySequence("Ctrl+O"))
    w.recent_menu = file_menu.addMenu("Open &Recent")
    w.recent_menu.aboutToShow.connect(w.rebuild_recent_menu)
    w.demo_action = file_menu.addAction("Open &Demo Project", w.open_demo_project)
    file_menu.addSeparator()
    w.import_action = file_menu.addAction("&Import Dataset…", w.import_dataset)
    w.import_action.setShortcut(QKeySequence("Ctrl+I"))
    file_menu.addSeparator()
    w.close_action = file_menu.addAction("&Close Project", w.close_project)
    w.close_action.setShortcut(QKeySequence("Ctrl+W"))
    file_menu.addSeparator()
    w.quit_action = file_menu.addAction("&Quit", w.close)
    w.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
    w.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

    view_menu = bar.addMenu("&View")
    w.page_actions: list[QAction] = []
    for i, title in enumerate(page_titles):
        action = view_menu.addAction(title, lambda i=i: w.set_page(i))
        action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
        w.page_actions.append(action)
    view_menu.addSeparator()
    w.dark_action = view_menu.addAction("&Dark Theme")
    w.dark_action.setCheckable(True)
    w.dark_action.setChecked(theme.current_theme() == "dark")
    w.dark_action.toggled.connect(lambda on: w.set_theme("dark" if on else "light"))

    help_menu = bar.addMenu("&Help")
    w.about_action = help_menu.addAction("&About Workbench", lambda: dialogs.about_dialog(w))
    w.about_action.setMenuRole(QAction.MenuRole.AboutRole)
    rebuild_recent_menu(w)


def rebuild_recent_menu(w) -> None:
    """Refill File > Open Recent from the settings (also on each aboutToShow)."""
    w.recent_menu.clear()
    recent = settings.recent_projects()
    for path in recent:
        action = w.recent_menu.addAction(os.path.basename(path.rstrip("/\\")),
                                         lambda p=path: w.open_project(p))
        action.setToolTip(path)
        action.setStatusTip(path)
    if recent:
        w.recent_menu.addSeparator()
        w.recent_menu.addAction("Clear Recent", w.clear_recent)
    else:
        w.recent_menu.addAction("No recent projects").setEnabled(False)
