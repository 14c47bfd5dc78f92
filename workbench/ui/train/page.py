"""Train: choose a base model and a dataset version, set the LoRA options, start or queue a run.

Basics first; the other knobs sit behind "Advanced" (its state is remembered). Every knob has
a tooltip (knobs.py); TrainConfig.problems() marks the knobs to fix and blocks Start; the memory
verdict (memory_panel.py), the max-length check (fit.py) and the tool-calling check (tool_check.py)
follow the form as the user types.
"""

from __future__ import annotations

import dataclasses
import html
import math
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLineEdit, QWidget

from workbench.core.train_config import ConfigProblem, TrainConfig
from workbench.ui.common import settings, theme
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page
from workbench.ui.common.workers import Task
from workbench.ui.shell.context import ProjectContext
from workbench.ui.train import settings_files
from workbench.ui.train.fit import FitCheck
from workbench.ui.train.form import ConfigForm
from workbench.ui.train import layout
from workbench.ui.train.layout import action, button, label, lay_out
from workbench.ui.train.memory_panel import MemoryPanel
from workbench.ui.train.quantization import QuantizationCheck
from workbench.ui.train.gate_box import GateBox
from workbench.ui.train.method import StartFromCombo, follow_method, method_problem
from workbench.ui.train.tool_check import ToolCheck

if TYPE_CHECKING:
    from workbench.services.train_form import TrainChoices

ADVANCED_KEY = "train/advanced_open"


