"""Models: the project's base models; build/convert the built-in ones, add a local folder."""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.core.records import BaseModel
from workbench.ui.common import theme
from workbench.ui.shell.context import ProjectContext
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading, hint, record_table
from workbench.ui.common.workers import InlineProgress, Task, run_task

COLUMNS = ("Name", "Kind", "Path", "Fingerprint", "Added by", "Added at")
KIND_LABELS = {"tiny": "tiny demo", "smollm2": "SmolLM2", "hf_folder": "local folder"}
ACTIONS = {"tiny": ("Build tiny demo model", "Add tiny demo model"),  # (to build, built here)
           "smollm2": ("Convert SmolLM2-135M-Instruct", "Add SmolLM2-135M-Instruct")}


def _service():
    # Imported when first needed: the store behind it is not for start-up (see app.py).
    from workbench.services import models

    return models


def _add_local(store, folder: str, progress=None, cancel=None) -> BaseModel:
    # The first add hashes every weight byte (seconds per GB): progress and Cancel reach it.
    return _service().add_local_model(store, folder, progress=progress, cancel=cancel)


def _builtin_states(store, progress=None, cancel=None):
    return _service().builtin_states(store)


def _model_facts(path: str, progress=None, cancel=None):
    return _service().model_facts(path)


class ModelsPage(Page):
    title = "Models"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.task: Optional[Task] = None
        self._models: list[BaseModel] = []
        self.local_button = QPushButton("Add local folder…")
        self.local_button.setToolTip("A Hugging Face model folder (config.json, tokenizer, "
                                     "*.safetensors) of any causal language model.")
        self.local_button.clicked.connect(self.choose_local_folder)
        top = QHBoxLayout()
        top.addWidget(heading("Base models"))
        top.addStretch(1)
        top.addWidget(self.local_button)

        self.table = record_table(COLUMNS, "modelsTable")
        self.table.itemSelectionChanged.connect(self._show_details)

        builtin_box = QGroupBox("Built-in models")
        grid = QGridLayout(builtin_box)
        grid.setColumnStretch(0, 1)
        grid.setVerticalSpacing(12)
        self.tiny_button = QPushButton(ACTIONS["tiny"][0])
        self.smol_button = QPushButton(ACTIONS["smollm2"][0])
        self.builtin_buttons = {"tiny": self.tiny_button, "smollm2": self.smol_button}
        # What the models folder holds is read in a worker (states_task), never per refresh.
        self.states: dict[str, Any] = {}  # kind -> services.models.BuiltinState
        self.states_task: Optional[Task] = None
        self._facts: dict[tuple[str, str], Any] = {}  # (model id, folder) -> services.models.ModelFacts
        self.facts_task: Optional[Task] = None
        self.builtin_status: dict[str, QLabel] = {}
        for row, (kind, button) in enumerate((("tiny", self.tiny_button), ("smollm2", self.smol_button))):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            self.builtin_status[kind] = label
            button.clicked.connect(lambda _=False, k=kind: self.ensure_builtin(k))
            grid.addWidget(label, row, 0)
            grid.addWidget(button, row, 1, Qt.AlignmentFlag.AlignTop)
        grid.setRowStretch(2, 1)
        self.details = QTextBrowser()
        self.details.setObjectName("modelDetails")
        details_box = QGroupBox("Selected model")
        QVBoxLayout(details_box).addWidget(self.details)
        lower = QWidget()
        lower_layout = QHBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(builtin_box, 1)
        lower_layout.addWidget(details_box, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setSizes([220, 400])

        self.progress = InlineProgress()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint("LoRA adapters are trained on top of a base model. Built-in models "
                              "are built once per machine and shared by all projects; any local "
                              "Hugging Face causal-LM folder works too."))
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)

    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self.states.clear()
        self._facts.clear()
        if ctx is not None:
            self.connect_ctx(ctx.models_changed, self.refresh)  # a model added anywhere updates the buttons
        self.refresh()
        self.check_builtins()

    def page_shown(self) -> None:
        self._facts.clear()  # a folder may have been moved or rebuilt meanwhile
        self.refresh()
        self.check_builtins()  # another process (the CLI) may have built one meanwhile

    def check_builtins(self) -> Optional[Task]:
        """Read which built-in models this machine holds and the project has, in a worker."""
        if self.ctx is None or self.states_task is not None:
            return None
        task = run_task(_builtin_states, self.ctx.store, name="built-in models")
        self.states_task = task
        ctx = self.ctx
        task.finished.connect(lambda states: ctx is self.ctx and self._set_states(states))
        task.done.connect(lambda: setattr(self, "states_task", None))
        return task

    def _set_states(self, states: list) -> None:
        self.states = {s.kind: s for s in states}
        self._show_builtin_status()

    def refresh(self, select_id: Optional[str] = None) -> None:
        if select_id is None:
            current = self.selected_model()
            select_id = current.id if current else None
        self._models = _service().base_models(self.ctx.store) if self.ctx else []
        table = self.table
        table.blockSignals(True)
        table.setRowCount(len(self._models))
        for i, m in enumerate(self._models):
            cells = (m.name, KIND_LABELS.get(m.kind, m.kind), m.path, m.fingerprint[:15], m.created_by,
                     m.created_at[:19].replace("T", " "))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(m.fingerprint if j == 3 else text)
                table.setItem(i, j, item)
        for col in range(table.columnCount() - 1):  # the last one stretches
            table.resizeColumnToContents(col)
        row = next((i for i, m in enumerate(self._models) if m.id == select_id), 0 if self._models else -1)
        if row >= 0:
            table.selectRow(row)
        table.blockSignals(False)
        self._show_details()
        self._show_builtin_status()
        self._set_busy(self.task is not None)

    def selected_model(self) -> Optional[BaseModel]:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._models):
            return None
        return self._models[rows[0].row()]

    def _show_builtin_status(self) -> None:
        """Labels and buttons from the models listed (in the project?) and the last worker
        reading of the models folder (built on this machine?)."""
        if self.ctx is None:
            return
        in_project = {m.kind: m for m in self._models}
        muted = theme.colors().muted_text
        for kind, label in self.builtin_status.items():
            state = self.states.get(kind)
            title = _service().BUILTIN_TITLES[kind]
            button = self.builtin_buttons[kind]
            model = in_project.get(kind)
            if model is not None:
                status = "In this project."
                button.setText(f"{title} ✓ in project")
                button.setToolTip(f"{model.name} is in this project: pick it as the base model on the Train page.")
            elif state is not None and state.built:
                status = "Built on this machine; adding it to this project is instant."
                button.setText(ACTIONS[kind][1])
                button.setToolTip("Adds the model this machine already holds to this project.")
            else:
                status = ("Checking this machine…" if state is None else
                          "Not built yet (about 20 seconds)." if kind == "tiny"
                          else "Not converted yet (a minute or two, once per machine).")
                button.setText(ACTIONS[kind][0])
                button.setToolTip("Built once on this machine, then shared by all projects.")
            label.setText(f"<b>{title}</b><br>{html.escape(_service().BUILTIN_MODELS[kind])}"
                          f"<br><span style='color:{muted}'>{status}</span>")

    def _show_details(self) -> None:
        model = self.selected_model()
        if model is None:
            self.details.setHtml(f"<p style='color:{theme.colors().muted_text}'>No base model in this "
                                 "project yet: build the tiny demo model to start.</p>")
            return
        facts = self._facts.get((model.id, model.path))
        if facts is None:
            self._load_facts(model)
        esc = html.escape
        c = theme.colors()
        rows = [("Name", model.name), ("Kind", KIND_LABELS.get(model.kind, model.kind)),
                ("Folder", model.path), ("Fingerprint", model.fingerprint)]
        body = "".join(f"<tr><td style='color:{c.muted_text}'>{esc(k)}</td><td>&nbsp;{esc(v)}</td></tr>"
                       for k, v in rows + (facts.facts if facts else []))
        warning = "" if facts is None or not facts.folder_missing else (
            f"<p style='color:{c.error_text}'><b>The folder is missing on this machine.</b> Build the "
            "model again, or add the folder where it now lives.</p>")
        reading = f"<p style='color:{c.muted_text}'>Reading the model folder…</p>" if facts is None else ""
        self.details.setHtml(f"<h3>{esc(model.name)}</h3>{warning}<table cellspacing='2'>{body}</table>{reading}")

    def _load_facts(self, model: BaseModel) -> None:
        if self.facts_task is not None:
            return  # its result re-shows the selection, which starts the next one if needed
        key = (model.id, model.path)
        task = run_task(_model_facts, model.path, name="model facts")
        self.facts_task = task
        task.finished.connect(lambda facts: self._facts.__setitem__(key, facts))
        task.done.connect(lambda: self._facts_done(task))

    def _facts_done(self, task: Task) -> None:
        if self.facts_task is task:
            self.facts_task = None
            self._show_details()

    def _set_busy(self, busy: bool) -> None:
        self.local_button.setEnabled(not busy and self.ctx is not None)
        in_project = {m.kind for m in self._models}
        for kind, b in self.builtin_buttons.items():
            b.setEnabled(not busy and self.ctx is not None and kind not in in_project)

    def _run(self, fn, *args, label: str) -> Task:
        assert self.ctx is not None
        task = run_task(fn, self.ctx.store, *args, name=label)
        self.task = task
        self._set_busy(True)
        self.progress.follow(task, label)
        task.finished.connect(self._on_added)
        task.failed.connect(lambda exc: show_error(self, exc))
        task.done.connect(self._on_done)
        return task

    def ensure_builtin(self, kind: str) -> Optional[Task]:
        if self.ctx is None or self.task is not None:
            return None
        label = "Building the tiny demo model…" if kind == "tiny" else "Converting SmolLM2-135M-Instruct…"
        return self._run(_service().ensure_builtin_model, kind, label=label)

    def choose_local_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a Hugging Face model folder")
        if folder:
            self.add_local_folder(folder)

    def add_local_folder(self, folder: str) -> Optional[Task]:
        if self.ctx is None or self.task is not None:
            return None
        return self._run(_add_local, folder, label=f"Adding {folder}…")

    def _on_added(self, model: BaseModel) -> None:
        if self.ctx is None:
            return
        self.refresh(select_id=model.id)
        self.ctx.models_changed.emit()

    def _on_done(self) -> None:
        self.task = None
        self._set_busy(False)
        self.check_builtins()  # a build fills the models folder

    def theme_changed(self) -> None:
        self.refresh()

    def shutdown(self) -> None:
        for task in (self.task, self.states_task, self.facts_task):
            if task is not None:
                task.cancel()
