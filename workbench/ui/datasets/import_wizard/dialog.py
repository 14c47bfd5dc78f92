"""Import a dataset: choose a file or folder (or type or paste its path, with completion) →
preview (file kind, encoding, detected format, the fields that will not be kept, the first
records as chat turns; format, encoding and text-mode overrides) → a column mapping when
detection fails or the user asks (it starts from the detected format) → import in a worker with
progress and Cancel → when rows are invalid, their problems in a table: Abort, or import only
the valid rows (report savable) → a summary when fields were not kept."""

from __future__ import annotations

import os
from typing import Any, Optional

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common import theme
from workbench.ui.datasets.import_wizard.mapping_step import MappingPanel
from workbench.ui.datasets.import_wizard.preview_step import MAP_COLUMNS, TEXT_KINDS, PreviewStep, show_unused, unused_html, unused_label
from workbench.ui.datasets.import_wizard.problems_step import ProblemsPanel
from workbench.ui.datasets.import_wizard.source_box import PathEdit, typed_path
from workbench.ui.common.task_dialog import TaskDialog
from workbench.ui.datasets.import_wizard.records_preview import RecordsPreview

PREVIEW, MAPPING, PROBLEMS, RESULT = range(4)
MAPPING_DELAY_MS = 300


def _preview(path: str, options: Any, progress=None, cancel=None):
    from workbench.services import dataset_view

    return dataset_view.preview(path, options)


def fitted_size(available: QRect) -> tuple[int, int]:
    """The dialog's first size: 1000 x 680, less on a smaller screen (room for a title bar)."""
    return min(1000, available.width() - 40), min(680, available.height() - 60)


