"""Export… : write a version as JSONL or Parquet, in OpenAI-messages or Alpaca form; a preference
version also (and first) as pairs: TRL conversational or text, ShareGPT."""

from __future__ import annotations

import os
from typing import Any, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.task_dialog import TaskDialog

FORMATS = (("jsonl", "JSON Lines (.jsonl)"), ("parquet", "Parquet (.parquet)"))
STYLES = (("openai", "OpenAI messages"), ("alpaca", "Alpaca (instruction / input / output)"))
PAIR_STYLES = (("trl", "Pairs: TRL prompt / chosen / rejected messages"),
               ("trl_text", "Pairs: TRL prompt / chosen / rejected text"),
               ("sharegpt_pairs", "Pairs: ShareGPT conversations + chosen + rejected"),
               ("openai", "OpenAI messages (the chosen side)"),
               ("alpaca", "Alpaca (the chosen side)"))


class ExportDialog(TaskDialog):
    exported = Signal(object)  # workbench.data.ops.export.ExportResult

    def __init__(self, store: Any, version: Any, folder: str = "", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.store, self.version = store, version
        self.setObjectName("exportDialog")
        from workbench.services import dataset_ops

        self.setWindowTitle(f"Export — {dataset_ops.title_of(store, version)}")
        self.setMinimumWidth(560)
        self.result: Any = None
        self.format_combo = QComboBox()
        for key, label in FORMATS:
            self.format_combo.addItem(label, key)
        self.style_combo = QComboBox()
        for key, label in PAIR_STYLES if version.kind == "preference" else STYLES:
            self.style_combo.addItem(label, key)
        stem = dataset_ops.export_stem(store, version)
        self.path_edit = QLineEdit(os.path.join(folder or os.path.expanduser("~"), f"{stem}.jsonl"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        self.format_combo.currentIndexChanged.connect(self._fix_suffix)
        self.result_label = QLabel()
        self.result_label.setObjectName("exportResult")
        self.result_label.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Format:", self.format_combo)
        form.addRow("Records as:", self.style_combo)
        form.addRow("File:", path_row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setObjectName("primary")
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)
        layout.addWidget(self.buttons)

    def _fix_suffix(self) -> None:
        path = self.path_edit.text()
        stem, ext = os.path.splitext(path)
        if ext.lower() in (".jsonl", ".parquet"):
            self.path_edit.setText(f"{stem}.{self.format_combo.currentData()}")

    def _browse(self) -> None:
        fmt = self.format_combo.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Export Dataset", self.path_edit.text(),
                                              f"{fmt.upper()} (*.{fmt});;All files (*)")
        if path:
            self.path_edit.setText(path)

    def export(self) -> None:
        from workbench.services import dataset_ops

        path = os.path.abspath(os.path.expanduser(self.path_edit.text().strip()))
        self.result_label.setText("")
        self.start_task(dataset_ops.export_version, self.store, self.version.id, path,
                        self.format_combo.currentData(), self.style_combo.currentData(),
                        label=f"Exporting to {os.path.basename(path)}…", on_result=self._done)

    def _done(self, result: Any) -> None:
        self.result = result
        text = f"Exported {result.rows:,} rows to {result.path}."
        if result.skipped:
            rows = ", ".join(str(i + 1) for i in result.skipped_rows[:10])
            why = ("pairs have a prompt or reply of several turns, which has no" if self.version.kind == "preference"
                   else "rows have no assistant reply and no")
            text += (f" {result.skipped:,} {why} {result.style} form; "
                     f"they were left out (rows {rows}{'…' if result.skipped > 10 else ''}).")
        self.result_label.setText(text)
        self.exported.emit(result)

    def busy_changed(self, busy: bool) -> None:
        self.export_button.setEnabled(not busy)
