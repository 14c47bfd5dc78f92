"""Clean… : one cleaning operation on a version, previewed (what it would remove or change,
with before/after) before Apply writes the result as a new child version."""

from __future__ import annotations

import html
from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.ui import theme
from workbench.ui.pages.base import hint
from workbench.ui.task_dialog import TaskDialog

# The services' operations (workbench.data.clean_params.OP_LABELS), in the order a user cleans.
OPS = (
    ("exact_dedup", "Remove exact duplicates"),
    ("near_dedup", "Remove near duplicates"),
    ("empty", "Remove empty rows and messages"),
    ("length", "Filter by length"),
    ("pii", "Scrub personal data (emails, phones, cards)"),
)
EXAMPLE_COLUMNS = ("Row", "Action", "Why", "Before", "After")
MAX_EXAMPLES = 200
_CELL_CHARS = 140


def _short(text: str, limit: int = _CELL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def changed_part(before: str, after: str) -> tuple[int, int, int]:
    """(common prefix length, end of the changed part in before, in after)."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    return start, len(before) - end, len(after) - end


def change_summary(before: list[dict[str, str]], after: Optional[list[dict[str, str]]]) -> tuple[str, str]:
    """Short before/after texts for a table cell: the changed fragments with some context."""
    if after is None:
        first = next((m["content"] for m in before if m.get("role") == "user"), before[0]["content"] if before else "")
        return _short(first), "(removed)"
    if len(before) != len(after):
        dropped = len(before) - len(after)
        return (_short(" | ".join(f"{m['role']}: {m['content']}" for m in before)),
                f"{dropped} message(s) dropped" if dropped > 0 else _short(" | ".join(m["content"] for m in after)))
    parts_b, parts_a = [], []
    for b, a in zip(before, after):
        x, y = b.get("content", ""), a.get("content", "")
        if x == y:
            continue
        start, end_b, end_a = changed_part(x, y)
        head = x[max(0, start - 25):start]
        parts_b.append(f"…{head}{x[start:end_b]}{x[end_b:end_b + 25]}…")
        parts_a.append(f"…{head}{y[start:end_a]}{y[end_a:end_a + 25]}…")
    return _short(" | ".join(parts_b)), _short(" | ".join(parts_a))


def _marked(text: str, start: int, end: int, color: str) -> str:
    return (html.escape(text[:start]) + f"<span style='background-color:{color}'>"
            + html.escape(text[start:end]) + "</span>" + html.escape(text[end:])).replace("\n", "<br>")


def example_html(change: Any) -> str:
    """Before and after of one affected row, the changed text highlighted."""
    colors = theme.colors()
    removed_bg, added_bg = "rgba(239,68,68,0.35)", "rgba(34,197,94,0.35)"
    lines = [f"<p><b>Row {change.index + 1}</b> — {html.escape(change.action)}: {html.escape(change.reason)}"]
    if change.duplicate_of is not None:
        lines.append(f" (duplicate of row {change.duplicate_of + 1}"
                     + (f", similarity {change.similarity:.2f}" if change.similarity is not None else "") + ")")
    if change.length is not None:
        lines.append(f" (length {change.length:,})")
    lines.append("</p>")
    after = change.after
    if after is None:  # removed: the whole conversation, struck out
        for m in change.before:
            lines.append(f"<p><b>{html.escape(str(m.get('role', '')))}</b>: <span style='color:{colors.muted_text}'>"
                         f"<s>{html.escape(str(m.get('content', ''))).replace(chr(10), '<br>')}</s></span></p>")
        return "".join(lines)
    # Changed: the changed and dropped messages first (with their edits marked), then how
    # many stayed as they were.
    same = 0
    for i, m in enumerate(change.before):
        role = html.escape(str(m.get("role", "")))
        text = str(m.get("content", ""))
        if len(after) == len(change.before):
            new = str(after[i].get("content", ""))
        else:
            new = text if m in after else None  # drop_message: kept as they were, or dropped
        if new is None:
            lines.append(f"<p><b>{role}</b> (message {i + 1}) dropped: <span style='background-color:{removed_bg}'>"
                         f"{html.escape(text) or '(empty)'}</span></p>")
        elif new == text:
            same += 1
        else:
            start, end_b, end_a = changed_part(text, new)
            lines.append(f"<p><b>{role}</b> (message {i + 1}) before:<br>{_marked(text, start, end_b, removed_bg)}"
                         f"<br><b>after:</b><br>{_marked(new, start, end_a, added_bg)}</p>")
    if same:
        lines.append(f"<p style='color:{colors.muted_text}'>{same} other message(s) unchanged.</p>")
    return "".join(lines)


class CleanDialog(TaskDialog):
    version_created = Signal(object)  # DatasetVersion (new, or the one this cleaning made before)

    def __init__(self, store: Any, version: Any, models: list[Any], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.store, self.version, self.models = store, version, models
        self.setObjectName("cleanDialog")
        self.setWindowTitle(f"Clean — {store.dataset_name(version.dataset_id)} ({version.row_count:,} rows)")
        self.resize(980, 680)
        self.report: Any = None  # the CleanReport shown
        self._previewed: Optional[tuple[str, dict[str, Any]]] = None  # what `report` was made with
        self.result_version: Any = None

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
        self.examples = QTableWidget(0, len(EXAMPLE_COLUMNS))
        self.examples.setObjectName("cleanExamples")
        self.examples.setHorizontalHeaderLabels(EXAMPLE_COLUMNS)
        self.examples.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.examples.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.examples.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.examples.verticalHeader().hide()
        self.examples.setWordWrap(False)
        header = self.examples.horizontalHeader()
        for col in range(3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.examples.itemSelectionChanged.connect(self._show_example)
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
        self.forms.addWidget(self._form(("Find:", kinds), ("In messages of:", roles), ("Leave these values:", self.keep_edit)))

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
                "keep": [v.strip() for v in self.keep_edit.text().split(",") if v.strip()]}

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
        self.summary.setText("".join(parts))
        table = self.examples
        table.setRowCount(len(report.examples))
        for i, ex in enumerate(report.examples):
            reason = ex.reason
            if ex.duplicate_of is not None:
                reason += f" of row {ex.duplicate_of + 1}"
                if ex.similarity is not None:
                    reason += f" ({ex.similarity:.2f})"
            if ex.length is not None:
                reason += f" ({ex.length:,})"
            before, after = change_summary(ex.before, ex.after if ex.action == "change" else None)
            for j, text in enumerate((str(ex.index + 1), ex.action, reason, before, after)):
                item = QTableWidgetItem(text)
                if j == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if j >= 3:
                    item.setToolTip(text)
                table.setItem(i, j, item)
        self.detail.clear()
        if report.examples:
            table.selectRow(0)
        nothing = not report.removed and not report.changed
        self.apply_button.setEnabled(not nothing and report.kept_rows > 0)
        if nothing:
            self.summary.setText(self.summary.text() + " Nothing to clean: Apply would make an identical version.")
        elif report.kept_rows == 0:
            self.summary.setText(self.summary.text() + " Every row would go: loosen the parameters.")

    def _show_example(self) -> None:
        rows = self.examples.selectionModel().selectedRows()
        if self.report is None or not rows or rows[0].row() >= len(self.report.examples):
            return
        self.detail.setHtml(example_html(self.report.examples[rows[0].row()]))

    def apply(self) -> None:
        if self._previewed is None:
            return
        from workbench.services import dataset_ops

        op, params = self._previewed
        self.start_task(dataset_ops.apply_clean, self.store, self.version.id, op, params,
                        label="Writing the cleaned version…", on_result=self._applied)

    def _applied(self, version: Any) -> None:
        self.result_version = version
        self.version_created.emit(version)
        self.accept()

    def busy_changed(self, busy: bool) -> None:
        self.preview_button.setEnabled(not busy)
        self.op_combo.setEnabled(not busy)
        self.forms.setEnabled(not busy)
        if busy:
            self.apply_button.setEnabled(False)
        elif self.report is not None and self._previewed == (self.op(), self.params()):
            self.apply_button.setEnabled(bool(self.report.removed or self.report.changed)
                                         and self.report.kept_rows > 0)
