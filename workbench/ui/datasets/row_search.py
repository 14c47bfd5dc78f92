"""Find rows of a dataset version whose messages contain a text: the search runs in a worker
(progress, Cancel) over the whole version; Enter / F3 jump to the next match, Shift+F3 to the
previous one, and the label says which match of how many is shown."""

from __future__ import annotations

import bisect
from typing import Any, Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from workbench.ui.common.errors import show_error
from workbench.ui.common.workers import InlineProgress, Task, run_task


class RowSearch(QWidget):
    goto = Signal(int)  # the row to show
    matches_changed = Signal(object)  # list[int] of matching rows (empty: none / cleared)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("rowSearch")
        self.edit = QLineEdit()
        self.edit.setObjectName("searchEdit")
        self.edit.setPlaceholderText("Find text in messages (Enter, F3)")
        self.edit.setClearButtonEnabled(True)
        self.case_check = QCheckBox("Aa")
        self.case_check.setToolTip("Match case")
        self.prev_button = QToolButton()
        self.prev_button.setText("◀")
        self.prev_button.setToolTip("Previous match (Shift+F3)")
        self.next_button = QToolButton()
        self.next_button.setText("▶")
        self.next_button.setToolTip("Next match (F3)")
        self.count_label = QLabel()
        self.count_label.setObjectName("searchCount")
        self.progress = InlineProgress()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.case_check)
        layout.addWidget(self.prev_button)
        layout.addWidget(self.next_button)
        layout.addWidget(self.count_label)
        layout.addWidget(self.progress)
        self.edit.returnPressed.connect(self.find_next)
        self.edit.textChanged.connect(self._text_changed)
        self.case_check.toggled.connect(lambda _on: self._text_changed(self.edit.text()))
        self.next_button.clicked.connect(self.find_next)
        self.prev_button.clicked.connect(self.find_previous)
        self.shortcuts = []
        for keys, slot in (("F3", self.find_next), ("Shift+F3", self.find_previous), ("Ctrl+F", self.focus)):
            sc = QShortcut(QKeySequence(keys), parent or self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)
            self.shortcuts.append(sc)
        self.task: Optional[Task] = None
        self.matches: list[int] = []
        self.truncated = False
        self._key: Optional[tuple[str, str, bool]] = None  # (version id, text, case) of `matches`
        self._store: Any = None
        self._version_id: Optional[str] = None
        self._current: Callable[[], int] = lambda: -1
        self._jump = 1  # direction to jump once a search finishes
        self._update_label()

    def set_source(self, store: Any, version_id: Optional[str], current_row: Callable[[], int]) -> None:
        """Search this version; current_row() tells where the view is (to find the next match)."""
        self.cancel()
        self._store, self._version_id, self._current = store, version_id, current_row
        self._reset()

    def focus(self) -> None:
        self.edit.setFocus()
        self.edit.selectAll()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _reset(self) -> None:
        self.matches, self.truncated, self._key = [], False, None
        self.matches_changed.emit([])
        self._update_label()

    def _text_changed(self, _text: str) -> None:
        self.cancel()
        if self.matches or self._key is not None:
            self._reset()

    # -- searching -------------------------------------------------------------------------------
    def find_next(self) -> None:
        self._find(1)

    def find_previous(self) -> None:
        self._find(-1)

    def _find(self, direction: int) -> None:
        text = self.edit.text()
        if not text or self._version_id is None or self._store is None:
            return
        key = (self._version_id, text, self.case_check.isChecked())
        if key != self._key:
            self._search(key, direction)
        else:
            self._step(direction)

    def _search(self, key: tuple[str, str, bool], direction: int) -> None:
        from workbench.services import dataset_view

        self.cancel()
        version_id, text, case = key
        task = run_task(dataset_view.search_rows, self._store, version_id, text, case_sensitive=case,
                        name=f"search {text!r}")
        self.task, self._jump = task, direction
        self.count_label.setText("")
        self.progress.follow(task, "Searching…")
        task.finished.connect(lambda result: self._found(task, key, result))
        task.failed.connect(lambda exc: show_error(self, exc, "Search"))
        task.done.connect(lambda: self._task_done(task))

    def _task_done(self, task: Task) -> None:
        if self.task is task:
            self.task = None
            self._update_label()

    def _found(self, task: Task, key: tuple[str, str, bool], result: Any) -> None:
        if self.task is not task or key != (self._version_id, self.edit.text(), self.case_check.isChecked()):
            return  # the text or the version changed meanwhile
        self._key = key
        self.matches, self.truncated = list(result.matches), result.truncated
        self.matches_changed.emit(self.matches)
        self._step(self._jump, include_current=True)

    def _step(self, direction: int, include_current: bool = False) -> None:
        if not self.matches:
            self._update_label()
            return
        current = self._current()
        if direction > 0:
            i = bisect.bisect_left(self.matches, current) if include_current else bisect.bisect_right(self.matches, current)
            row = self.matches[i % len(self.matches)]
        else:
            i = bisect.bisect_left(self.matches, current) - 1
            row = self.matches[i % len(self.matches)]
        self.goto.emit(row)
        self._update_label(row)

    def _update_label(self, row: Optional[int] = None) -> None:
        enabled = bool(self.matches)
        self.prev_button.setEnabled(enabled)
        self.next_button.setEnabled(enabled)
        if self._key is None:
            self.count_label.setText("")
            return
        if not self.matches:
            self.count_label.setText("No matches")
            return
        n = f"{len(self.matches):,}" + ("+" if self.truncated else "")
        if row is None:
            row = self._current()
        i = bisect.bisect_left(self.matches, row)
        if i < len(self.matches) and self.matches[i] == row:
            self.count_label.setText(f"{i + 1:,} of {n} matches")
        else:
            self.count_label.setText(f"{n} matches")

    def row_changed(self, row: int) -> None:
        """The view moved (a click): keep the label's "k of N" true."""
        if self._key is not None:
            self._update_label(row)
