"""The Train form's knobs: one widget per TrainConfig field, built from the tables in knobs.py,
and the way between a TrainConfig and the widgets (load / config) and back to the user
(mark the fields TrainConfig.problems() names)."""

from __future__ import annotations

import dataclasses
import html
from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.train_config import (
    LOSS_MODES,
    PRECISIONS,
    PRESETS,
    QUANTIZATIONS,
    SCHEDULERS,
    TRAINABLE_METHODS,
    ConfigProblem,
    TrainConfig,
    apply_preset,
)
from workbench.ui.common import theme
from workbench.ui.train import knobs
from workbench.ui.train.targets import TargetModulesEdit

FIELD_WIDTH = 150  # numbers need no more; stretched spin boxes read badly
CHOICES = {"lr_scheduler": SCHEDULERS, "precision": PRECISIONS, "quantization": QUANTIZATIONS, "loss_on": LOSS_MODES,
           "method": TRAINABLE_METHODS}
FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]
_DEFAULTS = TrainConfig()
INVALID_TINT = {"light": "#fcd5d5", "dark": "#5a2328"}


def _make_widget(name: str) -> QWidget:
    default = getattr(_DEFAULTS, name)
    w: Any
    if name == "target_modules":
        w = TargetModulesEdit()
    elif name == "learning_rate":
        w = QLineEdit()
        w.setPlaceholderText("e.g. 2e-4")
        w.setFixedHeight(QSpinBox().sizeHint().height())  # in line with the spin boxes
    elif name in CHOICES:
        w = QComboBox()
        for value in CHOICES[name]:
            w.addItem(knobs.CHOICE_LABELS[name].get(value, value), value)
    elif isinstance(default, bool):
        w = QCheckBox(knobs.CHECK_TEXTS[name])
    elif isinstance(default, int):
        w = QSpinBox()
        lo, hi, step = knobs.INT_RANGES[name]
        w.setRange(lo, hi)
        w.setSingleStep(step)
        w.setGroupSeparatorShown(name not in ("seed",))
    else:
        w = QDoubleSpinBox()
        lo, hi, step, decimals = knobs.FLOAT_RANGES[name]
        w.setDecimals(decimals)
        w.setRange(lo, hi)
        w.setSingleStep(step)
    if name in knobs.SPECIAL_ZERO:
        w.setSpecialValueText(knobs.SPECIAL_ZERO[name])
    if isinstance(w, QComboBox):
        w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    elif not isinstance(w, (QCheckBox, TargetModulesEdit)):
        w.setFixedWidth(FIELD_WIDTH)
    w.setObjectName(f"knob_{name}")
    w.setToolTip(knobs.tooltip(name))
    return w


