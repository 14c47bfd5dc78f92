"""Clean… : one cleaning operation on a version, previewed (what it would remove or change,
with before/after) before Apply writes the result as a new child version. Each listed change
can be switched off; Apply leaves those out and the new version records which."""

from __future__ import annotations

import dataclasses
from typing import Any, Hashable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.datasets.clean_preview import ChangeLine, change_lines, example_html
from workbench.ui.common.page import fit_then_stretch, hint, record_table
from workbench.ui.common.task_dialog import TaskDialog

# The services' operations (workbench.data.ops.clean_params.OP_LABELS), in the order a user cleans.
OPS = (
    ("exact_dedup", "Remove exact duplicates"),
    ("near_dedup", "Remove near duplicates"),
    ("empty", "Remove empty rows and messages"),
    ("length", "Filter by length"),
    ("pii", "Scrub personal data (emails, phones, cards)"),
)
EXAMPLE_COLUMNS = ("Row", "Change", "Why", "Before", "After")
MAX_EXAMPLES = 200
class CleanDialog(TaskDialog):
    version_created = Signal(object)  # DatasetVersion (new, or the one this cleaning made before)

    def __init__(self, store: Any, version: Any, models: list[Any], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.store, self.version, self.models = store, version, models
        self.setObjectName("cleanDialog")
        from workbench.services import dataset_ops

        self.setWindowTitle(f"Clean — {dataset_ops.title_of(store, version)}")
        self.resize(980, 680)
        self.report: Any = None  # the CleanReport shown
        self._previewed: Optional[tuple[str, dict[str, Any]]] = None  # what `report` was made with
        self.result_version: Any = None
        self.lines: list[ChangeLine] = []  # the table's lines (its check boxes switch them on or off)
        self._summary_text = ""  # what the preview found (the switched-off note is added to it)

        self.op_combo = QComboBox()
        for op, label in OPS:
            self.op_combo.addItem(label, op)
        self.forms = QStackedWidget()
        self._build_forms()
        self.op_combo.currentIndexChanged.connect(self.forms.setCurrentIndex)
        self.op_combo.currentIndexChanged.connect(self._params_changed)
        self.preview_button = QPushButton("Preview")
        self.preview_button.setObjectName("primary")
        self.preview_button.clicked.connect(self.preview)

        top = QFormLayout()
        top.addRow("Operation:", self.op_combo)
        params_box = QHBoxLayout()
        params_box.addWidget(self.forms, 1)
        params_box.addWidget(self.preview_button, 0, Qt.AlignmentFlag.AlignBottom)

        self.summary = QLabel("Choose an operation and press Preview: nothing changes until you Apply.")
        self.summary.setObjectName("cleanSummary")
        self.summary.setWordWrap(True)
        self.examples = record_table(EXAMPLE_COLUMNS, "cleanExamples")
        fit_then_stretch(self.examples, fitted=3)
        self.examples.itemSelectionChanged.connect(self._show_example)
        self.examples.itemChanged.connect(self._line_toggled)
        self.detail = QTextBrowser()
        self.detail.setObjectName("cleanDetail")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.examples)
        split.addWidget(self.detail)
        split.setSizes([300, 160])

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.apply_button = self.buttons.addButton("Apply: New Version", QDialogButtonBox.ButtonRole.ActionRole)
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(params_box)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        layout.addWidget(self.progress)
        layout.addWidget(hint("Apply writes a new version (its parent is this one); the version itself never "
                              "changes. Cleaning the same way again returns the version made before."))
        layout.addWidget(self.buttons)

    # -- parameters ------------------------------------------------------------------------------
    def _build_forms(self) -> None:
        changed = self._params_changed
        # exact duplicates
        self.case_check = QCheckBox("Case-sensitive (whitespace is always collapsed)")
        self.case_check.toggled.connect(changed)
        self.forms.addWidget(self._form(("", self.case_check)))
        # near duplicates
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.3, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setValue(0.8)
        self.threshold_spin.setToolTip("Estimated Jaccard similarity of 3-word shingles: lower finds more.")
        self.threshold_spin.valueChanged.connect(changed)
        self.system_check = QCheckBox("Compare system prompts too")
        self.system_check.toggled.connect(changed)
        self.forms.addWidget(self._form(("Similarity threshold:", self.threshold_spin), ("", self.system_check)))
        # empty
        self.empty_combo = QComboBox()
        self.empty_combo.addItem("Remove rows with an empty message", "remove_row")
        self.empty_combo.addItem("Drop only the empty messages", "drop_message")
        self.empty_combo.currentIndexChanged.connect(changed)
        self.forms.addWidget(self._form(("Empty messages:", self.empty_combo)))
        # length
        self.unit_combo = QComboBox()
        self.unit_combo.addItem("Characters", None)
        for m in self.models:
            self.unit_combo.addItem(f"Tokens of {m.name}", m.id)
        self.min_spin = QSpinBox()
        self.min_spin.setRange(0, 10_000_000)
        self.max_spin = QSpinBox()
        self.max_spin.setRange(0, 10_000_000)
        self.max_spin.setSpecialValueText("no limit")
        self.measure_combo = QComboBox()
        self.measure_combo.addItem("Message texts", "content")
        self.measure_combo.addItem("Rendered with the chat template (as trained)", "rendered")
        for w in (self.unit_combo, self.measure_combo):
            w.currentIndexChanged.connect(changed)
        for w in (self.min_spin, self.max_spin):
            w.valueChanged.connect(changed)
        self.unit_combo.currentIndexChanged.connect(
            lambda: self.measure_combo.setEnabled(self.unit_combo.currentData() is not None))
        self.measure_combo.setEnabled(False)
        self.forms.addWidget(self._form(("Measure in:", self.unit_combo), ("Minimum:", self.min_spin),
                                        ("Maximum:", self.max_spin), ("Count:", self.measure_combo)))
        # personal data
        kinds = QWidget()
        row = QHBoxLayout(kinds)
        row.setContentsMargins(0, 0, 0, 0)
        self.kind_checks = {}
        for kind, label in (("email", "Emails"), ("phone", "Phone numbers"), ("card", "Card numbers")):
            box = QCheckBox(label)
            box.setChecked(True)
            box.toggled.connect(changed)
            self.kind_checks[kind] = box
            row.addWidget(box)
        row.addStretch(1)
        roles = QWidget()
        row = QHBoxLayout(roles)
        row.setContentsMargins(0, 0, 0, 0)
        self.role_checks = {}
        for role in ("system", "user", "assistant"):
            box = QCheckBox(role)
            box.setChecked(True)
            box.toggled.connect(changed)
            self.role_checks[role] = box
            row.addWidget(box)
        row.addStretch(1)
        self.keep_edit = QLineEdit()
        self.keep_edit.setPlaceholderText("e.g. your own support address (comma-separated values)")
        self.keep_edit.textChanged.connect(changed)
        self.region_edit = QLineEdit("US")
        self.region_edit.setMaxLength(2)
        self.region_edit.setFixedWidth(self.region_edit.fontMetrics().horizontalAdvance("MMMM") + 16)
        self.region_edit.setToolTip("The country whose national numbers to find, e.g. US reads (415) 555-0132, GB "
                                    "reads 020 7946 0958. Numbers with a + country code are found whatever it is.")
        self.region_edit.textChanged.connect(changed)
        region = QWidget()
        row = QHBoxLayout(region)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.region_edit)
        row.addWidget(QLabel("country code for numbers without +, e.g. US, GB, DE (empty: only numbers with +)"), 1)
        self.forms.addWidget(self._form(("Find:", kinds), ("In messages of:", roles), ("Phone region:", region),
                                        ("Leave these values:", self.keep_edit)))

    @staticmethod
    def _form(*rows: tuple[str, QWidget]) -> QWidget:
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(0, 0, 0, 0)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    def op(self) -> str:
        return str(self.op_combo.currentData())

    def set_op(self, op: str) -> None:
        self.op_combo.setCurrentIndex(self.op_combo.findData(op))

    def params(self) -> dict[str, Any]:
        op = self.op()
        if op == "exact_dedup":
            return {"case_sensitive": self.case_check.isChecked()}
        if op == "near_dedup":
            return {"threshold": round(self.threshold_spin.value(), 4), "include_system": self.system_check.isChecked()}
        if op == "empty":
            return {"messages": self.empty_combo.currentData()}
        if op == "length":
            params: dict[str, Any] = {"min_length": self.min_spin.value(),
                                      "max_length": self.max_spin.value() or None}
            if self.unit_combo.currentData() is not None:
                params["tokenizer"] = self.unit_combo.currentData()
                params["measure"] = self.measure_combo.currentData()
            return params
        return {"kinds": [k for k, b in self.kind_checks.items() if b.isChecked()],
                "roles": [r for r, b in self.role_checks.items() if b.isChecked()],
                "keep": [v.strip() for v in self.keep_edit.text().split(",") if v.strip()],
                "phone_region": self.region_edit.text().strip().upper()}

    def _params_changed(self, *_args: Any) -> None:
        if self.report is not None and self._previewed != (self.op(), self.params()):
            self.apply_button.setEnabled(False)
            self.summary.setText("The parameters changed: Preview again to see what Apply would do.")

    # -- preview / apply -------------------------------------------------------------------------
    def preview(self) -> None:
        from workbench.services import dataset_ops

        op, params = self.op(), self.params()
        self.start_task(dataset_ops.preview_clean, self.store, self.version.id, op, params,
                        max_examples=MAX_EXAMPLES, label="Previewing…",
                        on_result=lambda report: self._show_report(report, op, params))

    def _show_report(self, report: Any, op: str, params: dict[str, Any]) -> None:
        self.report, self._previewed = report, (op, params)
        c = report.counts
        parts = [f"Would remove <b>{c.get('removed', 0):,}</b> and change <b>{c.get('changed', 0):,}</b> "
                 f"of {report.total_rows:,} rows, keeping {report.kept_rows:,}."]
        extra = {k: v for k, v in c.items() if k not in ("rows", "kept", "removed", "changed") and v}
        if extra:
            parts.append(" (" + ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in extra.items()) + ")")
        if report.examples_truncated:
            parts.append(f" The table lists the first {len(report.examples):,}.")
        if report.unit:
            parts.append(f" Lengths in {report.unit}.")
        self._summary_text = "".join(parts)
        self.summary.setText(self._summary_text)
        self.lines = change_lines(report)
        table = self.examples
        table.blockSignals(True)  # filling it is not the user switching changes off
        table.setRowCount(len(self.lines))
        for i, line in enumerate(self.lines):
            for j, text in enumerate((str(line.row + 1), line.action, line.reason, line.before, line.after)):
                item = QTableWidgetItem(text)
                if j == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked)
                    item.setToolTip("Uncheck to leave this as it is: Apply makes every other change.")
                if j >= 3:
                    item.setToolTip(text)
                table.setItem(i, j, item)
        table.blockSignals(False)
        self.detail.clear()
        if self.lines:
            table.selectRow(0)
        self._update_apply()

    def switched_off(self) -> set[Hashable]:
        """The keys (row index or replacement span) of the lines whose box is unchecked."""
        return {line.key for i, line in enumerate(self.lines)
                if (item := self.examples.item(i, 0)) is not None and item.checkState() != Qt.CheckState.Checked}

    def set_line_checked(self, line: int, on: bool) -> None:
        self.examples.item(line, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def exclusions(self) -> Any:
        """The preview's Exclusions (workbench.data.ops.clean_params) with the unchecked lines."""
        off = self.switched_off()
        return dataclasses.replace(self.report.excluded, rows=tuple(k for k in off if isinstance(k, int)),
                                   spans=tuple(k for k in off if not isinstance(k, int)))

    def _line_toggled(self, item: QTableWidgetItem) -> None:
        if item.column() != 0 or self.report is None:
            return
        self._update_apply()
        self._show_example()

    def _update_apply(self) -> None:
        """Apply is possible while some change is on (listed, or beyond the listed ones)."""
        report = self.report
        if report is None or self.busy or self._previewed != (self.op(), self.params()):
            self.apply_button.setEnabled(False)
            return
        off = self.switched_off()
        some = bool(report.removed or report.changed) and (len(off) < len(self.lines) or report.examples_truncated)
        self.apply_button.setEnabled(some and report.kept_rows > 0)
        text = self._summary_text
        if not (report.removed or report.changed):
            text += " Nothing to clean: Apply would make an identical version."
        elif report.kept_rows == 0:
            text += " Every row would go: loosen the parameters."
        elif off:
            text += (f" <b>{len(off):,}</b> change(s) switched off: Apply leaves them as they are"
                     + (" (every listed change is off)." if not some else "."))
        self.summary.setText(text)

    def _show_example(self) -> None:
        rows = self.examples.selectionModel().selectedRows()
        if self.report is None or not rows or rows[0].row() >= len(self.lines):
            return
        change = self.report.examples[self.lines[rows[0].row()].example]
        self.detail.setHtml(example_html(change, self.switched_off()))

    def apply(self) -> None:
        if self._previewed is None:
            return
        from workbench.services import dataset_ops

        op, params = self._previewed
        exclude = self.exclusions()
        self.start_task(dataset_ops.apply_clean, self.store, self.version.id, op, params,
                        exclude=exclude if exclude else None, label="Writing the cleaned version…",
                        on_result=self._applied)

    def _applied(self, version: Any) -> None:
        self.result_version = version
        self.version_created.emit(version)
        self.accept()

    def busy_changed(self, busy: bool) -> None:
        self.preview_button.setEnabled(not busy)
        self.op_combo.setEnabled(not busy)
        self.forms.setEnabled(not busy)
        self._update_apply()