class ImportDialog(TaskDialog):
    imported = Signal(object, bool)  # DatasetVersion, reused (an identical import existed)

    def __init__(self, store: Any, path: str = "", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setObjectName("importDialog")
        self.setWindowTitle("Import Dataset")
        self.resize(*fitted_size(self.screen().availableGeometry()))
        self.path = ""
        self.preview_result: Any = None  # ImportPreview of the preview step
        self.mapping_preview: Any = None  # ImportPreview through the mapping
        self.attempt: Any = None  # the last ImportAttempt
        self.result_version: Any = None
        self.reused = False
        self._options_sent: Any = None

        self.path_edit = PathEdit()
        self.path_edit.setPlaceholderText("Type or paste the path of a dataset file or folder, or choose one")
        self.path_edit.entered.connect(self._path_typed)
        self.path_edit.editingFinished.connect(self._path_typed)  # leaving the box
        self.file_button = QPushButton("File…")
        self.folder_button = QPushButton("Folder…")
        self.file_button.clicked.connect(self._choose_file)
        self.folder_button.clicked.connect(self._choose_folder)
        source = QHBoxLayout()
        source.addWidget(QLabel("Source:"))
        source.addWidget(self.path_edit, 1)
        source.addWidget(self.file_button)
        source.addWidget(self.folder_button)

        self.steps = QStackedWidget()
        self.steps.addWidget(self._build_preview_step())
        self.steps.addWidget(self._build_mapping_step())
        self.steps.addWidget(self._build_problems_step())
        self.steps.addWidget(self._build_result_step())

        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(self.back)
        self.map_button = QPushButton("Map Columns…")
        self.map_button.clicked.connect(self.show_mapping)
        self.save_report_button = QPushButton("Save Report…")
        self.save_report_button.clicked.connect(self._choose_report_path)
        self.close_button = QPushButton("Cancel")
        self.close_button.clicked.connect(self.reject)
        self.skip_button = QPushButton("Import Valid Rows Only")
        self.skip_button.clicked.connect(lambda: self.import_valid_only())
        self.import_button = QPushButton("Import")
        self.import_button.setObjectName("primary")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(lambda: self.start_import())
        buttons = QHBoxLayout()
        for b in (self.back_button, self.map_button, self.save_report_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.close_button, self.skip_button, self.import_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.addLayout(source)
        layout.addWidget(self.steps, 1)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        self._mapping_timer = QTimer(self)
        self._mapping_timer.setSingleShot(True)
        self._mapping_timer.setInterval(MAPPING_DELAY_MS)
        self._mapping_timer.timeout.connect(self.refresh_mapping_preview)
        self._update_buttons()
        if path:
            self.set_path(path)

    # -- steps -----------------------------------------------------------------------------------
    def _build_preview_step(self) -> QWidget:
        step = self.preview_step = PreviewStep()
        self.info_label, self.fields_label, self.records = step.info_label, step.fields_label, step.records
        self.format_combo, self.encoding_combo, self.name_edit = step.format_combo, step.encoding_combo, step.name_edit
        self.text_mode_label, self.text_mode_combo = step.text_mode_label, step.text_mode_combo
        self.split_label, self.split_combo = step.split_label, step.split_combo
        self.format_combo.activated.connect(self._format_chosen)
        for combo in (self.encoding_combo, self.text_mode_combo, self.split_combo):
            combo.activated.connect(lambda _i: self.refresh_preview())
        return step

    def _build_mapping_step(self) -> QWidget:
        self.mapping_info = QLabel("Map the file's columns to the roles of a conversation.")
        self.mapping_info.setObjectName("mappingInfo")
        self.mapping_info.setWordWrap(True)
        self.mapping_panel = MappingPanel()
        self.mapping_panel.changed.connect(self._mapping_timer_start)
        self.mapping_status = QLabel()
        self.mapping_status.setObjectName("mappingStatus")
        self.mapping_status.setWordWrap(True)
        self.mapping_unused = unused_label()
        self.mapping_records = RecordsPreview()
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.mapping_info)
        layout.addWidget(self.mapping_panel)
        layout.addWidget(self.mapping_status)
        layout.addWidget(self.mapping_unused)
        layout.addWidget(self.mapping_records, 1)
        return box

    def _build_problems_step(self) -> QWidget:
        self.problems = ProblemsPanel()
        self.problems_label, self.problems_table = self.problems.summary, self.problems.table
        self.report_label = self.problems.report_label
        return self.problems

    def _build_result_step(self) -> QWidget:
        self.result_label = QLabel()
        self.result_label.setObjectName("importResult")
        self.result_label.setWordWrap(True)
        self.result_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        return self.result_label

    def step(self) -> int:
        return self.steps.currentIndex()

    def _go(self, step: int) -> None:
        self.steps.setCurrentIndex(step)
        self._update_buttons()

    def _update_buttons(self) -> None:
        step, busy, have = self.step(), self.busy, bool(self.path)
        ready = have and self.preview_result is not None
        self.back_button.setVisible(step in (MAPPING, PROBLEMS))
        self.map_button.setVisible(step == PREVIEW)
        self.save_report_button.setVisible(step == PROBLEMS)
        self.skip_button.setVisible(step == PROBLEMS)
        self.import_button.setVisible(step in (PREVIEW, MAPPING))
        self.close_button.setText("Close" if step == RESULT else "Abort" if step == PROBLEMS else "Cancel")
        self.map_button.setEnabled(ready and not busy)
        self.back_button.setEnabled(not busy)
        self.skip_button.setEnabled(not busy and self.attempt is not None and self.attempt.valid_rows > 0)
        can_import = ready and not busy and (
            self.mapping_preview is not None if step == MAPPING else bool(self.preview_result.format))
        self.import_button.setEnabled(bool(can_import))
        self.format_combo.setEnabled(self.preview_result is not None and not busy)
        self.path_edit.setReadOnly(busy or step == RESULT)  # read-only keeps the focus; disabling would not
        self.file_button.setEnabled(not busy and step != RESULT)
        self.folder_button.setEnabled(not busy and step != RESULT)

    def busy_changed(self, busy: bool) -> None:
        self._update_buttons()

    # -- source ----------------------------------------------------------------------------------
    def _choose_file(self) -> None:
        from workbench.services.datasets import open_dialog_filter  # the reader registry's types

        path, _ = QFileDialog.getOpenFileName(self, "Import Dataset", os.path.dirname(self.path), open_dialog_filter())
        if path:
            self.set_path(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a Folder (text files or a saved dataset)",
                                                os.path.dirname(self.path))
        if path:
            self.set_path(path)

    def _path_typed(self) -> None:
        path = typed_path(self.path_edit.text())
        if not path:
            self.path_edit.setText(self.path)  # an emptied box keeps the current source
        elif path != self.path and not self.busy:
            self.set_path(path)  # the preview worker says if it does not exist

    def set_path(self, path: str) -> None:
        from workbench.services.datasets import dataset_stem

        self.path = os.path.abspath(path)
        self.path_edit.setText(self.path)
        self.name_edit.setText(dataset_stem(self.path))
        self.preview_result = self.mapping_preview = self.attempt = None
        self.encoding_combo.setCurrentIndex(0)
        self.format_combo.clear()
        self._go(PREVIEW)
        self.refresh_preview()

    # -- preview ---------------------------------------------------------------------------------
    def options(self, mapped: Optional[bool] = None) -> Any:
        """The ImportOptions the dialog's choices stand for (mapped: use the column mapping)."""
        from workbench.services.dataset_view import ImportOptions

        mapped = self.step() == MAPPING if mapped is None else mapped
        fmt = self.format_combo.currentData()
        kind = self.preview_result.file_kind if self.preview_result is not None else ""
        return ImportOptions(
            format=fmt if fmt not in (None, MAP_COLUMNS) and not mapped else None,
            mapping=self.mapping_panel.mapping() if mapped else None,
            text_mode=self.text_mode_combo.currentData() if kind in TEXT_KINDS else None,
            encoding=self.encoding_combo.currentData(),
            split=self.split_combo.currentData() if self.split_combo.count() else None,
            name=self.name_edit.text().strip() or None,
        )

    def refresh_preview(self) -> None:
        if not self.path:
            return
        options = self.options(mapped=False)
        self.start_task(_preview, self.path, options, label="Reading the first records…",
                        on_result=self._show_preview, on_error=self._preview_failed)

    def _preview_failed(self, exc: BaseException) -> None:
        self.preview_result = None
        self.preview_step.show_failure(exc)
        self._update_buttons()

    def _show_preview(self, preview: Any) -> None:
        self.preview_result = preview
        self.preview_step.show_preview(preview)
        if preview.mapping_choices is not None:
            self.mapping_panel.set_choices(preview.mapping_choices, preview.nested_fields,
                                           [r.source for r in preview.records])
        self._update_buttons()
        if not preview.format and preview.fields:
            self.show_mapping()  # detection failed: mapping is the way forward

    def _format_chosen(self, _index: int) -> None:
        if self.format_combo.currentData() == MAP_COLUMNS:
            self.show_mapping()
        else:
            self.refresh_preview()

    # -- mapping ---------------------------------------------------------------------------------
    def show_mapping(self) -> None:
        if self.preview_result is None:
            return
        from workbench.services.dataset_view import format_choices

        preview = self.preview_result
        fields = ", ".join(preview.fields[:12]) + ("…" if len(preview.fields) > 12 else "")
        follows = preview.mapping_choices.suggested_from if preview.mapping_choices is not None else ""
        if follows:
            why = (f"The mapping starts from what the detected {dict(format_choices()).get(follows, follows)} "
                   "format reads, and replaces the format.")
        elif preview.format:
            why = "The mapping replaces the detected format."
        else:
            why = (f"<span style='color:{theme.colors().error_text}'><b>The format was not recognised</b></span> "
                   f"(fields: {fields}).")
        self.mapping_info.setText(f"{why} Say which columns hold the system prompt, the user message and the "
                                  "assistant reply (or which column holds the list of turns); the preview "
                                  "below follows your choices.")
        self._go(MAPPING)
        self.refresh_mapping_preview()

    def _mapping_timer_start(self) -> None:
        self.mapping_preview = None
        self._update_buttons()
        self._mapping_timer.start()

    def refresh_mapping_preview(self) -> None:
        self._mapping_timer.stop()
        if self.step() != MAPPING or not self.path:
            return
        self.mapping_preview = None
        self.start_task(_preview, self.path, self.options(mapped=True), label="Reading through the mapping…",
                        on_result=self._show_mapping_preview, on_error=self._mapping_failed)

    def _show_mapping_preview(self, preview: Any) -> None:
        self.mapping_preview = preview
        bad, n = sum(1 for r in preview.records if r.problems), len(preview.records)
        what = "preference pairs" if preview.kind == "preference" else "conversations"
        self.mapping_status.setText(f"{n - bad} of the first {n} records read as {what}"
                                    + (f"; {bad} have problems (see the table)." if bad else "."))
        show_unused(self.mapping_unused, preview.unused_fields,
                    f"Not kept by this mapping (counted over the first {preview.records_read:,} records)")
        self.mapping_records.set_records(preview.records)
        self._update_buttons()

    def _mapping_failed(self, exc: BaseException) -> None:
        from workbench.ui.common.errors import describe

        message, advice, _ = describe(exc)
        self.mapping_preview = None
        self.mapping_status.setText(f"<span style='color:{theme.colors().error_text}'>{message}</span> {advice}")
        show_unused(self.mapping_unused, [])
        self.mapping_records.set_records([])
        self._update_buttons()

    def back(self) -> None:
        if self.step() == PROBLEMS and self._options_sent is not None and self._options_sent.mapping:
            self._go(MAPPING)
        else:
            if self.format_combo.currentData() == MAP_COLUMNS:
                self.format_combo.setCurrentIndex(0)
            self._go(PREVIEW)

    # -- import ----------------------------------------------------------------------------------
    def start_import(self, on_invalid: str = "abort") -> None:
        from workbench.services import dataset_view

        if on_invalid == "abort":
            self._options_sent = self.options()
        options = self._options_sent
        label = "Importing the valid rows…" if on_invalid == "skip" else f"Importing {os.path.basename(self.path)}…"
        self.start_task(dataset_view.import_checked, self.store, self.path, options, on_invalid,
                        label=label, on_result=self._import_done)

    def import_valid_only(self) -> None:
        self.start_import("skip")

    def _import_done(self, attempt: Any) -> None:
        self.attempt = attempt
        if attempt.version is None:
            self._show_problems(attempt)
            return
        self.result_version, self.reused = attempt.version, attempt.reused
        self.imported.emit(attempt.version, attempt.reused)
        v = attempt.version
        not_kept = unused_html(attempt.unused_fields, "Not kept from the source records")
        if attempt.reused:
            self.result_label.setText(
                f"<h3>Already imported</h3><p>{os.path.basename(self.path)} was imported before with the "
                f"same options: the existing version ({v.row_count:,} rows, {v.created_at[:16].replace('T', ' ')}, "
                f"by {v.created_by}) is reused and selected. Nothing new was written.</p>{not_kept}")
            self._go(RESULT)
        elif not_kept:  # the summary says what the rows do not hold before the dialog closes
            skipped = (v.options or {}).get("skipped_rows") or 0
            self.result_label.setText(
                f"<h3>Imported</h3><p>{v.row_count:,} rows from {os.path.basename(self.path)} ({v.format})"
                + (f"; {skipped:,} invalid rows skipped" if skipped else "") + ".</p>" + not_kept)
            self._go(RESULT)
        else:
            self.accept()

    def _show_problems(self, attempt: Any) -> None:
        self.problems.show_attempt(attempt)
        self._go(PROBLEMS)

    def _choose_report_path(self) -> None:
        from workbench.services.datasets import dataset_stem

        start = os.path.join(os.path.dirname(self.path), f"{dataset_stem(self.path)}-problems.jsonl")
        path, _ = QFileDialog.getSaveFileName(self, "Save Problem Report", start,
                                              "JSON Lines (*.jsonl);;CSV (*.csv)")
        if path:
            self.save_report(path)

    def save_report(self, path: str) -> Optional[str]:
        from workbench.services import dataset_view
        from workbench.ui.common.errors import show_error

        if self.attempt is None:
            return None
        try:
            written = dataset_view.save_problem_report(self.attempt.problems, path)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, "Save Report")
            return None
        self.report_label.setText(f"Report saved: {written}")
        return str(written)
