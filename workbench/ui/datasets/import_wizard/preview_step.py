"""The preview step of the import dialog: what the file is (kind, encoding, detected format),
the fields the import will not keep, the overrides (format, encoding, plain-text mode, a
dataset folder's split, the dataset's name) and the first records as they would be imported."""

from __future__ import annotations

import html
from typing import Any, Iterable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from workbench.ui.common import theme
from workbench.ui.datasets.import_wizard.records_preview import RecordsPreview

MAP_COLUMNS = "__map__"  # the format combo's "Map columns…" entry
ENCODINGS = ("utf-8", "utf-16", "cp1252", "latin-1", "shift_jis", "gb18030", "big5", "koi8-r")
TEXT_MODES = (("paragraph", "One record per paragraph (blank-line separated)"),
              ("line", "One record per line"), ("file", "One record per file"))
TEXT_KINDS = ("text", "folder")  # inputs the plain-text mode applies to


def unused_html(fields: Iterable[Any], intro: str = "Not kept") -> str:
    """The fields an import does not keep (workbench.data.UnusedField), one per line."""
    items = [f"&nbsp;&nbsp;• <b>{html.escape(u.name)}</b> ({u.rows:,} of {u.read:,} records): {html.escape(u.meaning)}"
             for u in fields]
    if not items:
        return ""
    return f"<span style='color:{theme.colors().error_text}'><b>{intro}:</b></span><br>" + "<br>".join(items)


def unused_label() -> QLabel:
    label = QLabel()
    label.setObjectName("unusedFields")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setVisible(False)
    return label


def show_unused(label: QLabel, fields: Iterable[Any], intro: str = "Not kept") -> None:
    text = unused_html(fields, intro)
    label.setText(text)
    label.setVisible(bool(text))


class PreviewStep(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.info_label = QLabel("Choose a file or folder to see how it will be read.")
        self.info_label.setObjectName("importInfo")
        self.info_label.setWordWrap(True)
        self.info_label.setTextFormat(Qt.TextFormat.RichText)
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("formatCombo")
        self.encoding_combo = QComboBox()
        self.encoding_combo.addItem("Detect", None)
        for enc in ENCODINGS:
            self.encoding_combo.addItem(enc, enc)
        self.text_mode_combo = QComboBox()
        self.text_mode_combo.addItem("Default (a folder: one record per file; a file: per paragraph)", None)
        for key, label in TEXT_MODES:
            self.text_mode_combo.addItem(label, key)
        self.split_combo = QComboBox()
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("dataset name")
        self.text_mode_label = QLabel("Plain text:")
        self.split_label = QLabel("Split:")
        form = QGridLayout()  # two columns of choices: the dialog fits a 650-pixel-high window
        for row, col, label, widget in ((0, 0, QLabel("Format:"), self.format_combo),
                                        (0, 2, QLabel("Encoding:"), self.encoding_combo),
                                        (1, 0, QLabel("Dataset name:"), self.name_edit),
                                        (1, 2, self.text_mode_label, self.text_mode_combo),
                                        (2, 2, self.split_label, self.split_combo)):
            form.addWidget(label, row, col)
            form.addWidget(widget, row, col + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        self.unused_label = unused_label()
        self.fields_label = QLabel()
        self.fields_label.setObjectName("hint")
        self.fields_label.setWordWrap(True)
        self.records = RecordsPreview()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.info_label)
        layout.addWidget(self.unused_label)
        layout.addLayout(form)
        layout.addWidget(self.fields_label)
        layout.addWidget(self.records, 1)
        for w in (self.text_mode_label, self.text_mode_combo, self.split_label, self.split_combo):
            w.setVisible(False)  # shown for plain text and for a dataset folder with splits

    def show_failure(self, exc: BaseException) -> None:
        from workbench.ui.common.errors import describe

        message, advice, _details = describe(exc)
        self.info_label.setText(f"<span style='color:{theme.colors().error_text}'>{message}</span> {advice}")
        show_unused(self.unused_label, [])
        self.fields_label.setText("")
        self.records.set_records([])

    def show_preview(self, preview: Any) -> None:
        """An ImportPreview: the format combo keeps the user's choice, the rows that apply show."""
        from workbench.services.dataset_view import format_choices

        choices = format_choices()
        labels = dict(choices)
        chosen = self.format_combo.currentData()
        self.format_combo.clear()
        self.format_combo.addItem(f"Detect automatically ({labels.get(preview.detected_format) or 'not recognised'})",
                                  None)
        for name, label in choices:
            self.format_combo.addItem(label, name)
        self.format_combo.addItem("Map columns…", MAP_COLUMNS)
        if chosen not in (None, MAP_COLUMNS) and self.format_combo.findData(chosen) >= 0:
            self.format_combo.setCurrentIndex(self.format_combo.findData(chosen))
        for w in (self.text_mode_label, self.text_mode_combo):
            w.setVisible(preview.file_kind in TEXT_KINDS)
        current = self.split_combo.currentData()
        self.split_combo.clear()
        for split in preview.splits:
            self.split_combo.addItem(split, split)
        if preview.splits:
            self.split_combo.setCurrentIndex(max(0, self.split_combo.findData(current or preview.split)))
        for w in (self.split_label, self.split_combo):
            w.setVisible(bool(preview.splits))
        error = theme.colors().error_text
        kind = preview.file_kind.upper() + (f", {preview.encoding}" if preview.encoding else "")
        if preview.format:
            how = "chosen" if chosen not in (None, MAP_COLUMNS) else "detected"
            bad = sum(1 for r in preview.records if r.problems)
            note = (f" <span style='color:{error}'>{bad} of the first {len(preview.records)} records have "
                    "problems.</span>" if bad else "")
            pairs = (" It imports as a <b>preference</b> version: each row a prompt, a chosen and a rejected "
                     "reply." if getattr(preview, "kind", "sft") == "preference" else "")
            self.info_label.setText(f"<b>{kind}</b> — format: <b>{labels.get(preview.format, preview.format)}"
                                    f"</b> ({how}).{pairs}{note}")
        else:
            self.info_label.setText(f"<b>{kind}</b> — <span style='color:{error}'>"
                                    f"{preview.detection_error or 'The format is not recognised.'}</span> "
                                    "Map the columns to roles instead.")
        self.fields_label.setText("Fields: " + ", ".join(preview.fields) if preview.fields else "")
        show_unused(self.unused_label, preview.unused_fields,
                    f"Not kept (counted over the first {preview.records_read:,} records)")
        self.records.set_records(preview.records)
