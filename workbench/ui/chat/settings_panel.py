"""The Chat page's side panel: system prompt, sampling settings (SamplingSettings, its problems
shown inline) and presets per model (services/chat_presets, read and written in a worker)."""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from workbench.core.chat_records import SamplingSettings
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import hint
from workbench.ui.common.workers import Task, run_task

MAX_NEW_TOKENS = 4096
SEED_RANDOM = -1  # the seed box's "random" value (SamplingSettings.seed None)


def _call(fn: Callable[..., Any], *args: Any, progress=None, cancel=None) -> Any:
    """Run a plain service function as a worker task (run_task passes progress and cancel)."""
    return fn(*args)


def parse_stops(text: str) -> tuple[str, ...]:
    """One stop string per line; \\n and \\t written out stand for a line break and a tab."""
    out = []
    for line in text.split("\n"):
        if line.strip():
            out.append(line.replace("\\n", "\n").replace("\\t", "\t"))
    return tuple(out)


def format_stops(stops: tuple[str, ...]) -> str:
    return "\n".join(s.replace("\n", "\\n").replace("\t", "\\t") for s in stops)


def _double(lo: float, hi: float, step: float, value: float, decimals: int, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(lo, hi)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


class SettingsPanel(QWidget):
    """changed(): any setting was edited (the page re-checks what can be sent)."""

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatSettingsPanel")
        self.setMinimumWidth(260)
        self.setMaximumWidth(360)
        self.store: Any = None
        self.target_key: Optional[str] = None
        self.presets: list[Any] = []  # ChatPreset records of the target, by name
        self.tasks: set[Task] = set()
        defaults = SamplingSettings()

        self.system_edit = QPlainTextEdit()
        self.system_edit.setObjectName("chatSystemPrompt")
        self.system_edit.setPlaceholderText("System prompt (optional): how the model should behave.")
        self.system_edit.setFixedHeight(90)
        self.temperature_spin = _double(0.0, 5.0, 0.1, defaults.temperature, 2,
                                        "0 = always the most likely token; higher = more varied.")
        self.top_p_spin = _double(0.0, 1.0, 0.05, defaults.top_p, 2,
                                  "Sample only from the most likely tokens that make up this share (1: off).")
        self.top_k_spin = QSpinBox()
        self.top_k_spin.setRange(0, 1000)
        self.top_k_spin.setValue(defaults.top_k)
        self.top_k_spin.setSpecialValueText("off")
        self.top_k_spin.setToolTip("Sample only from the k most likely tokens (0: off).")
        self.repetition_spin = _double(0.0, 5.0, 0.05, defaults.repetition_penalty, 2,
                                       "Above 1 makes repeating earlier text less likely (1: off).")
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, MAX_NEW_TOKENS)
        self.max_tokens_spin.setValue(defaults.max_new_tokens)
        self.max_tokens_spin.setToolTip("The most tokens one reply may have.")
        self.stop_edit = QPlainTextEdit()
        self.stop_edit.setObjectName("chatStopStrings")
        self.stop_edit.setPlaceholderText("Stop strings, one per line (\\n: a line break)")
        self.stop_edit.setFixedHeight(52)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(SEED_RANDOM, 2**31 - 1)
        self.seed_spin.setValue(SEED_RANDOM)
        self.seed_spin.setSpecialValueText("random")
        self.seed_spin.setToolTip("The same seed and settings give the same reply.")
        self.problems_label = QLabel()
        self.problems_label.setObjectName("chatSettingsProblems")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet("color: #c0392b")
        self.problems_label.hide()

        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("chatPresetCombo")
        self.apply_preset_button = QPushButton("Apply")
        self.apply_preset_button.setToolTip("Use the preset's system prompt and settings.")
        self.apply_preset_button.clicked.connect(self.apply_preset)
        self.save_preset_button = QPushButton("Save as…")
        self.save_preset_button.setToolTip("Keep these settings as a preset of this model.")
        self.save_preset_button.clicked.connect(self.save_preset)
        self.delete_preset_button = QPushButton("Delete")
        self.delete_preset_button.clicked.connect(self.delete_preset)

        form = QFormLayout()
        form.addRow("Temperature", self.temperature_spin)
        form.addRow("Top-p", self.top_p_spin)
        form.addRow("Top-k", self.top_k_spin)
        form.addRow("Repetition penalty", self.repetition_spin)
        form.addRow("Max new tokens", self.max_tokens_spin)
        form.addRow("Seed", self.seed_spin)
        presets = QHBoxLayout()
        presets.addWidget(self.apply_preset_button)
        presets.addWidget(self.save_preset_button)
        presets.addWidget(self.delete_preset_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addWidget(QLabel("<b>Generation settings</b>"))
        layout.addWidget(self.system_edit)
        layout.addLayout(form)
        layout.addWidget(QLabel("Stop strings"))
        layout.addWidget(self.stop_edit)
        layout.addWidget(self.problems_label)
        layout.addSpacing(6)
        layout.addWidget(QLabel("<b>Presets for this model</b>"))
        layout.addWidget(self.preset_combo)
        layout.addLayout(presets)
        layout.addWidget(hint("Settings are kept with each conversation; a reply keeps the ones it was made with."))
        layout.addStretch(1)

        for spin in (self.temperature_spin, self.top_p_spin, self.repetition_spin):
            spin.valueChanged.connect(self._edited)
        for spin in (self.top_k_spin, self.max_tokens_spin, self.seed_spin):
            spin.valueChanged.connect(self._edited)
        self.stop_edit.textChanged.connect(self._edited)
        self.system_edit.textChanged.connect(self.changed)
        self._update_presets()

    # -- settings --------------------------------------------------------------------------------
    def settings(self) -> SamplingSettings:
        seed = self.seed_spin.value()
        return SamplingSettings(
            temperature=round(self.temperature_spin.value(), 4), top_p=round(self.top_p_spin.value(), 4),
            top_k=self.top_k_spin.value(), repetition_penalty=round(self.repetition_spin.value(), 4),
            max_new_tokens=self.max_tokens_spin.value(), stop=parse_stops(self.stop_edit.toPlainText()),
            seed=None if seed == SEED_RANDOM else seed)

    def problems(self) -> list[str]:
        return self.settings().problems()

    def system_prompt(self) -> str:
        return self.system_edit.toPlainText().strip()

    def show_settings(self, settings: SamplingSettings, system_prompt: Optional[str] = None) -> None:
        """Fill the panel (a conversation opened, a preset applied)."""
        self.temperature_spin.setValue(settings.temperature)
        self.top_p_spin.setValue(settings.top_p)
        self.top_k_spin.setValue(settings.top_k)
        self.repetition_spin.setValue(settings.repetition_penalty)
        self.max_tokens_spin.setValue(min(max(settings.max_new_tokens, 1), MAX_NEW_TOKENS))
        self.seed_spin.setValue(SEED_RANDOM if settings.seed is None else settings.seed)
        self.stop_edit.setPlainText(format_stops(settings.stop))
        if system_prompt is not None:
            self.system_edit.setPlainText(system_prompt)
        self._edited()

    def _edited(self) -> None:
        problems = self.problems()
        self.problems_label.setText("\n".join(problems))
        self.problems_label.setVisible(bool(problems))
        self._update_presets()
        self.changed.emit()

    # -- presets (worker tasks) ------------------------------------------------------------------
    def set_target(self, store: Any, target_key: Optional[str]) -> None:
        """Show the presets of this model (None: none loaded)."""
        self.store, self.target_key = store, target_key
        self.presets = []
        self._fill_presets()
        if store is not None and target_key is not None:
            from workbench.services import chat_presets

            self._task(chat_presets.list_presets, store, target_key, done=self._listed)

    def _task(self, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None]) -> Task:
        key = self.target_key
        task = run_task(_call, fn, *args, name="chat presets")
        self.tasks.add(task)
        task.finished.connect(lambda result: self.target_key == key and done(result))
        task.failed.connect(lambda exc: show_error(self, exc, "Chat presets"))
        task.done.connect(lambda: (self.tasks.discard(task), self._update_presets()))
        self._update_presets()
        return task

    @property
    def busy(self) -> bool:
        return any(t.running for t in self.tasks)

    def _listed(self, presets: list) -> None:
        self.presets = list(presets)
        self._fill_presets()

    def _fill_presets(self, select: str = "") -> None:
        current = select or self.preset_combo.currentText()
        self.preset_combo.clear()
        for preset in self.presets:
            self.preset_combo.addItem(preset.name)
        if not self.presets:
            self.preset_combo.addItem("No presets yet" if self.target_key else "Load a model first")
        index = self.preset_combo.findText(current)
        if index >= 0 and self.presets:
            self.preset_combo.setCurrentIndex(index)
        self._update_presets()

    def selected_preset(self) -> Any:
        index = self.preset_combo.currentIndex()
        return self.presets[index] if self.presets and 0 <= index < len(self.presets) else None

    def _update_presets(self) -> None:
        idle = self.target_key is not None and not any(t.running for t in getattr(self, "tasks", ()))
        has = self.selected_preset() is not None
        self.preset_combo.setEnabled(bool(self.presets))
        self.apply_preset_button.setEnabled(idle and has)
        self.delete_preset_button.setEnabled(idle and has)
        self.save_preset_button.setEnabled(idle and not self.settings().problems())

    def apply_preset(self) -> None:
        preset = self.selected_preset()
        if preset is not None:
            self.show_settings(preset.settings, preset.system_prompt)

    def ask_preset_name(self, suggestion: str) -> Optional[str]:
        """The name to save under, None to cancel (tests replace this)."""
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name (an existing one is replaced):",
                                        text=suggestion)
        return name if ok else None

    def confirm_delete(self, name: str) -> bool:
        """Ask before deleting a preset (tests replace this)."""
        answer = QMessageBox.question(self, "Delete preset", f"Delete the preset {name!r} of this model?")
        return answer == QMessageBox.StandardButton.Yes

    def save_preset(self) -> None:
        from workbench.services import chat_presets

        if self.store is None or self.target_key is None:
            return
        chosen = self.selected_preset()
        name = self.ask_preset_name(chosen.name if chosen is not None else "")
        if not name:
            return
        settings, system, store, key = self.settings(), self.system_prompt(), self.store, self.target_key

        def save_and_list() -> tuple[Any, list]:
            preset = chat_presets.save_preset(store, key, name, settings, system)
            return preset, chat_presets.list_presets(store, key)

        self._task(save_and_list, done=lambda r: (self._listed(r[1]), self._fill_presets(r[0].name)))

    def delete_preset(self) -> None:
        from workbench.services import chat_presets

        preset = self.selected_preset()
        if preset is None or not self.confirm_delete(preset.name):
            return
        store, key = self.store, self.target_key

        def delete_and_list() -> list:
            chat_presets.delete_preset(store, key, preset.name)
            return chat_presets.list_presets(store, key)

        self._task(delete_and_list, done=self._listed)