class ConfigForm(QWidget):
    """The knobs; `changed` on every edit by the user (not while a config is loaded)."""

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.widgets: dict[str, QWidget] = {name: _make_widget(name) for name in FIELDS}
        self.labels: dict[str, QLabel] = {}
        self.notes: dict[str, QLabel] = {}  # a line under a knob the page fills in
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("presetCombo")
        self.preset_combo.setToolTip(knobs.PRESET_TIP)
        for name in (*PRESETS, knobs.CUSTOM):
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, knobs.PRESET_TIPS[name],
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setMaximumWidth(FIELD_WIDTH)
        self.preset_combo.activated.connect(self._preset_picked)
        self._loading = False
        self.basics = QGroupBox("Training")
        self._fill_group(self.basics, knobs.BASIC_FIELDS)
        self.groups: dict[str, QGroupBox] = {}
        for title, names in knobs.ADVANCED_GROUPS:
            box = QGroupBox(title)
            box.setObjectName("advancedGroup")
            self._fill_group(box, names)
            self.groups[title.replace("&&", "&")] = box
        for name in FIELDS:
            self._connect(name)
        self.load(_DEFAULTS)

    def _fill_group(self, box: QGroupBox, names: tuple[str, ...]) -> None:
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        for name in names:
            widget = self.widgets[name]
            note = QLabel()
            note.setObjectName("hint")
            note.hide()  # one line: a wrapped label in a form row can be clipped as the page shrinks
            self.notes[name] = note
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            # Numbers and choices keep their own width; the layer list takes the row.
            column.addWidget(widget, 0, Qt.AlignmentFlag(0) if isinstance(widget, TargetModulesEdit)
                             else Qt.AlignmentFlag.AlignLeft)
            column.addWidget(note)
            if isinstance(widget, QCheckBox):
                form.addRow(cell)
            else:
                label = QLabel(knobs.LABELS[name] + ":")
                label.setToolTip(knobs.tooltip(name))
                label.setBuddy(widget)
                self.labels[name] = label
                form.addRow(label, cell)

    def _connect(self, name: str) -> None:
        w = self.widgets[name]
        if isinstance(w, TargetModulesEdit):
            signal = w.changed
        elif isinstance(w, QLineEdit):
            signal = w.textChanged
        elif isinstance(w, QComboBox):
            signal = w.currentIndexChanged
        elif isinstance(w, QCheckBox):
            signal = w.toggled
        else:
            signal = w.valueChanged
        signal.connect(self._edited)

    def _edited(self, *_args: Any) -> None:
        if not self._loading:
            self._show_preset()
            self.changed.emit()

    # -- config <-> widgets ----------------------------------------------------------------------
    def load(self, config: TrainConfig) -> None:
        """Show `config` (one `changed` after, not one per knob)."""
        self._loading = True
        try:
            for name in FIELDS:
                self._set(name, getattr(config, name))
        finally:
            self._loading = False
        self._show_preset()
        self.changed.emit()

    def _set(self, name: str, value: Any) -> None:
        w: Any = self.widgets[name]
        if isinstance(w, TargetModulesEdit):
            w.set_value(value)
        elif isinstance(w, QLineEdit):
            w.setText(knobs.number_text(value))
        elif isinstance(w, QComboBox):
            index = w.findData(value)
            if index < 0:  # a value this form does not offer: show it, problems() says what is wrong
                w.addItem(str(value), value)
                index = w.count() - 1
            w.setCurrentIndex(index)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        else:
            w.setValue(value)

    def value(self, name: str) -> Any:
        w: Any = self.widgets[name]
        if isinstance(w, TargetModulesEdit):
            return w.value()
        if isinstance(w, QLineEdit):
            return float(w.text().strip())  # ValueError: config() reports it
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        return w.value()

    def config(self) -> tuple[TrainConfig, list[ConfigProblem]]:
        """The form's config and the values that could not be read (their default stands in)."""
        values: dict[str, Any] = {}
        unreadable: list[ConfigProblem] = []
        for name in FIELDS:
            try:
                values[name] = self.value(name)
            except ValueError:
                unreadable.append(ConfigProblem(name, f"{knobs.LABELS[name]} must be a number, e.g. 2e-4."))
        return TrainConfig(**values), unreadable

    # -- presets ---------------------------------------------------------------------------------
    def _preset_picked(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name in PRESETS:
            self.load(apply_preset(self.config()[0], name))
        else:
            self._show_preset()  # "custom" is what the values are, not something to apply

    def _show_preset(self) -> None:
        name = knobs.matching_preset(self.config()[0])
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(name))

    # -- feedback --------------------------------------------------------------------------------
    def mark(self, problems: list[ConfigProblem]) -> None:
        """Mark each knob a problem names, and its label (the page lists the messages): the
        dynamic property "invalid" for the stylesheets, and a tinted background for spin boxes
        and combo boxes, whose arrows a stylesheet border would replace."""
        bad = {p.field for p in problems}
        tint = QColor(INVALID_TINT[theme.current_theme()])
        for name, w in self.widgets.items():
            target = w.mode_combo if isinstance(w, TargetModulesEdit) else w
            on = name in bad
            for widget in (target, self.labels.get(name)):
                if widget is not None and bool(widget.property("invalid")) != on:
                    widget.setProperty("invalid", on)
                    widget.style().unpolish(widget)
                    widget.style().polish(widget)
            if isinstance(target, (QAbstractSpinBox, QComboBox)):
                palette = QPalette()  # nothing set: every colour from the parent (the theme)
                if on:
                    palette.setColor(QPalette.ColorRole.Base, tint)
                    palette.setColor(QPalette.ColorRole.Button, tint)
                target.setPalette(palette)

    def invalid_fields(self) -> list[str]:
        return [n for n, w in self.widgets.items()
                if (w.mode_combo if isinstance(w, TargetModulesEdit) else w).property("invalid")]

    def set_note(self, name: str, text: str, tip: str = "") -> None:
        note = self.notes[name]
        note.setText(text)
        note.setToolTip(tip)
        note.setVisible(bool(text))

    def set_quantization_support(self, available: Optional[bool], reason: str) -> None:
        """4-bit and 8-bit are offered only where CUDA and bitsandbytes are (None: still checking)."""
        combo: Any = self.widgets["quantization"]
        model = combo.model()
        assert isinstance(model, QStandardItemModel)
        for i in range(combo.count()):
            if combo.itemData(i) == "none":
                continue
            item = model.item(i)
            item.setEnabled(bool(available))
            why = "" if available else (reason or "Checking for CUDA and bitsandbytes…")
            item.setToolTip(why)
        off = "" if available else ("<b>4-bit and 8-bit are off here:</b> "
                                    + html.escape(reason or "checking for CUDA and bitsandbytes…"))
        combo.setToolTip(knobs.tooltip("quantization", off))
        self.labels["quantization"].setToolTip(combo.toolTip())
