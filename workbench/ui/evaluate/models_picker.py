"""The models to run a suite on: every base model and every run's adapter (final, best, each kept
checkpoint), from services.eval_runs.model_choices, ticked in a list (several at once: they run
one after the other and compare side by side)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

if TYPE_CHECKING:
    from workbench.core.eval_records import EvalModel


def model_key(model: "EvalModel") -> tuple:
    return (model.base_model_id, model.run_id, model.checkpoint)


class ModelsPicker(QListWidget):
    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("evalModels")
        self.setToolTip("Tick the models to evaluate: base models, and runs' adapters at their final, best "
                        "or a kept checkpoint")
        self._models: list["EvalModel"] = []
        self.itemChanged.connect(lambda _item: self.changed.emit())

    def set_models(self, models: list["EvalModel"]) -> None:
        """The choices; what was ticked stays ticked."""
        ticked = {model_key(m) for m in self.checked()}
        self.blockSignals(True)
        self.clear()
        self._models = list(models)
        for model in self._models:
            item = QListWidgetItem(model.label or model.checkpoint)
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setCheckState(Qt.CheckState.Checked if model_key(model) in ticked else Qt.CheckState.Unchecked)
            item.setToolTip(model.label)
            self.addItem(item)
        self.blockSignals(False)
        self.changed.emit()

    def models(self) -> list["EvalModel"]:
        return list(self._models)

    def checked(self) -> list["EvalModel"]:
        return [m for i, m in enumerate(self._models) if self.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, labels: list[str]) -> None:
        """Tick the models with these labels (and untick the others)."""
        for i, model in enumerate(self._models):
            self.item(i).setCheckState(Qt.CheckState.Checked if model.label in labels else Qt.CheckState.Unchecked)
