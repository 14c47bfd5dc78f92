"""The suites (their latest versions, services.eval_views.SuiteRow) in a list; choosing one
follows an edit: when the list is read again, the new version of the suite shown is chosen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

if TYPE_CHECKING:
    from workbench.services.eval_views import SuiteRow

LINEAGE_ROLE = Qt.ItemDataRole.UserRole + 1


class SuitesList(QListWidget):
    chosen = Signal()  # the current suite changed (or was chosen again)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("evalSuites")
        self.currentItemChanged.connect(lambda *_: self.chosen.emit())

    def suite_id(self) -> Optional[str]:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def lineage_of(self, suite_id: Optional[str]) -> Optional[str]:
        for i in range(self.count()):
            if self.item(i).data(Qt.ItemDataRole.UserRole) == suite_id:
                return self.item(i).data(LINEAGE_ROLE)
        return None

    def set_rows(self, rows: list["SuiteRow"], want: Optional[str], lineage: Optional[str]) -> None:
        """List the suites, then choose `want`, else the newest version of `lineage` (an edit
        replaced it), else the first."""
        self.blockSignals(True)
        self.clear()
        for row in rows:
            s = row.suite
            item = QListWidgetItem(f"{s.title}  ·  {s.item_count} items")
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            item.setData(LINEAGE_ROLE, s.lineage_id)
            item.setToolTip(f"{s.description or s.name}\n{row.eval_runs} eval run(s), {row.versions} version(s); "
                            f"made {s.created_at[:16].replace('T', ' ')} by {s.created_by}")
            self.addItem(item)
        self.blockSignals(False)
        ids = [row.suite.id for row in rows]
        newest = next((row.suite.id for row in rows if row.suite.lineage_id == lineage), None)
        self.select(want if want in ids else newest or (ids[0] if ids else None))

    def select(self, suite_id: Optional[str]) -> None:
        """Choose a suite (chosen is emitted even when it already was: its eval runs are read again)."""
        for i in range(self.count()):
            if self.item(i).data(Qt.ItemDataRole.UserRole) == suite_id:
                if self.currentRow() == i:
                    self.chosen.emit()
                else:
                    self.setCurrentRow(i)
                return
        self.chosen.emit()  # nothing to choose: the page shows no suite
