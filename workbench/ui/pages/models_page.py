"""Models: the project's base models; build/convert the built-in ones, add a local folder."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.records import BaseModel
from workbench.services import models as model_service
from workbench.ui.context import ProjectContext
from workbench.ui.errors import show_error
from workbench.ui.pages.base import Page, heading, hint
from workbench.ui.workers import InlineProgress, Task, run_task

COLUMNS = ("Name", "Kind", "Path", "Fingerprint", "Added by", "Added at")
KIND_LABELS = {"tiny": "tiny demo", "smollm2": "SmolLM2", "hf_folder": "local folder"}


def _add_local(store, folder: str, progress=None, cancel=None) -> BaseModel:
    # Hashing the config and listing weights is quick, but a folder on a slow disk is not.
    return model_service.add_local_model(store, folder)


class ModelsPage(Page):
    title = "Models"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.task: Optional[Task] = None
        self._models: list[BaseModel] = []
        self.tiny_button = QPushButton("Build tiny demo model")
        self.tiny_button.setToolTip(model_service.BUILTIN_MODELS["tiny"])
        self.smol_button = QPushButton("Convert SmolLM2-135M-Instruct")
        self.smol_button.setToolTip(model_service.BUILTIN_MODELS["smollm2"])
        self.local_button = QPushButton("Add local folder…")
        self.local_button.setToolTip("A Hugging Face model folder (config.json, tokenizer, "
                                     "*.safetensors) of any causal language model.")
        self.tiny_button.clicked.connect(lambda: self.ensure_builtin("tiny"))
        self.smol_button.clicked.connect(lambda: self.ensure_builtin("smollm2"))
        self.local_button.clicked.connect(self.choose_local_folder)
        top = QHBoxLayout()
        top.addWidget(heading("Base models"))
        top.addStretch(1)
        for b in (self.tiny_button, self.smol_button, self.local_button):
            top.addWidget(b)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("modelsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.progress = InlineProgress()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(hint("LoRA adapters are trained on top of a base model. The tiny demo "
                              "model builds offline in seconds; SmolLM2-135M-Instruct is converted "
                              "once from the bundled GGUF file. Built models are cached on this "
                              "machine and shared by all projects."))
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)

    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self.refresh()

    def refresh(self) -> None:
        self._models = self.ctx.store.list_base_models() if self.ctx else []
        self.table.setRowCount(len(self._models))
        for i, m in enumerate(self._models):
            cells = (m.name, KIND_LABELS.get(m.kind, m.kind), m.path, m.fingerprint[:12], m.created_by,
                     m.created_at[:19].replace("T", " "))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(m.fingerprint if j == 3 else text)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self._set_busy(self.task is not None)

    def _set_busy(self, busy: bool) -> None:
        for b in (self.tiny_button, self.smol_button, self.local_button):
            b.setEnabled(not busy and self.ctx is not None)

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
        return self._run(model_service.ensure_builtin_model, kind, label=label)

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
        self.refresh()
        self.ctx.models_changed.emit()
        row = next((i for i, m in enumerate(self._models) if m.id == model.id), -1)
        if row >= 0:
            self.table.selectRow(row)

    def _on_done(self) -> None:
        self.task = None
        self._set_busy(False)

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
