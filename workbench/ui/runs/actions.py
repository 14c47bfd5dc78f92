"""The Runs page's commands as QActions: one action each, with its shortcut and tooltip, shared by
the buttons, the table's context menu and the page's Run menu (so all three agree on what is
enabled). Shortcuts work while the page is on screen; Delete and F2 only while the table has
the focus (Delete in the filter box deletes text, not a run)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from workbench.core.records import ACTIVE_STATUSES, CHATTABLE_STATUSES, Run
from workbench.ui.common.page import action_button

if TYPE_CHECKING:
    from workbench.services.runs import ResumeCheck

# name -> (text, shortcut, tooltip)
SPECS: dict[str, tuple[str, str, str]] = {
    "resume": ("Resume", "Ctrl+R", "Continue the run from its last checkpoint, as the same run"),
    "cancel": ("Cancel Run", "Ctrl+.", "Stop the run; it saves its adapter and a checkpoint first"),
    "retry": ("Retry with Half the Batch", "",
              "Out of memory: start this run again with half the batch size and twice the gradient "
              "accumulation (the same effective batch), from its checkpoint."),
    "duplicate": ("Duplicate Settings…", "Ctrl+D", "Open the Train page with this run's settings, base model "
                                                   "and dataset, to start a new run from them"),
    "compare": ("Compare", "Ctrl+K", "Pin the selected runs: overlay their curves and list the settings "
                                     "that differ (select two or more with Ctrl+click)"),
    "rename": ("Rename…", "F2", "Give the run a new name"),
    "tag": ("Tags…", "Ctrl+T", "Set the tags of the selected runs (the filter box finds them)"),
    "delete": ("Delete…", "Del", "Delete the selected runs: their checkpoints, adapter and curves"),
    "open_folder": ("Open Folder", "Ctrl+Shift+O", "Show the run's folder (adapter, checkpoints, logs)"),
    "chat": ("Chat with This Run", "Ctrl+Return", "Talk to the base model with this run's adapter"),
    "export_metrics": ("Export Metrics…", "Ctrl+Shift+E",
                       "Save the selected runs' curves as a CSV or Parquet file"),
}
_TABLE_ONLY = ("delete", "rename")  # keys that mean something else in a text box


def resume_state(check: "ResumeCheck") -> tuple[bool, str]:
    """(whether Resume is possible, its tooltip: from which step, or why not and what instead)."""
    if check.ok:
        text = [f"Continue from its checkpoint at step {check.checkpoint.rsplit('-', 1)[-1]} as the same run."]
    else:
        text = [check.reason, check.advice]
    # Rich text, so that Qt wraps the tooltip instead of drawing one screen-wide line.
    return check.ok, "".join(f"<p>{html.escape(t)}</p>" for t in text if t)


class RunActions(QObject):
    """page.actions.resume, .cancel, ... (one per SPECS key); each calls its handler."""

    def __init__(self, page: QWidget, table: QWidget, handlers: dict[str, Callable[[], None]],
                 export_action: QAction) -> None:
        super().__init__(page)
        self.actions: dict[str, QAction] = {}
        for name, (text, shortcut, tip) in SPECS.items():
            action = QAction(text, page)
            action.setObjectName(f"{name}Action")
            if shortcut:
                action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete) if shortcut == "Del"
                                   else QKeySequence(shortcut))
            action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                              if shortcut else tip)
            action.setIconText(text.removesuffix("…"))
            handler = handlers[name]
            action.triggered.connect(lambda _checked=False, h=handler: h())
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            (table if name in _TABLE_ONLY else page).addAction(action)
            self.actions[name] = action
            setattr(self, name, action)
        self.actions["compare"].setCheckable(True)
        self.export_model = export_action
        self.update([], None, [], [])

    def button(self, name: str, object_name: str = "") -> QToolButton:
        """A button that is the action (follows its text, state and tooltip)."""
        return action_button(self.actions[name], object_name)

    def menu(self, parent: Optional[QWidget] = None) -> QMenu:
        """Every command, grouped (the table's context menu and the page's Run menu)."""
        menu = QMenu(parent)
        a = self.actions
        groups = ((a["chat"], a["resume"], a["retry"], a["cancel"]),
                  (a["compare"], a["duplicate"]),
                  (a["rename"], a["tag"], a["open_folder"]),
                  (self.export_model, a["export_metrics"]),
                  (a["delete"],))
        for i, group in enumerate(groups):
            if i:
                menu.addSeparator()
            for action in group:
                menu.addAction(action)  # a menu leaves out the actions set invisible
        return menu

    def update(self, runs: Sequence[Run], current: Optional[Run], active_ids: Sequence[str],
               stopping_ids: Sequence[str], resume_ok: Optional[tuple[bool, str]] = None) -> None:
        """Enable what the selection allows. `current`: the run single-run commands act on;
        resume_ok: (possible, tooltip) from services.runs.resume_check for it."""
        a = self.actions
        one = current is not None
        active = one and current.id in active_ids
        a["cancel"].setEnabled(bool(active and current.status in ACTIVE_STATUSES and current.id not in stopping_ids))
        ok, tip = resume_ok if (one and resume_ok) else (False, "Select a run to resume.")
        a["resume"].setEnabled(ok)
        a["resume"].setToolTip(tip)
        oom = one and current.status == "failed" and current.failure_kind == "oom"
        a["retry"].setVisible(bool(oom))
        if oom:
            batch = current.train_config.batch_size
            a["retry"].setEnabled(batch > 1)
            a["retry"].setText(f"Retry with Batch {batch // 2}" if batch > 1 else "Retry with Half the Batch")
            a["retry"].setIconText(f"Retry with batch {batch // 2}" if batch > 1 else "Retry with half the batch")
        a["chat"].setEnabled(bool(one and current.status in CHATTABLE_STATUSES and current.adapter_path))
        for name in ("duplicate", "rename", "open_folder"):
            a[name].setEnabled(one)
        a["tag"].setEnabled(bool(runs))
        a["export_metrics"].setEnabled(bool(runs))
        # A run that trains cannot be deleted (cancel it first); the dialog says so for a mixed selection.
        a["delete"].setEnabled(any(r.id not in active_ids and r.status not in ACTIVE_STATUSES for r in runs))
        compare = a["compare"]
        compare.setEnabled(compare.isChecked() or len(runs) >= 2)
