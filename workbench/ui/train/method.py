"""How a run trains, beyond the knobs: where its adapter starts (a new one on the base model, or
a finished run's adapter, e.g. SFT before DPO), and what the chosen method asks of the data
(DPO needs a preference version). The Method and Beta knobs themselves are form fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from workbench.core.train_config import METHOD_NAMES, TrainConfig

if TYPE_CHECKING:
    from workbench.core.records import Run

BASE = "Base model (a new adapter)"
START_TIP = ("<b>Start from</b><br>A new adapter on the base model, or the adapter of one of its finished "
             "runs, trained further. DPO usually starts from an SFT run: that run's model is then also DPO's "
             "reference.<br><br><b>Good value:</b> the base model for SFT; your SFT run for DPO.")


class StartFromCombo(QComboBox):
    """The base model (data None) or a run of it with a saved adapter (data: the run id)."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("startFromCombo")
        self.setToolTip(START_TIP)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.fill([])

    def fill(self, runs: list["Run"]) -> None:
        """List `runs` (those of the chosen base model), keeping the choice when it is still listed."""
        keep = self.currentData()
        self.blockSignals(True)
        self.clear()
        self.addItem(BASE, None)
        for run in runs:
            config = run.train_config
            self.addItem(f"{run.name}  ({METHOD_NAMES.get(config.method, config.method)}, {run.step:,} steps)",
                         run.id)
            self.setItemData(self.count() - 1, f"The adapter run {run.name} saved ({run.status})",
                             Qt.ItemDataRole.ToolTipRole)
        index = self.findData(keep)
        self.setCurrentIndex(index if index >= 0 else 0)
        self.blockSignals(False)

    def init_run_id(self) -> Optional[str]:
        return self.currentData()

    def choose(self, run_id: Optional[str]) -> bool:
        index = self.findData(run_id)
        if index >= 0:
            self.setCurrentIndex(index)
        return index >= 0


def method_problem(config: TrainConfig, version: Any, title: str) -> Optional[str]:
    """Why the chosen method cannot train the chosen version (None when it can)."""
    if config.is_preference and version is not None and version.kind != "preference":
        method = METHOD_NAMES.get(config.method, config.method)
        return (f"{method} trains on preference pairs, but {title} is an SFT version: pick a preference "
                "version, or choose the SFT method.")
    return None


def follow_method(form: Any, config: TrainConfig) -> None:
    """Beta matters to preference methods only: it is greyed out for SFT."""
    on = config.is_preference
    for widget in (form.widgets["beta"], form.labels.get("beta")):
        if widget is not None:
            widget.setEnabled(on)