class TrainPage(Page):
    title = "Train"
    run_started = Signal(str)  # run id
    runs_requested = Signal()  # "show me the queue": the window shows the Runs page

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.form = ConfigForm()
        w = self.form.widgets
        # The names the rest of the app and its tests use for the basic knobs.
        self.r_spin, self.alpha_spin, self.dropout_spin = w["r"], w["alpha"], w["dropout"]
        self.lr_edit, self.epochs_spin, self.steps_spin = w["learning_rate"], w["epochs"], w["max_steps"]
        self.batch_spin, self.length_spin, self.seed_spin = w["batch_size"], w["max_length"], w["seed"]
        self.preset_combo = self.form.preset_combo
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("baseModelCombo")
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("datasetCombo")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("runNameEdit")
        self.name_edit.setPlaceholderText("automatic (model-dataset-N)")
        self.start_from = StartFromCombo()  # a new adapter, or a finished run's (SFT before DPO)
        self._choices: Optional["TrainChoices"] = None  # what the combos list
        self._versions: dict[str, Any] = {}  # id -> DatasetVersion of the combo's items
        self._titles: dict[str, str] = {}
        self._model_names: dict[str, str] = {}
        self._model_paths: dict[str, str] = {}
        self.fit = FitCheck(self)
        self.fit.changed.connect(self.validate)
        self.tools = ToolCheck(self)  # tool-calling rows against the model's chat template
        self.tools.changed.connect(self.validate)
        self.memory = MemoryPanel()
        self.memory.shown.connect(self._show_checks)
        self.gate_box = GateBox()  # an eval suite scored on each checkpoint, pass/fail (issue 10)
        self.gate_box.changed.connect(self.validate)

        self.quantization = QuantizationCheck(self)
        self.quantization.changed.connect(self._quantization_known)
        self.start_action = action(self, "Start Training", "Ctrl+Return", self.start)
        self.queue_action = action(self, "Add to Queue", "Ctrl+Shift+Return", self.enqueue)
        self.save_action = action(self, "Save Settings…", "Ctrl+S", self.save_settings)
        self.load_action = action(self, "Load Settings…", "Ctrl+L", self.load_settings)
        self.copy_action = action(self, "Copy Settings from Run…", "Ctrl+Shift+C", self.copy_from_run)
        self.advanced_action = action(self, "Advanced Settings", "Ctrl+Shift+A", lambda: None)
        self.advanced_action.setCheckable(True)
        self.start_button = button(self.start_action, primary=True)
        self.start_button.setMinimumWidth(160)
        self.queue_button = button(self.queue_action)
        self.queue_button.setObjectName("queueButton")
        self.part_warning = label("testPartWarning")
        self.part_warning.hide()
        self.fit_label = label("fitLine", rich=False)
        self.validation_label = label("validation")
        self.estimate_label = label("estimate", rich=False)
        self.estimate_label.setWordWrap(False)
        self.queue_label = label("queueLine")
        self.queue_label.linkActivated.connect(lambda _link: self.runs_requested.emit())
        lay_out(self)
        self.advanced_action.toggled.connect(self._show_advanced)
        self.form.changed.connect(self.validate)
        self.model_combo.currentIndexChanged.connect(self.validate)
        self.model_combo.currentIndexChanged.connect(lambda _i: self._fill_start_from())
        self.dataset_combo.currentIndexChanged.connect(self.validate)
        self.advanced_action.setChecked(settings.settings().value(ADVANCED_KEY, False, type=bool))
        self._show_advanced(self.advanced_action.isChecked())
        self._apply_quantization()
        self.validate()

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self.fit.set_store(ctx.store if ctx else None)
        self.tools.set_store(ctx.store if ctx else None)
        if ctx is not None:
            from workbench.services import train_form

            # A hidden page notes a change and refreshes once when shown (not on every show:
            # the refresh reads the project's models and versions in the GUI thread).
            self.connect_ctx(ctx.datasets_changed, self.refresh_when_shown(self.refresh))
            self.connect_ctx(ctx.models_changed, self.refresh_when_shown(self.refresh))
            self.connect_ctx(ctx.runs_changed, self._show_queue)
            self.connect_ctx(ctx.runs_changed, self.refresh_when_shown(lambda: self._fill_start_from(reload=True)))
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
        self._model_paths = {m.id: m.path for m in models}
        self._titles = choices.titles if choices else {}
        self._versions = {v.id: v for v in versions}
        self._fill(self.model_combo, [(f"{m.name}  ({m.kind})", m.id, m.path) for m in models])
        # Nothing chosen yet: the newest version that is not held out (validation or test).
        self._fill(self.dataset_combo, [
            (self._titles[v.id], v.id, f"Version {v.id} · made {v.created_at[:16].replace('T', ' ')} by {v.created_by}")
            for v in versions], default=choices.default_version_id if choices else None)
        self._fill_start_from()
        self.fit.forget_errors()
        self.tools.forget()
        if self.is_current:
            self.gate_box.load(self.ctx.store if self.ctx else None)
        self._show_queue()
        self.validate()

    def page_shown(self) -> None:
        self.quantization.start()
        self.gate_box.load(self.ctx.store if self.ctx else None)  # suites made on the Evaluate page since
        self.validate()  # the estimates it starts wait for a visible page

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

    def _fill_start_from(self, reload: bool = False) -> None:
        if reload and self._choices is not None and self.ctx is not None:  # a run ended: it may have an adapter
            from workbench.services.train_form import adapter_runs

            self._choices = dataclasses.replace(self._choices, adapter_runs=adapter_runs(self.ctx.store))
        self.start_from.fill(self._choices.start_runs(self.model_combo.currentData()) if self._choices else [])

    def _show_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        settings.settings().setValue(ADVANCED_KEY, on)
        self._follow_model()

    def _quantization_known(self) -> None:
        self._apply_quantization()
        self.validate()

    def _apply_quantization(self) -> None:
        self.form.set_quantization_support(*self.quantization.state())

    # -- form ------------------------------------------------------------------------------------
    def load_config(self, config: TrainConfig) -> None:
        self.form.load(config)

    def _config_problems(self) -> tuple[TrainConfig, list[ConfigProblem]]:
        config, problems = self.form.config()
        unreadable = {p.field for p in problems}
        problems += [p for p in config.problems() if p.field not in unreadable]
        quantization = self.quantization.problem(config)
        if quantization is not None:
            problems.append(quantization)
        return config, problems

    def config(self) -> tuple[Optional[TrainConfig], list[str]]:
        """The form's config (None while a knob is invalid) and the messages of its problems."""
        config, problems = self._config_problems()
        return (None if problems else config), [p.message for p in problems]

    def problems(self) -> list[str]:
        problems = []
        if self.model_combo.currentData() is None:
            problems.append("Add a base model on the Models page first.")
        if self.dataset_combo.currentData() is None:
            problems.append("Import a dataset on the Datasets page first.")
        config, config_problems = self.config()
        problems.extend(config_problems)
        if config is not None:  # every row dropped by max length; a method the version cannot feed
            version = self.selected_version()
            title = self._titles.get(version.id, "") if version is not None else ""
            problems += [p for p in (self.fit.problem(config.max_length), method_problem(config, version, title)) if p]
        tools = self.tools.problem()
        if tools:
            problems.append(tools)
        gate = self.gate_box.problem()
        if gate:
            problems.append(gate)
        return problems

    def selected_version(self) -> Any:
        return self._versions.get(self.dataset_combo.currentData())

    def _model_path(self) -> Optional[str]:
        return self._model_paths.get(self.model_combo.currentData())

    def _follow_model(self) -> None:
        # The layer list is read only when it can be seen (Advanced open, the page on screen).
        if self.advanced.isVisible():
            self.form.widgets["target_modules"].set_model(self._model_path())

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
            self.tools.want(self.dataset_combo.currentData(), self.model_combo.currentData())
        model = self._model_names.get(self.model_combo.currentData(), "the model")
        self.fit_label.setText(self.fit.text(self.length_spin.value(), model))
        self.fit_label.setVisible(bool(self.fit_label.text()))

    def _show_notes(self, config: TrainConfig) -> None:
        self.form.set_note("grad_accum", f"Effective batch: {config.batch_size} × {config.grad_accum} = "
                                         f"{config.effective_batch:,}")
        version = self.selected_version()
        note = tip = ""
        if version is not None and config.eval_steps > 0:
            val = self._choices.validation_parts.get(version.id) if self._choices else None
            if val is not None:
                note = f"On its validation part ({val.row_count:,} rows)"
            else:
                note = "No validation part: nothing is evaluated"
                tip = ("This version is not the train part of a split. Split it on the Datasets page "
                       "and train on its train part to see an evaluation loss.")
        self.form.set_note("eval_steps", note, tip)

    def validate(self) -> list[str]:
        self._update_fit()
        self._show_part_warning()
        self._follow_model()
        config, config_problems = self._config_problems()
        self.form.mark(config_problems)
        follow_method(self.form, config)
        self._show_notes(config)
        problems = self.problems()
        color = theme.colors().error_text
        if problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
            self.validation_label.setText(f"<ul style='color:{color}; margin:0'>{items}</ul>")
        self.validation_label.setVisible(bool(problems))
        ok = not problems and self.ctx is not None
        for command in (self.start_action, self.queue_action):
            command.setEnabled(ok)
        first = problems[0] if problems else ("Open a project first." if self.ctx is None else "")
        self.start_action.setToolTip(first or "Start training now (Ctrl+Return)")
        self.queue_action.setToolTip(first or "Start it when the runs before it have ended (Ctrl+Shift+Return)")
        self.estimate_label.setText(self._estimate())
        if self.isVisible():
            self.memory.request(self._model_path(), None if config_problems else config)
        self._show_checks()
        return problems

    def _show_checks(self) -> None:
        """The "Before you start" box only when it has something to say."""
        self.checks.setVisible(any(bool(w.text()) for w in (
            self.memory.verdict_label, self.fit_label, self.part_warning)))

    def _estimate(self) -> str:
        version = self.selected_version()
        if self.ctx is None or version is None:
            return ""
        rows = version.row_count
        counts = self.fit.counts(self.length_spin.value())
        usable = counts.usable if counts is not None else rows  # dropped rows make no steps
        batch = max(self.batch_spin.value(), 1)
        per = TrainConfig(method=self.form.widgets["method"].currentData() or "sft").rows_per_example
        if self.steps_spin.value() > 0:
            steps = self.steps_spin.value()
        else:
            steps = math.ceil(usable * per / batch * self.epochs_spin.value())
        noun = "pairs" if version.kind == "preference" else "conversations"
        kept = f"{usable:,} of {rows:,} {noun} kept" if usable != rows else f"{rows:,} {noun}"
        return f"{kept}{f' ({usable * per:,} rows)' if per > 1 else ''} · about {steps:,} optimisation steps"

    def _show_queue(self) -> None:
        waiting = len(self.ctx.runs.queued_run_ids()) if self.ctx is not None else 0
        link = "<a href='runs'>show the queue</a>"
        self.queue_label.setText(f"{waiting} run{'s' if waiting != 1 else ''} waiting in the queue · {link}"
                                 if waiting else "")
        self.queue_label.setVisible(bool(waiting))

    def theme_changed(self) -> None:
        self.memory.theme_changed()
        self.validate()

    # -- commands --------------------------------------------------------------------------------
    def start(self) -> Optional[str]:
        """Start the run; returns its id (None when the form is invalid or starting failed)."""
        return self._launch(queue=False)

    def enqueue(self) -> Optional[str]:
        """Queue the run to start after the ones before it; returns its id (or None)."""
        return self._launch(queue=True)

    def _launch(self, queue: bool) -> Optional[str]:
        config, _problems = self.config()
        if self.ctx is None or config is None or self.problems():
            self.validate()
            return None
        version = self.selected_version()
        if version is not None and version.derivation.is_test_part and \
                not self.confirm_test_part(self._titles.get(version.id, "")):
            return None
        try:
            run = self.ctx.runs.start(self.dataset_combo.currentData(), self.model_combo.currentData(),
                                      config, name=self.name_edit.text().strip() or None, queue=queue,
                                      init_run_id=self.start_from.init_run_id())
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Could not queue the run" if queue else "Could not start training")
            return None
        gate = self.gate_box.gate()
        if gate is not None:
            from workbench.services import gate_form

            try:
                gate_form.attach(self.ctx.store, run.id, *gate)
            except Exception as exc:  # noqa: BLE001 - the run goes on; the user is told
                show_error(self, exc, "The run started, but its regression gate could not be attached")
        self.name_edit.clear()
        self.ctx.runs_changed.emit()
        self._show_queue()
        if not queue:
            self.run_started.emit(run.id)
        return run.id

    def confirm_test_part(self, title: str) -> bool:
        """Ask before training on a test part (tests replace this method)."""
        return layout.confirm_test_part(self, title)

    # -- settings files and runs (settings_files.py) ---------------------------------------------
    def save_settings(self, path: Optional[str] = None) -> Optional[Task]:
        return settings_files.save_settings(self, path)

    def load_settings(self, path: Optional[str] = None) -> Optional[Task]:
        return settings_files.load_settings(self, path)

    def copy_from_run(self) -> None:
        settings_files.copy_from_run(self)

    def model_name(self, model_id: str) -> Optional[str]:
        return self._model_names.get(model_id)

    def exec_dialog(self, dialog: Any) -> bool:
        """Run a modal dialog (tests replace this to answer it)."""
        return bool(dialog.exec())

    def shutdown(self) -> None:
        self.fit.cancel()
        self.tools.cancel()
        self.memory.cancel()
        self.form.widgets["target_modules"].cancel()
        self.quantization.cancel()
        self.gate_box.cancel()

