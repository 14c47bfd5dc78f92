"""Where the Train page's parts sit: what to train and the basics side by side, the checks under
them, Advanced below its toggle, and the commands in a bar that stays in view."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.page import heading, hint


def action(page: QWidget, text: str, keys: str, slot: Any) -> QAction:
    """A page command with its shortcut, active while the page is on screen."""
    act = QAction(text, page)
    act.setShortcut(QKeySequence(keys))
    act.setToolTip(f"{text.rstrip('…')} ({shortcut_text(act)})")
    act.triggered.connect(lambda _checked=False: slot())
    page.addAction(act)
    return act


def shortcut_text(act: QAction) -> str:
    return act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


def button(act: QAction, primary: bool = False) -> QPushButton:
    """A button that is the action: it triggers it and follows its enabled state and tooltip."""
    b = QPushButton(act.text())
    if primary:
        b.setObjectName("primary")
        b.setDefault(True)
    b.clicked.connect(act.trigger)

    def sync() -> None:
        b.setEnabled(act.isEnabled())
        b.setToolTip(act.toolTip())

    act.changed.connect(sync)
    sync()
    return b


def label(object_name: str, rich: bool = True) -> QLabel:
    lab = QLabel()
    lab.setObjectName(object_name)
    lab.setWordWrap(True)
    if rich:
        lab.setTextFormat(Qt.TextFormat.RichText)
    return lab


def lay_out(page: Any) -> None:
    """Place the page's widgets (made in TrainPage.__init__)."""
    what = QGroupBox("What to train")
    what_form = QFormLayout(what)
    what_form.addRow("Base model:", page.model_combo)
    what_form.addRow("Dataset version:", page.dataset_combo)
    what_form.addRow("Run name:", page.name_edit)
    start_label = QLabel("Start from:")
    start_label.setToolTip(page.start_from.toolTip())
    what_form.addRow(start_label, page.start_from)
    preset_label = QLabel("Preset:")
    preset_label.setToolTip(page.preset_combo.toolTip())
    what_form.addRow(preset_label, page.preset_combo)
    page.checks = QGroupBox("Before you start")
    checks = QVBoxLayout(page.checks)
    checks.addWidget(page.memory)
    checks.addWidget(page.fit_label)
    checks.addWidget(page.part_warning)
    checks.addStretch(1)
    left = QVBoxLayout()
    left.addWidget(what)
    left.addWidget(page.gate_box)
    left.addWidget(page.checks, 1)
    columns = QHBoxLayout()
    columns.addLayout(left, 3)
    columns.addWidget(page.form.basics, 2)

    page.advanced_button = QToolButton()
    page.advanced_button.setObjectName("advancedToggle")
    page.advanced_button.setDefaultAction(page.advanced_action)
    page.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    page.advanced_button.setAutoRaise(True)
    page.advanced = QWidget()
    page.advanced.setObjectName("advancedSettings")
    grid = QGridLayout(page.advanced)
    grid.setContentsMargins(0, 0, 0, 0)
    g = page.form.groups
    grid.addWidget(g["Adapter"], 0, 0)
    grid.addWidget(g["Data"], 1, 0)
    grid.addWidget(g["Optimiser"], 0, 1)
    grid.addWidget(g["Machine"], 1, 1)
    grid.addWidget(g["Evaluation & checkpoints"], 0, 2, 2, 1)
    for col in range(3):
        grid.setColumnStretch(col, 1)

    top = QHBoxLayout()
    top.addWidget(heading("Train a LoRA adapter"))
    top.addStretch(1)
    for act in (page.load_action, page.save_action, page.copy_action):
        top.addWidget(button(act))
    body = QWidget()
    body_layout = QVBoxLayout(body)
    body_layout.addLayout(top)
    body_layout.addWidget(hint("Training runs in a separate process: you can keep working, close the window, "
                               "and come back to it later. Hover any setting for what it does and a good value."))
    body_layout.addLayout(columns)
    body_layout.addWidget(page.advanced_button, 0, Qt.AlignmentFlag.AlignLeft)
    body_layout.addWidget(page.advanced)
    body_layout.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setWidget(body)
    page.scroll = scroll

    bar = QWidget()
    bar.setObjectName("trainActions")
    bar_layout = QVBoxLayout(bar)
    bar_layout.setContentsMargins(9, 4, 9, 9)
    bar_layout.addWidget(page.validation_label)
    row = QHBoxLayout()
    info = QVBoxLayout()
    info.addWidget(page.estimate_label)
    info.addWidget(page.queue_label)
    row.addLayout(info, 1)
    row.addWidget(page.queue_button)
    row.addWidget(page.start_button)
    bar_layout.addLayout(row)
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    layout.addWidget(scroll, 1)
    layout.addWidget(bar)


def confirm_test_part(parent: QWidget, title: str) -> bool:
    """Ask before training on a test part."""
    box = QMessageBox(parent)
    box.setObjectName("testPartQuestion")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Train on the test part?")
    box.setText(f"{title} is the test part of a split.")
    box.setInformativeText("Test rows are kept for the final evaluation: a model trained on them scores "
                           "well on them without being any better. Train on the train part instead?")
    train = box.addButton("Train on the Test Part", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is train
