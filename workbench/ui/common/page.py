"""The interface every page implements for the main window."""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtCore import QMetaObject, QObject
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QToolButton, QWidget

from workbench.ui.shell.context import ProjectContext


class Page(QWidget):
    title = ""
    # Heavy modules the page imports when first shown (pyqtgraph...): the window imports them in
    # a worker beforehand, so that first show does not stall the GUI thread on an import.
    heavy_imports: tuple[str, ...] = ()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.ctx: Optional[ProjectContext] = None
        self._ctx_connections: list[QMetaObject.Connection] = []
        # The page the window shows now (set by the window through set_current).
        self.is_current = False
        self._stale: dict[Callable[[], Any], None] = {}  # refreshes owed, in order, once each

    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        """Called when a project opens (ctx) or closes (None); subclasses call this first, then
        follow the new project with connect_ctx() and refresh."""
        self.disconnect_ctx()
        self._stale.clear()  # owed to the old project
        self.ctx = ctx

    def connect_ctx(self, signal: Any, slot: Callable[..., Any]) -> None:
        """Connect `slot` to a signal of the current project (ctx.runs_changed, ...) until the
        project changes: set_context() disconnects it, so a page never reacts to a project it
        no longer shows."""
        self._ctx_connections.append(signal.connect(slot))

    def disconnect_ctx(self) -> None:
        """Undo every connect_ctx() (set_context does this before switching projects)."""
        connections, self._ctx_connections = self._ctx_connections, []
        for connection in connections:
            # False when the context was deleted meanwhile: nothing is left to disconnect.
            QObject.disconnect(connection)

    def refresh_when_shown(self, slot: Callable[[], Any]) -> Callable[..., None]:
        """A slot for a change signal (its arguments are dropped): `slot` runs now while this is
        the current page; a hidden page only notes it, and runs it once when it is shown (a
        hidden page does no work however often a run reports)."""
        def on_change(*_args: Any) -> None:
            if self.is_current:
                slot()
            else:
                self._stale[slot] = None
        return on_change

    @property
    def stale(self) -> bool:
        """A refresh is owed for a change heard while hidden."""
        return bool(self._stale)

    def set_current(self, current: bool) -> None:
        """Called by the window as the page becomes the one shown (True) or another does (False):
        the refreshes owed run once, then page_shown()."""
        was, self.is_current = self.is_current, current
        if current and not was:
            owed, self._stale = list(self._stale), {}
            for slot in owed:
                slot()
            self.page_shown()

    def page_shown(self) -> None:
        """Called each time the page becomes the current one."""

    def shutdown(self) -> None:
        """Called before the project closes: stop timers, close clients."""

    def theme_changed(self) -> None:
        """Called after the light/dark theme changed (for colours not taken from the palette)."""


def action_button(action: Any, object_name: str = "") -> QToolButton:
    """A button that is the action: it follows its text, enabled state and tooltip."""
    from PySide6.QtCore import Qt

    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    if object_name:
        button.setObjectName(object_name)
    return button


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("pageHeading")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.35)
    font.setBold(True)
    label.setFont(font)
    return label


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label  # the stylesheets colour QLabel#hint as muted text


def set_columns(table: QTableWidget, columns) -> None:
    """Column titles, each also its tooltip: a narrow column's title is elided (the stylesheets
    make headers elide at the right), the tooltip has it whole."""
    table.setHorizontalHeaderLabels(list(columns))
    for i, name in enumerate(columns):
        table.horizontalHeaderItem(i).setToolTip(name)


def record_table(columns, object_name: str) -> QTableWidget:
    """A read-only table of records: whole-row single selection, no row numbers."""
    table = QTableWidget(0, len(columns))
    table.setObjectName(object_name)
    set_columns(table, columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fit_then_stretch(table: QTableWidget, fitted: int) -> None:
    """One-line rows; the first `fitted` columns sized to their contents, the others share the
    rest (a table of short labels followed by long texts)."""
    table.setWordWrap(False)
    header = table.horizontalHeader()
    for col in range(table.columnCount()):
        mode = QHeaderView.ResizeMode.ResizeToContents if col < fitted else QHeaderView.ResizeMode.Stretch
        header.setSectionResizeMode(col, mode)
