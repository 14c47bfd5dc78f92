"""Models: the project's base models; build/convert the built-in ones, add a local folder."""

from __future__ import annotations

import html
import json
import os
from typing import Optional

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
from workbench.ui import theme
from workbench.ui.context import ProjectContext
from workbench.ui.errors import show_error
from workbench.ui.pages.base import Page, heading, hint, record_table
from workbench.ui.workers import InlineProgress, Task, run_task

COLUMNS = ("Name", "Kind", "Path", "Fingerprint", "Added by", "Added at")
KIND_LABELS = {"tiny": "tiny demo", "smollm2": "SmolLM2", "hf_folder": "local folder"}
BUILTIN_TITLES = {"tiny": "Tiny demo model", "smollm2": "SmolLM2-135M-Instruct"}


def _service():
    # Imported when first needed: the store behind it is not for start-up (see app.py).
    from workbench.services import models

    return models


def _add_local(store, folder: str, progress=None, cancel=None) -> BaseModel:
    # Hashing the config and listing weights is quick, but a folder on a slow disk is not.
    return _service().add_local_model(store, folder)


def _builtin_cached(kind: str) -> bool:
    return os.path.isfile(os.path.join(_service().builtin_model_dir(kind), "config.json"))


def model_facts(path: str) -> list[tuple[str, str]]:
    """Architecture facts from the folder's config.json and weight files (nothing loaded)."""
    try:
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError):
        return []
    pick = lambda *keys: next((cfg[k] for k in keys if k in cfg), None)  # noqa: E731
    facts = [("Architecture", str(pick("model_type") or "?")),
             ("Layers", pick("num_hidden_layers", "n_layer")),
             ("Hidden size", pick("hidden_size", "n_embd")),
             ("Attention heads", pick("num_attention_heads", "n_head")),
             ("Vocabulary", pick("vocab_size")),
             ("Context length", pick("max_position_embeddings", "n_positions"))]
    size = sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path)
               if n.endswith((".safetensors", ".bin")))
    facts.append(("Weights on disk", f"{size / 1e6:,.1f} MB"))
    return [(k, f"{v:,}" if isinstance(v, int) else str(v)) for k, v in facts if v is not None]


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
        self.tiny_button = QPushButton("Build tiny demo model")
        self.smol_button = QPushButton("Convert SmolLM2-135M-Instruct")
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
        self.refresh()

    def page_shown(self) -> None:
        self.refresh()

    def refresh(self, select_id: Optional[str] = None) -> None:
        if select_id is None:
            current = self.selected_model()
            select_id = current.id if current else None
        self._models = self.ctx.store.list_base_models() if self.ctx else []
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
        if self.ctx is None:
            return
        kinds_here = {m.kind for m in self._models}
        muted = theme.colors().muted_text
        descriptions = _service().BUILTIN_MODELS
        for kind, label in self.builtin_status.items():
            if kind in kinds_here:
                status = "In this project."
            elif _builtin_cached(kind):
                status = "Built on this machine; adding it to this project is instant."
            else:
                status = ("Not built yet (about 20 seconds)." if kind == "tiny"
                          else "Not converted yet (a minute or two, once per machine).")
            label.setText(f"<b>{BUILTIN_TITLES[kind]}</b><br>{html.escape(descriptions[kind])}"
                          f"<br><span style='color:{muted}'>{status}</span>")

    def _show_details(self) -> None:
        model = self.selected_model()
        if model is None:
            self.details.setHtml(f"<p style='color:{theme.colors().muted_text}'>No base model in this "
                                 "project yet: build the tiny demo model to start.</p>")
            return
        esc = html.escape
        c = theme.colors()
        rows = [("Name", model.name), ("Kind", KIND_LABELS.get(model.kind, model.kind)),
                ("Folder", model.path), ("Fingerprint", model.fingerprint)]
        facts = model_facts(model.path)
        body = "".join(f"<tr><td style='color:{c.muted_text}'>{esc(k)}</td><td>&nbsp;{esc(v)}</td></tr>"
                       for k, v in rows + facts)
        warning = "" if os.path.isdir(model.path) else (
            f"<p style='color:{c.error_text}'><b>The folder is missing on this machine.</b> Build the "
            "model again, or add the folder where it now lives.</p>")
        self.details.setHtml(f"<h3>{esc(model.name)}</h3>{warning}<table cellspacing='2'>{body}</table>")

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

    def theme_changed(self) -> None:
        self.refresh()

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
