"""The Evaluate page's commands as QActions, each with its shortcut and tooltip, shared by the
buttons and the eval runs' context menu (so both agree on what is enabled). Shortcuts work
while the page is on screen."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from workbench.ui.common.page import action_button

# name -> (text, shortcut, tooltip)
SPECS: dict[str, tuple[str, str, str]] = {
    "new_suite": ("New Suite…", "Ctrl+Shift+N", "Make an eval suite: from a split's test part, any dataset "
                                               "version, or prompts typed by hand"),
    "edit_suite": ("Edit Suite…", "Ctrl+E", "Change the suite's metrics, settings or items: saves a new version "
                                            "(eval runs keep the version they ran)"),
    "run": ("Run", "Ctrl+R", "Run the suite on every ticked model, one after the other"),
    "cancel": ("Cancel Eval", "Ctrl+.", "Stop the selected eval run after its current batch (Resume goes on "
                                        "from there)"),
    "resume": ("Resume", "Ctrl+Shift+R", "Go on with a cancelled or interrupted eval run: the items it finished "
                                         "are not generated again"),
    "export": ("Export Results…", "Ctrl+Shift+E", "Save the compared eval runs' outputs and scores as CSV or JSONL"),
}
ACTIVE = ("queued", "running")
RESUMABLE = ("cancelled", "interrupted", "failed")


class EvalActions(QObject):
    def __init__(self, page: QWidget, handlers: dict[str, Callable[[], None]]) -> None:
        super().__init__(page)
        self.actions: dict[str, QAction] = {}
        for name, (text, shortcut, tip) in SPECS.items():
            action = QAction(text, page)
            action.setObjectName(f"eval_{name}Action")
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
            action.setIconText(text.removesuffix("…"))
            action.triggered.connect(lambda _checked=False, h=handlers[name]: h())
            page.addAction(action)
            self.actions[name] = action
            setattr(self, name, action)

    def button(self, name: str, object_name: str = "") -> QToolButton:
        return action_button(self.actions[name], object_name)

    def menu(self, parent: Optional[QWidget] = None) -> QMenu:
        menu = QMenu(parent)
        for name in ("cancel", "resume", "export"):
            menu.addAction(self.actions[name])
        return menu

    def update(self, has_project: bool, suite: bool, models: int, current_status: Optional[str],
               compared: int, busy: bool) -> None:
        """Enable what the state allows: a project, a suite chosen, how many models are ticked,
        the selected eval run's status, how many eval runs are compared, a start in progress."""
        a = self.actions
        a["new_suite"].setEnabled(has_project)
        a["edit_suite"].setEnabled(suite)
        a["run"].setEnabled(suite and models > 0 and not busy)
        a["run"].setText(f"Run on {models} Model{'s' if models != 1 else ''}" if models else "Run")
        a["cancel"].setEnabled(current_status in ACTIVE)
        a["resume"].setEnabled(current_status in RESUMABLE)
        a["export"].setEnabled(compared > 0)
