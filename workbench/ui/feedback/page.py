"""Feedback: what chat ratings, corrections and arena votes teach, as a table of training items
(SFT rows and preference pairs, with the models, rater, when and whether the vote was blind),
filtered by kind; the selected items become a dataset version (deduplicated, checked against
the eval suites) or a JSONL file for TRL.

The items are read in a worker (they come from whole conversations), again on
ctx.feedback_changed (not while the page is hidden); making a version and exporting run in
workers too.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, action_button, heading, hint
from workbench.ui.common.workers import InlineProgress, Task, run_task
from workbench.ui.feedback.dialog import MakeVersionDialog
from workbench.ui.shell.context import ProjectContext

if TYPE_CHECKING:
    from workbench.core.feedback_records import FeedbackItem, VersionResult

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Kind", "Prompt", "Chosen / correction", "Rejected", "Models", "Rater", "When", "Blind")
KIND_COL = 0
FILTERS = (("All feedback", ""), ("SFT rows", "sft"), ("Preference pairs", "preference"))
ORIGINS = {"correction": "correction", "rated_good": "rated good", "vote": "vote"}
ItemIdRole = Qt.ItemDataRole.UserRole
KindRole = Qt.ItemDataRole.UserRole + 1


def _text(messages) -> str:
    return " ".join(" ".join(m["content"].split()) for m in messages)


def _excerpt(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _model_name(key: str, titles: dict[str, str]) -> str:
    if key in titles:
        return titles[key]
    # A ChatTarget key "base:run:checkpoint" of a model no longer in the project: ids, shortened.
    parts = [p for p in key.split(":") if p]
    return " / ".join(p[:8] if len(p) > 12 else p for p in parts) or "?"


# -- loads (worker threads) -------------------------------------------------------------------
def load_items(store: Any, progress=None, cancel=None) -> tuple[list["FeedbackItem"], dict[str, str]]:
    """The items, and a name for each model they name."""
    from workbench.services import feedback

    items = feedback.feedback_items(store)
    return items, feedback.target_titles(store, {m for i in items for m in i.provenance.models})


def make_version(store: Any, item_ids: list[str], kind: str, name: str, drop_leaks: bool,
                 progress=None, cancel=None) -> "VersionResult":
    from workbench.services import feedback

    return feedback.make_version(store, item_ids, kind, name, drop_leaks=drop_leaks, progress=progress, cancel=cancel)


def export(store: Any, kind: str, path: str, item_ids: Optional[list[str]], progress=None, cancel=None) -> int:
    from workbench.services import feedback

    return feedback.export_feedback(store, kind, path, item_ids)


class FeedbackItemsModel(QAbstractTableModel):
    """One row per feedback item."""

    def __init__(self, parent: Optional[Any] = None) -> None:
        super().__init__(parent)
        self._items: list["FeedbackItem"] = []
        self.titles: dict[str, str] = {}  # ChatTarget key -> the model's name

    def set_items(self, items: list["FeedbackItem"], titles: Optional[dict[str, str]] = None) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.titles = dict(titles or {})
        self.endResetModel()

    def item_at(self, row: int) -> Optional["FeedbackItem"]:
        return self._items[row] if 0 <= row < len(self._items) else None

    def items(self) -> list["FeedbackItem"]:
        return list(self._items)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role in (Qt.ItemDataRole.DisplayRole,
                                                                 Qt.ItemDataRole.ToolTipRole):
            return COLUMNS[section] if section < len(COLUMNS) else None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        item = self.item_at(index.row()) if index.isValid() else None
        if item is None:
            return None
        if role == ItemIdRole:
            return item.id
        if role == KindRole:
            return item.kind
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        p = item.provenance
        col = index.column()
        full = role == Qt.ItemDataRole.ToolTipRole
        prompt = next((m["content"] for m in reversed(item.prompt) if m["role"] == "user"), "")
        values = (
            f"{'pair' if item.kind == 'preference' else 'SFT'} · {ORIGINS.get(p.origin, p.origin)}",
            " ".join(prompt.split()),
            _text(item.chosen),
            _text(item.rejected) if item.rejected else "",
            " vs ".join(_model_name(m, self.titles) for m in p.models),
            p.rater,
            p.at.replace("T", " ")[:16],
            "yes" if p.blind else "",
        )
        value = values[col]
        if full:
            return "\n".join(p.models) if col == 4 else value or None
        return _excerpt(value) if col in (1, 2, 3) else value


class FeedbackPage(Page):
    title = "Feedback"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.tasks: dict[str, Task] = {}
        self.version_dialog: Optional[MakeVersionDialog] = None
        self.result_box: Optional[QMessageBox] = None
        self.last_result: Optional["VersionResult"] = None
        self.model = FeedbackItemsModel(self)
        self.proxy = QSortFilterProxyModel(self)  # filtered on each row's kind ("" shows all)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(KIND_COL)
        self.proxy.setFilterRole(KindRole)
        self.table = QTableView()
        self.table.setObjectName("feedbackTable")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            mode = QHeaderView.ResizeMode.Stretch if col in (1, 2, 3) else QHeaderView.ResizeMode.ResizeToContents
            header.setSectionResizeMode(col, mode)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.kind_filter = QComboBox()
        self.kind_filter.setObjectName("feedbackKind")
        for title, value in FILTERS:
            self.kind_filter.addItem(title, value)
        self.kind_filter.currentIndexChanged.connect(lambda _i: self._filter_changed())
        self.make_action = self._action("Make Dataset Version…", "Ctrl+Shift+M", self.ask_version,
                                        "A new dataset version (SFT rows or preference pairs) from the selected "
                                        "items, without rows the project already has or eval suite prompts")
        self.export_action = self._action("Export…", "Ctrl+Shift+E", lambda: self.export(),
                                          "Save the items of the kind shown (the selected ones, if any) as JSONL "
                                          "for TRL")
        self.count = QLabel()
        self.count.setObjectName("feedbackCount")
        self.status = hint("")
        self.status.setObjectName("feedbackStatus")
        self.progress = InlineProgress()
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("feedbackDetail")
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("Select an item to see its prompt, replies and where it came from.")
        self._layout()
        self._update_actions()

    def _action(self, text: str, shortcut: str, slot: Callable[[], Any], tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(heading("Feedback"))
        top.addWidget(self.kind_filter)
        top.addWidget(self.count)
        top.addStretch(1)
        self.make_button = action_button(self.make_action, "primary")
        self.export_button = action_button(self.export_action)
        top.addWidget(self.make_button)
        top.addWidget(self.export_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint("Ratings and corrections of chat replies, and arena votes, as training data: a "
                              "correction is an SFT row and a pair (your text over the model's), a reply rated "
                              "good is an SFT row, a vote pairs the winner with each other side."))
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()
        self.model.set_items([])
        self.status.setText("")
        if ctx is not None:
            self.connect_ctx(ctx.feedback_changed, self.refresh_when_shown(self.refresh))
            self.connect_ctx(ctx.conversations_changed, self.refresh_when_shown(self.refresh))
            self.refresh()
        self._update_actions()

    def _task(self, kind: str, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None], title: str) -> Task:
        """fn in a worker; `done(result)` only if no newer task of the kind started since."""
        old = self.tasks.get(kind)
        if old is not None and old.running:
            old.cancel()
        task = self.tasks[kind] = run_task(fn, *args, name=f"feedback: {kind}")
        task.finished.connect(lambda result, t=task: self.tasks.get(kind) is t and done(result))
        task.failed.connect(lambda exc, t=task: self.tasks.get(kind) is t and show_error(self, exc, title))
        task.done.connect(lambda t=task: self._task_done(kind, t))
        self._update_actions()
        return task

    def _task_done(self, kind: str, task: Task) -> None:
        if self.tasks.get(kind) is task:
            del self.tasks[kind]
        self._update_actions()

    def busy(self, kind: Optional[str] = None) -> bool:
        return any(t.running for k, t in self.tasks.items() if kind is None or k == kind)

    def refresh(self) -> None:
        if self.ctx is not None:
            self._task("load", load_items, self.ctx.store, done=self._loaded, title="Cannot read the feedback")

    def _loaded(self, loaded: tuple[list["FeedbackItem"], dict[str, str]]) -> None:
        selected = set(self.selected_ids())
        self.model.set_items(*loaded)
        for row in range(self.proxy.rowCount()):  # keep what was selected
            if self.proxy.index(row, 0).data(ItemIdRole) in selected:
                self.table.selectRow(row)
        self._counts()
        self._update_actions()

    # -- selection and filter --------------------------------------------------------------------
    def selected_items(self) -> list["FeedbackItem"]:
        rows = sorted({self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()})
        return [item for item in (self.model.item_at(r) for r in rows) if item is not None]

    def selected_ids(self) -> list[str]:
        return [i.id for i in self.selected_items()]

    def shown_kind(self) -> Optional[str]:
        """The kind an export or a new version is of: the filter's, else the selection's when it
        is all one kind."""
        kind = self.kind_filter.currentData()
        if kind:
            return kind
        kinds = {i.kind for i in self.selected_items()}
        return kinds.pop() if len(kinds) == 1 else None

    def set_kind(self, kind: str) -> None:
        self.kind_filter.setCurrentIndex(self.kind_filter.findData(kind))

    def _filter_changed(self) -> None:
        self.proxy.setFilterFixedString(self.kind_filter.currentData())
        self._counts()
        self._selection_changed()

    def _counts(self) -> None:
        items = self.model.items()
        pairs = sum(1 for i in items if i.kind == "preference")
        self.count.setText(f"{len(items) - pairs} SFT row{'s' if len(items) - pairs != 1 else ''}, "
                           f"{pairs} pair{'s' if pairs != 1 else ''}")

    def _selection_changed(self) -> None:
        items = self.selected_items()
        self.detail.setPlainText(_describe(items[0], self.model.titles) if len(items) == 1 else
                                 f"{len(items)} items selected." if items else "")
        self._update_actions()

    def _update_actions(self) -> None:
        idle = self.ctx is not None and not self.busy("version") and not self.busy("export")
        self.make_action.setEnabled(idle and bool(self.table.selectionModel().selectedRows()))
        self.export_action.setEnabled(idle and self.shown_kind() is not None and self.proxy.rowCount() > 0)

    # -- make a version --------------------------------------------------------------------------
    def ask_version(self) -> Optional[MakeVersionDialog]:
        items = self.selected_items()
        if self.ctx is None or not items:
            return None
        dialog = MakeVersionDialog(len(items), self.shown_kind() or "preference", self)
        dialog.accepted.connect(lambda d=dialog: self.make_version(*d.request()))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.version_dialog = dialog
        dialog.open()
        return dialog

    def make_version(self, name: str, kind: str, drop_leaks: bool = True) -> Optional[Task]:
        ids = self.selected_ids()
        if self.ctx is None or not ids:
            return None
        task = self._task("version", make_version, self.ctx.store, ids, kind, name, drop_leaks,
                          done=self._version_made, title="Could not make the dataset version")
        self.progress.follow(task, f"Making a {kind} version from {len(ids)} item(s)…")
        return task

    def _version_made(self, result: "VersionResult") -> None:
        self.last_result = result
        self.status.setText(result.summary())
        if self.ctx is not None and result.version_id:
            self.ctx.datasets_changed.emit()
        box = QMessageBox(QMessageBox.Icon.Information, "Dataset version",
                          ("A new version is in the Datasets page. " if result.version_id else
                           "No version was made: no row was left. ") + result.summary(),
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("versionResult")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.result_box = box
        box.open()

    # -- export ----------------------------------------------------------------------------------
    def export(self, path: Optional[str] = None) -> Optional[Task]:
        """Export the kind shown (the selected items, if any); asks where unless `path` is given."""
        kind = self.shown_kind()
        if self.ctx is None or kind is None:
            return None
        selected = [i.id for i in self.selected_items() if i.kind == kind] or None
        if path is None:
            suggested = os.path.join(os.path.expanduser("~"), f"feedback-{kind}.jsonl")
            path, _chosen = QFileDialog.getSaveFileName(self, "Export feedback", suggested, "JSON Lines (*.jsonl)")
            if not path:
                return None
            if not os.path.splitext(path)[1]:
                path += ".jsonl"
        task = self._task("export", export, self.ctx.store, kind, path, selected,
                          done=lambda n, p=path: self.status.setText(f"Exported {n} {kind} row(s) to {p}"),
                          title="Could not export the feedback")
        self.progress.follow(task, "Exporting feedback…")
        return task

    def shutdown(self) -> None:
        for task in self.tasks.values():
            task.cancel()


def _describe(item: "FeedbackItem", titles: dict[str, str]) -> str:
    p = item.provenance
    lines = [f"{item.id} · {ORIGINS.get(p.origin, p.origin)} · rated by {p.rater} at {p.at}"
             + (" · blind vote" if p.blind else "")]
    lines += [f"models: {' vs '.join(_model_name(m, titles) for m in p.models)}", "", "PROMPT"]
    lines += [f"[{m['role']}] {m['content']}" for m in item.prompt]
    lines += ["", "CHOSEN" if item.kind == "preference" else "REPLY", _text(item.chosen)]
    if item.rejected:
        lines += ["", "REJECTED", _text(item.rejected)]
    return "\n".join(lines)
