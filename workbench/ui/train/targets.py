"""The target-modules knob: the architecture's default, all-linear, or the layers a user checks
from the model's own linear layer names (read from its weight files in a worker)."""

from __future__ import annotations

from typing import Optional, Union

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from workbench.core.train_config import ALL_LINEAR
from workbench.ui.common.errors import describe
from workbench.ui.common.workers import Task, run_task

DEFAULT, CHOOSE = "default", "choose"
MODES = (("architecture default", DEFAULT), (ALL_LINEAR, ALL_LINEAR), ("choose layers…", CHOOSE))


class TargetModulesEdit(QWidget):
    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("targetModulesMode")
        for text, mode in MODES:
            self.mode_combo.addItem(text, mode)
        self.layer_list = QListWidget()
        self.layer_list.setObjectName("targetLayers")
        self.layer_list.setMaximumHeight(110)
        self.note = QLabel()
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addWidget(self.mode_combo)
        layout.addWidget(self.layer_list)
        layout.addWidget(self.note)
        self.model_path: Optional[str] = None
        self.task: Optional[Task] = None
        self._names: dict[str, list[str]] = {}  # model folder -> its layer names
        self._errors: dict[str, str] = {}
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self.layer_list.itemChanged.connect(lambda _item: self.changed.emit())
        self._show_mode()

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt's name
        super().setToolTip(tip)
        self.mode_combo.setToolTip(tip)
        self.layer_list.setToolTip(tip)

    # -- value -----------------------------------------------------------------------------------
    def value(self) -> Union[None, str, list[str]]:
        mode = self.mode_combo.currentData()
        if mode == DEFAULT:
            return None
        if mode == ALL_LINEAR:
            return ALL_LINEAR
        return [self.layer_list.item(i).text() for i in range(self.layer_list.count())
                if self.layer_list.item(i).checkState() == Qt.CheckState.Checked]

    def set_value(self, value: Union[None, str, list[str]]) -> None:
        mode = DEFAULT if value is None else ALL_LINEAR if value == ALL_LINEAR else CHOOSE
        chosen = list(value) if isinstance(value, list) else []
        blocked = self.blockSignals(True)
        self.mode_combo.setCurrentIndex(self.mode_combo.findData(mode))
        self._fill(chosen)
        self.blockSignals(blocked)
        self._show_mode()

    # -- the model's layer names -----------------------------------------------------------------
    def set_model(self, path: Optional[str]) -> None:
        """Offer the layers of the model at `path` (read in a worker, once per folder)."""
        if path == self.model_path:
            return
        self.model_path = path
        if path and path not in self._names and path not in self._errors:
            from workbench.services import models

            self.cancel()
            task = run_task(models.linear_layer_names, path, name="layer names")
            self.task = task
            task.finished.connect(lambda names: self._arrived(path, names, None))
            task.failed.connect(lambda exc: self._arrived(path, None, exc))
            task.done.connect(lambda: self._done(task))
        self._refill()

    def model_layers(self) -> Optional[list[str]]:
        return self._names.get(self.model_path or "")

    def _arrived(self, path: str, names: Optional[list[str]], exc: Optional[BaseException]) -> None:
        if names is not None:
            self._names[path] = names
        else:
            message, advice, _ = describe(exc)  # type: ignore[arg-type]
            self._errors[path] = f"{message} {advice}".strip()
        if path == self.model_path:
            self._refill()

    def _done(self, task: Task) -> None:
        if self.task is task:
            self.task = None

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def _refill(self) -> None:
        chosen = self.value() if self.mode_combo.currentData() == CHOOSE else []
        blocked = self.blockSignals(True)
        self._fill(chosen or [])
        self.blockSignals(blocked)
        self._show_mode()

    def _fill(self, chosen: list[str]) -> None:
        """The model's names, then any chosen name it does not have (a file's or a run's
        choice is kept, never dropped); the chosen ones checked."""
        names = list(self.model_layers() or [])
        names += [n for n in chosen if n not in names]
        self.layer_list.blockSignals(True)
        self.layer_list.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in chosen else Qt.CheckState.Unchecked)
            self.layer_list.addItem(item)
        self.layer_list.blockSignals(False)

    def _mode_changed(self) -> None:
        self._show_mode()
        self.changed.emit()

    def _show_mode(self) -> None:
        choose = self.mode_combo.currentData() == CHOOSE
        self.layer_list.setVisible(choose)
        path = self.model_path or ""
        if not choose:
            note = ""
        elif path in self._errors:
            note = self._errors[path]
        elif self.task is not None and path not in self._names:
            note = "Reading the model's layer names…"
        elif self.model_layers() is not None:
            missing = [n for n in (self.value() or []) if n not in (self.model_layers() or [])]
            note = (f"Not layers of this model: {', '.join(missing)}." if missing
                    else "The model's linear layers; check the ones to adapt.")
        else:
            note = "Pick a base model to list its layers."
        self.note.setText(note)
        self.note.setVisible(bool(note))
