"""Train: choose a base model and a dataset version, set the LoRA options, start a run."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.records import TrainConfig
from workbench.ui.common import theme
from workbench.ui.shell.context import ProjectContext
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading, hint
from workbench.ui.train.fit import FitCheck

if TYPE_CHECKING:
    from workbench.services.train_form import TrainChoices


FIELD_WIDTH = 170  # numbers need no more; stretched spin boxes read badly

TIPS = (
    "<b>Rank r</b> sets the adapter's capacity: 8–16 suits a few hundred conversations. "
    "<b>Alpha</b> scales its update; 2 × r is a good start.<br><br>"
    "<b>Learning rate</b>: 1e-4–5e-4 for real models; the tiny demo model likes 5e-3.<br><br>"
    "<b>Max steps</b> overrides epochs. The loss curve on the Runs page shows whether more "
    "steps help; stop a run any time, its adapter is saved."
)


def _spin(lo: int, hi: int, value: int, tip: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    box.setMaximumWidth(FIELD_WIDTH)
    return box


class TrainPage(Page):
    title = "Train"
    run_started = Signal(str)  # run id

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        d = TrainConfig()
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("baseModelCombo")
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("datasetCombo")
        self._choices: Optional["TrainChoices"] = None  # what the combos list
        self._versions: dict[str, object] = {}  # id -> DatasetVersion of the combo's items
        self._titles: dict[str, str] = {}
        self._model_names: dict[str, str] = {}
        self.fit = FitCheck(self)
        self.fit.changed.connect(self.validate)
        # Ranges admit invalid values on purpose: TrainConfig.validate() is the one judge and
        # its messages, shown inline, tell the user what to change.
        self.r_spin = _spin(0, 1024, d.r, "LoRA rank: the size of the low-rank update (4-64).")
        self.alpha_spin = _spin(0, 4096, d.alpha, "LoRA alpha: scales the update (often 2 × r).")
        self.dropout_spin = QDoubleSpinBox()
        self.dropout_spin.setRange(0.0, 1.0)
        self.dropout_spin.setSingleStep(0.05)
        self.dropout_spin.setDecimals(2)
        self.dropout_spin.setValue(d.dropout)
        self.dropout_spin.setMaximumWidth(FIELD_WIDTH)
        self.lr_edit = QLineEdit(f"{d.learning_rate:g}")
        self.lr_edit.setToolTip("Learning rate, e.g. 2e-4.")
        self.lr_edit.setMaximumWidth(FIELD_WIDTH)
        self.epochs_spin = QDoubleSpinBox()
        self.epochs_spin.setRange(0.0, 1000.0)
        self.epochs_spin.setSingleStep(0.5)
        self.epochs_spin.setDecimals(2)
        self.epochs_spin.setValue(d.epochs)
        self.epochs_spin.setMaximumWidth(FIELD_WIDTH)
        self.steps_spin = _spin(0, 10_000_000, d.max_steps, "When set, overrides epochs.")
        self.steps_spin.setSpecialValueText("use epochs")
        self.batch_spin = _spin(0, 4096, d.batch_size)
        self.length_spin = _spin(0, 131072, d.max_length, "Longer conversations are truncated.")
        self.length_spin.setSingleStep(64)
        self.seed_spin = _spin(0, 2**31 - 1, d.seed)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("runNameEdit")
        self.name_edit.setPlaceholderText("automatic (model-dataset-N)")

        data_box = QGroupBox("What to train")
        data_form = QFormLayout(data_box)
        data_form.addRow("Base model:", self.model_combo)
        data_form.addRow("Dataset version:", self.dataset_combo)
        data_form.addRow("Run name:", self.name_edit)
        lora_box = QGroupBox("LoRA")
        lora_form = QFormLayout(lora_box)
        lora_form.addRow("Rank r:", self.r_spin)
        lora_form.addRow("Alpha:", self.alpha_spin)
        lora_form.addRow("Dropout:", self.dropout_spin)
        opt_box = QGroupBox("Optimisation")
        opt_form = QFormLayout(opt_box)
        opt_form.addRow("Learning rate:", self.lr_edit)
        opt_form.addRow("Epochs:", self.epochs_spin)
        opt_form.addRow("Max steps:", self.steps_spin)
        opt_form.addRow("Batch size:", self.batch_spin)
        opt_form.addRow("Max length (tokens):", self.length_spin)
        opt_form.addRow("Seed:", self.seed_spin)

        self.part_warning = QLabel()
        self.part_warning.setObjectName("testPartWarning")
        self.part_warning.setWordWrap(True)
        self.part_warning.setTextFormat(Qt.TextFormat.RichText)
        self.part_warning.hide()
        self.fit_label = QLabel()
        self.fit_label.setObjectName("fitLine")
        self.fit_label.setWordWrap(True)
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("estimate")
        self.validation_label = QLabel()
        self.validation_label.setObjectName("validation")
        self.validation_label.setWordWrap(True)
        self.validation_label.setTextFormat(Qt.TextFormat.RichText)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primary")
        self.start_button.setDefault(True)
        self.start_button.setMinimumWidth(160)
        self.start_button.clicked.connect(self.start)

        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(data_box)
        left.addWidget(lora_box)
        left.addStretch(1)
        tips_box = QGroupBox("Tips")
        tips = QLabel(TIPS)
        tips.setObjectName("hint")
        tips.setWordWrap(True)
        tips.setTextFormat(Qt.TextFormat.RichText)
        QVBoxLayout(tips_box).addWidget(tips)
        right = QVBoxLayout()
        right.addWidget(opt_box)
        right.addWidget(tips_box)
        right.addStretch(1)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.estimate_label, 1)
        actions.addWidget(self.start_button)
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.addWidget(heading("Train a LoRA adapter"))
        body_layout.addWidget(hint("Training runs in a separate process: you can keep working, "
                                   "close the window, and come back to it later."))
        body_layout.addLayout(columns)
        body_layout.addWidget(self.part_warning)
        body_layout.addWidget(self.fit_label)
        body_layout.addWidget(self.validation_label)
        body_layout.addLayout(actions)
        body_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        for spin in (self.r_spin, self.alpha_spin, self.steps_spin, self.batch_spin,
                     self.length_spin, self.seed_spin):
            spin.valueChanged.connect(self.validate)
        for dspin in (self.dropout_spin, self.epochs_spin):
            dspin.valueChanged.connect(self.validate)
        self.lr_edit.textChanged.connect(self.validate)
        self.model_combo.currentIndexChanged.connect(self.validate)
        self.dataset_combo.currentIndexChanged.connect(self.validate)
        self.validate()

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self.fit.set_store(ctx.store if ctx else None)
        if ctx is not None:
            from workbench.services import train_form

            self.connect_ctx(ctx.datasets_changed, self.refresh)
            self.connect_ctx(ctx.models_changed, self.refresh)
            self.load_config(train_form.last_settings(ctx.store))
        self.refresh()

    def refresh(self) -> None:
        choices = None
        if self.ctx is not None:
            from workbench.services import train_form

            choices = train_form.train_choices(self.ctx.store)
        self._choices = choices
        models = choices.models if choices else []
        versions = choices.versions if choices else []
        self._model_names = {m.id: m.name for m in models}
        self._titles = choices.titles if choices else {}
        self._versions = {v.id: v for v in versions}
        self._fill(self.model_combo, [(f"{m.name}  ({m.kind})", m.id, m.path) for m in models])
        # Nothing chosen yet: the newest version that is not held out (validation or test).
        self._fill(self.dataset_combo, [
            (self._titles[v.id], v.id, f"Version {v.id} · made {v.created_at[:16].replace('T', ' ')} by {v.created_by}")
            for v in versions], default=choices.default_version_id if choices else None)
        self.fit.forget_errors()
        self.validate()

    def page_shown(self) -> None:
        self.refresh()

    @staticmethod
    def _fill(combo: QComboBox, items: list[tuple[str, str, str]], default: Optional[str] = None) -> None:
        keep = combo.currentData() if combo.currentData() is not None else default
        combo.blockSignals(True)
        combo.clear()
        for text, value, tip in items:
            combo.addItem(text, value)
            combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        index = combo.findData(keep)
        combo.setCurrentIndex(index if index >= 0 else (0 if items else -1))
        combo.blockSignals(False)

    # -- form ------------------------------------------------------------------------------------
    def load_config(self, config: TrainConfig) -> None:
        self.r_spin.setValue(config.r)
        self.alpha_spin.setValue(config.alpha)
        self.dropout_spin.setValue(config.dropout)
        self.lr_edit.setText(f"{config.learning_rate:g}")
        self.epochs_spin.setValue(config.epochs)
        self.steps_spin.setValue(config.max_steps)
        self.batch_spin.setValue(config.batch_size)
        self.length_spin.setValue(config.max_length)
        self.seed_spin.setValue(config.seed)

    def config(self) -> tuple[Optional[TrainConfig], list[str]]:
        problems = []
        try:
            lr = float(self.lr_edit.text().strip())
        except ValueError:
            problems.append("Learning rate must be a number, e.g. 2e-4.")
            lr = TrainConfig().learning_rate
        config = TrainConfig(
            r=self.r_spin.value(), alpha=self.alpha_spin.value(), dropout=self.dropout_spin.value(),
            learning_rate=lr, epochs=self.epochs_spin.value(), max_steps=self.steps_spin.value(),
            batch_size=self.batch_spin.value(), max_length=self.length_spin.value(),
            seed=self.seed_spin.value(),
        )
        problems.extend(config.validate())
        return (None if problems else config), problems

    def problems(self) -> list[str]:
        problems = []
        if self.model_combo.currentData() is None:
            problems.append("Add a base model on the Models page first.")
        if self.dataset_combo.currentData() is None:
            problems.append("Import a dataset on the Datasets page first.")
        config, config_problems = self.config()
        problems.extend(config_problems)
        if config is not None:
            dropped_all = self.fit.problem(config.max_length)
            if dropped_all:
                problems.append(dropped_all)
        return problems

    def selected_version(self):
        return self._versions.get(self.dataset_combo.currentData())

    def _show_part_warning(self) -> None:
        version = self.selected_version()
        on = version is not None and version.derivation.is_test_part
        if on:
            train = self._choices.train_part_of(version) if self._choices else None
            instead = f" Train on its train part instead: {html.escape(self._titles[train.id])}." if train else ""
            self.part_warning.setText(
                f"<span style='color:{theme.colors().error_text}'><b>This is the test part of a split.</b></span> "
                "Keep it for the final evaluation: a model trained on its test rows scores well on them "
                f"without being any better.{instead}")
        self.part_warning.setVisible(on)

    def _update_fit(self) -> None:
        # Only what is on screen is measured (the page refreshes when it is shown).
        if self.isVisible():
            self.fit.want(self.dataset_combo.currentData(), self.model_combo.currentData())
        model = self._model_names.get(self.model_combo.currentData(), "the model")
        self.fit_label.setText(self.fit.text(self.length_spin.value(), model))
        self.fit_label.setVisible(bool(self.fit_label.text()))

    def validate(self) -> list[str]:
        self._update_fit()
        self._show_part_warning()
        problems = self.problems()
        color = theme.colors().error_text
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            self.validation_label.setText(f"<ul style='color:{color}; margin:0'>{items}</ul>")
        self.validation_label.setVisible(bool(problems))
        self.start_button.setEnabled(not problems and self.ctx is not None)
        self.estimate_label.setText(self._estimate())
        return problems

    def _estimate(self) -> str:
        version = self.selected_version()
        if self.ctx is None or version is None:
            return ""
        rows = version.row_count
        counts = self.fit.counts(self.length_spin.value())
        usable = counts.usable if counts is not None else rows  # dropped rows make no steps
        batch = max(self.batch_spin.value(), 1)
        if self.steps_spin.value() > 0:
            steps = self.steps_spin.value()
        else:
            steps = math.ceil(usable / batch * self.epochs_spin.value())
        kept = f"{usable:,} of {rows:,} conversations kept" if usable != rows else f"{rows:,} conversations"
        return f"{kept} · about {steps:,} optimisation steps"

    def theme_changed(self) -> None:
        self.validate()

    def start(self) -> Optional[str]:
        """Start the run; returns its id (None when the form is invalid or starting failed)."""
        config, problems = self.config()
        if self.ctx is None or config is None or self.problems():
            self.validate()
            return None
        version = self.selected_version()
        if version is not None and version.derivation.is_test_part and \
                not self.confirm_test_part(self._titles.get(version.id, "")):
            return None
        try:
            run = self.ctx.runs.start(self.dataset_combo.currentData(), self.model_combo.currentData(),
                                      config, name=self.name_edit.text().strip() or None)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Could not start training")
            return None
        self.name_edit.clear()
        self.ctx.runs_changed.emit()
        self.run_started.emit(run.id)
        return run.id

    def confirm_test_part(self, title: str) -> bool:
        """Ask before training on a test part (tests replace this method)."""
        box = QMessageBox(self)
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

    def shutdown(self) -> None:
        self.fit.cancel()
