"""The run queue on the Runs page: the waiting runs in the order they will start, with Move Up,
Move Down and Remove from Queue (actions with shortcuts while the list has focus)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QListView, QToolButton, QVBoxLayout, QWidget

from workbench.ui.common.errors import show_error
from workbench.ui.common.page import hint
from workbench.ui.shell.context import ProjectContext

if TYPE_CHECKING:
    from workbench.services.run_views import RunRow

_Index = QModelIndex | QPersistentModelIndex


class QueueModel(QAbstractListModel):
    """The waiting runs (services.run_views.RunRow), first to start first."""

    RunIdRole = Qt.ItemDataRole.UserRole

    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._rows: list["RunRow"] = []

    def set_rows(self, rows: list["RunRow"]) -> None:
        if [r.run.id for r in rows] == [r.run.id for r in self._rows] and \
                [r.run.name for r in rows] == [r.run.name for r in self._rows]:
            return  # unchanged: keep the view's selection and scroll position
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def run_ids(self) -> list[str]:
        return [r.run.id for r in self._rows]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            again = " (resumes)" if row.run.step else ""
            return f"{index.row() + 1}. {row.run.name}{again}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.run.name} on {row.model_name}" + (
                f": resumes from its checkpoint (it reached step {row.run.step})" if row.run.step else "")
        if role == self.RunIdRole:
            return row.run.id
        return None


class QueuePanel(QWidget):
    changed = Signal()  # the queue's order or contents changed through this panel

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx: Optional[ProjectContext] = None
        self.model = QueueModel(self)
        self.view = QListView()
        self.view.setObjectName("runQueue")
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.empty = hint("No runs are waiting. Add to Queue on the Train page queues one; "
                          "it starts when the runs before it have ended.")

        def action(text: str, shortcut: str, slot) -> QAction:
            a = QAction(text, self)
            a.setShortcut(QKeySequence(shortcut))
            # Only while the queue list (or a button beside it) has focus: Delete elsewhere is not ours.
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.setToolTip(f"{text} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.up_action = action("Move Up", "Alt+Up", lambda: self.move_selected(-1))
        self.down_action = action("Move Down", "Alt+Down", lambda: self.move_selected(1))
        self.remove_action = action("Remove from Queue", "Delete", self.remove_selected)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for a in (self.up_action, self.down_action, self.remove_action):
            b = QToolButton()
            b.setDefaultAction(a)
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        self.refresh()

    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        self.ctx = ctx
        self.refresh()

    def refresh(self) -> None:
        """Read the queue again (a few indexed reads: fine on each runs change)."""
        keep = self.selected_run_id()
        if self.ctx is not None:
            from workbench.services import run_views  # a project is open: the store is loaded

            rows = run_views.queue_rows(self.ctx.store)
        else:
            rows = []
        self.model.set_rows(rows)
        self.empty.setVisible(not rows)
        if keep in self.model.run_ids():
            self.select(keep)
        self._update_actions()

    def selected_run_id(self) -> Optional[str]:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].data(QueueModel.RunIdRole) if rows else None

    def select(self, run_id: str) -> None:
        ids = self.model.run_ids()
        if run_id in ids:
            self.view.setCurrentIndex(self.model.index(ids.index(run_id)))

    def _update_actions(self) -> None:
        ids, selected = self.model.run_ids(), self.selected_run_id()
        at = ids.index(selected) if selected in ids else -1
        self.up_action.setEnabled(at > 0)
        self.down_action.setEnabled(0 <= at < len(ids) - 1)
        self.remove_action.setEnabled(at >= 0)

    def move_selected(self, delta: int) -> None:
        run_id = self.selected_run_id()
        if run_id is None or self.ctx is None:
            return
        position = self.model.run_ids().index(run_id) + 1 + delta
        try:
            self.ctx.runs.move_in_queue(run_id, position)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Cannot move the run")
        self.refresh()
        self.select(run_id)
        self.changed.emit()

    def remove_selected(self) -> None:
        run_id = self.selected_run_id()
        if run_id is None or self.ctx is None:
            return
        try:
            self.ctx.runs.remove_from_queue(run_id)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc, "Cannot remove the run from the queue")
        self.refresh()
        self.changed.emit()
