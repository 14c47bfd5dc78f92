"""Save settings… / Load settings… (a YAML or JSON run setup) and Copy settings from run…

Reading and writing a file runs in a worker (the GUI thread never waits on a disk); errors,
a file's bad key included, are shown in the one error dialog.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.core.errors import WorkbenchError
from workbench.core.train_config import ConfigFile, TrainConfig, load_config_file, save_config_file
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import fit_then_stretch, record_table
from workbench.ui.common.workers import Task, run_task
from workbench.ui.train.knobs import targets_text

if TYPE_CHECKING:
    from workbench.services.run_views import RunRow

FILE_FILTER = "Run settings (*.yaml *.yml *.json);;YAML (*.yaml *.yml);;JSON (*.json)"


def _load(path: str, progress: Any = None, cancel: Any = None) -> ConfigFile:
    return load_config_file(path)


def _save(path: str, config: TrainConfig, base_model: Optional[str], dataset: Optional[str],
          name: Optional[str], progress: Any = None, cancel: Any = None) -> str:
    return save_config_file(path, config, base_model=base_model, dataset=dataset, name=name)


def with_suffix(path: str, selected_filter: str) -> str:
    """A path the user typed without an extension gets the chosen format's."""
    if os.path.splitext(path)[1]:
        return path
    return path + (".json" if selected_filter.startswith("JSON") else ".yaml")


def ask_save_path(parent: QWidget, start: str) -> Optional[str]:
    path, chosen = QFileDialog.getSaveFileName(parent, "Save Settings", start, FILE_FILTER)
    return with_suffix(path, chosen) if path else None


def ask_load_path(parent: QWidget, start: str) -> Optional[str]:
    path, _ = QFileDialog.getOpenFileName(parent, "Load Settings", start, FILE_FILTER)
    return path or None


def save_in_worker(parent: QWidget, path: str, config: TrainConfig, base_model: Optional[str],
                   dataset: Optional[str], name: Optional[str], done: Callable[[str], None]) -> Task:
    task = run_task(_save, path, config, base_model, dataset, name, name="save settings")
    task.finished.connect(done)
    task.failed.connect(lambda exc: show_error(parent, exc, "Could not save the settings"))
    return task


def load_in_worker(parent: QWidget, path: str, done: Callable[[ConfigFile], None]) -> Task:
    task = run_task(_load, path, name="load settings")
    task.finished.connect(done)
    task.failed.connect(lambda exc: show_error(parent, exc, "Could not load the settings"))
    return task


def _summary(config: TrainConfig) -> str:
    length = f"{config.max_steps:,} steps" if config.max_steps > 0 else f"{config.epochs:g} epochs"
    return (f"r {config.r} · alpha {config.alpha} · lr {config.learning_rate:g} · {length} · "
            f"batch {config.batch_size} · max length {config.max_length:,} · {targets_text(config.target_modules)}")


class CopyFromRunDialog(QDialog):
    """Pick a run; its settings fill the form."""

    COLUMNS = ("Run", "Status", "Base model", "Started", "Settings")

    def __init__(self, rows: list["RunRow"], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("copyFromRunDialog")
        self.setWindowTitle("Copy Settings from Run")
        self.resize(900, 420)
        self.rows = rows
        self.table = record_table(self.COLUMNS, "copyRunsTable")
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            run = row.run
            when = (run.started_at or run.created_at or "")[:16].replace("T", " ")
            for col, text in enumerate((run.name, run.status, row.model_name, when, _summary(run.train_config))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, col, item)
        fit_then_stretch(self.table, 4)
        if rows:
            self.table.selectRow(0)
        self.table.doubleClicked.connect(lambda _index: self.accept())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Copy Settings")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(bool(rows))
        layout = QVBoxLayout(self)
        note = QLabel("The run's training settings replace the form's; the base model and dataset stay as chosen."
                      if rows else "This project has no runs yet.")
        note.setObjectName("hint")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def selected(self) -> Optional["RunRow"]:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows else None

    def select_run(self, run_id: str) -> None:
        for i, row in enumerate(self.rows):
            if row.run.id == run_id:
                self.table.selectRow(i)
                self.table.scrollToItem(self.table.item(i, 0), self.table.ScrollHint.EnsureVisible)


# -- the page's commands (the page delegates to these) ------------------------------------------
def _start_folder(page: Any) -> str:
    return os.path.dirname(page.ctx.path) if page.ctx is not None else os.path.expanduser("~")


def save_settings(page: Any, path: Optional[str] = None) -> Optional[Task]:
    """Write the page's form as a YAML/JSON file (asks where unless `path` is given). A form
    with problems is saved too: work in progress is the user's to keep."""
    config, unreadable = page.form.config()
    if unreadable:
        show_error(page, WorkbenchError(unreadable[0].message), "Could not save the settings")
        return None
    path = path or ask_save_path(page, _start_folder(page))
    if not path:
        return None
    model = page.model_combo.currentData()
    return save_in_worker(page, path, config, page.model_name(model) if model else None,
                          page.dataset_combo.currentData(), page.name_edit.text().strip() or None,
                          lambda _path: None)


def load_settings(page: Any, path: Optional[str] = None) -> Optional[Task]:
    """Fill the page's form from a YAML/JSON file (asks which unless `path` is given)."""
    path = path or ask_load_path(page, _start_folder(page))
    if not path:
        return None
    return load_in_worker(page, path, lambda loaded: apply_file(page, loaded))


def apply_file(page: Any, loaded: ConfigFile) -> None:
    """A loaded file's settings, and the model and version it names where this project has them."""
    page.load_config(loaded.config)
    if loaded.name:
        page.name_edit.setText(loaded.name)
    if page.ctx is None:
        return
    from workbench.services import train_form

    chosen = train_form.resolve_file_choices(page.ctx.store, loaded)
    for combo, value in ((page.model_combo, chosen.model_id), (page.dataset_combo, chosen.version_id)):
        if value is not None and combo.findData(value) >= 0:
            combo.setCurrentIndex(combo.findData(value))
    if chosen.notes:
        show_error(page, WorkbenchError(f"The settings are loaded, but the {' and the '.join(chosen.notes)}.",
                                        advice="Pick the base model and dataset version on the form."),
                   "Settings loaded")


def copy_from_run(page: Any) -> None:
    """Pick one of the project's runs; its settings fill the form."""
    if page.ctx is None:
        return
    from workbench.services import run_views

    dialog = CopyFromRunDialog(run_views.run_rows(page.ctx.store), page)
    if page.exec_dialog(dialog):
        picked = dialog.selected()
        if picked is not None:
            page.load_config(picked.run.train_config)
