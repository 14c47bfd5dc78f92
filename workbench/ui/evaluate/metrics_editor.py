"""The metrics of a suite: a checklist of the registry's metrics (services.eval_views
.metric_choices), the reference-free ones marked, with a parameter cell for the metrics that
take one (the text to contain, a regex, the classes to read). The judge is set apart (its model,
scale and rubric) in the suite dialog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

if TYPE_CHECKING:
    from workbench.core.eval_records import MetricSpec
    from workbench.services.eval_views import MetricChoice

# metric -> (parameter key, placeholder); choices are a comma-separated list.
PARAMS = {
    "contains": ("text", "text the output must contain (empty: the reference)"),
    "regex": ("pattern", "a regular expression the output must match"),
    "classification": ("choices", "the classes, comma-separated (read from the output)"),
    "macro_f1": ("choices", "the classes, comma-separated"),
}
LIST_PARAMS = ("choices",)
DEFAULT_METRICS = ("exact_match", "token_f1", "rouge_l", "chrf", "loss", "length")
JUDGE = "judge"


class MetricsEditor(QTableWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(0, 3, parent)
        self.setObjectName("suiteMetrics")
        self.setHorizontalHeaderLabels(["Metric", "Needs a reference", "Parameter"])
        self.verticalHeader().hide()
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self._names: list[str] = []

    def set_choices(self, choices: list["MetricChoice"], chosen: Optional[list["MetricSpec"]] = None) -> None:
        """The registry's metrics (the judge left out: the dialog has its own box for it), the
        `chosen` ones ticked with their parameters (None: a default set)."""
        picked = {m.name: m.params for m in chosen} if chosen is not None else {n: {} for n in DEFAULT_METRICS}
        rows = [c for c in choices if c.name != JUDGE]
        self.setRowCount(len(rows))
        self._names = [c.name for c in rows]
        for r, choice in enumerate(rows):
            name = QTableWidgetItem(choice.title)
            name.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            name.setCheckState(Qt.CheckState.Checked if choice.name in picked else Qt.CheckState.Unchecked)
            name.setToolTip(f"{choice.name}: {choice.description}" if choice.description else choice.name)
            name.setData(Qt.ItemDataRole.UserRole, choice.name)
            self.setItem(r, 0, name)
            refs = QTableWidgetItem("yes" if choice.needs_references else "no: reference-free")
            refs.setFlags(Qt.ItemFlag.ItemIsEnabled)
            refs.setToolTip("Computed only on items that have a reference answer" if choice.needs_references
                            else "Computed on every item, with or without a reference answer")
            self.setItem(r, 1, refs)
            param = PARAMS.get(choice.name)
            value = QTableWidgetItem()
            if param is None:
                value.setFlags(Qt.ItemFlag.ItemIsEnabled)
            else:
                key, placeholder = param
                given = picked.get(choice.name, {}).get(key)
                value.setText(", ".join(given) if isinstance(given, list) else str(given or ""))
                value.setToolTip(placeholder)
                value.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsSelectable)
            self.setItem(r, 2, value)
        self.resizeRowsToContents()

    def set_checked(self, name: str, on: bool) -> None:
        row = self._names.index(name)
        self.item(row, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def set_param(self, name: str, text: str) -> None:
        self.item(self._names.index(name), 2).setText(text)

    def checked_names(self) -> list[str]:
        return [n for r, n in enumerate(self._names) if self.item(r, 0).checkState() == Qt.CheckState.Checked]

    def specs(self) -> list["MetricSpec"]:
        from workbench.core.eval_records import MetricSpec

        out = []
        for r, name in enumerate(self._names):
            if self.item(r, 0).checkState() != Qt.CheckState.Checked:
                continue
            params: dict[str, Any] = {}
            param = PARAMS.get(name)
            text = self.item(r, 2).text().strip()
            if param is not None and text:
                key = param[0]
                params[key] = [p.strip() for p in text.split(",") if p.strip()] if key in LIST_PARAMS else text
            out.append(MetricSpec(name, params))
        return out
