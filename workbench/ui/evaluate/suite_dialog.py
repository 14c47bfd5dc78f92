"""New Suite… / Edit Suite…: where the items come from (a split's test part, any dataset version,
or typed by hand), the metrics (the reference-free ones marked), the generation settings and an
optional local judge (model, pass/fail or 1–5, rubric). Editing a suite makes a new version.

The dialog only collects a SuiteRequest; the page makes the suite in a worker
(services.eval_suites), since reading a dataset version is file work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from workbench.ui.common.page import hint
from workbench.ui.evaluate.metrics_editor import JUDGE, MetricsEditor

if TYPE_CHECKING:
    from workbench.core.eval_records import EvalItem, EvalSuite, GenerationSettings, MetricSpec
    from workbench.services.eval_views import SuiteChoices

SOURCES = ("test_split", "dataset_version", "hand")
SOURCE_TITLES = ("From a test split", "From a dataset version", "Typed by hand")
HAND_COLUMNS = ("Prompt", "Reference (optional)", "Label (optional)")


@dataclass(frozen=True)
class SuiteRequest:
    """What the dialog asks for: source "test_split" / "dataset_version" (version_id, limit,
    label_field) or "hand" (items as dicts); edit_of: the suite this is a new version of."""

    name: str
    source: str
    metrics: list["MetricSpec"]
    generation: "GenerationSettings"
    version_id: Optional[str] = None
    limit: Optional[int] = None
    label_field: Optional[str] = None
    items: list[dict[str, Any]] = field(default_factory=list)
    edit_of: Optional[str] = None


class SuiteDialog(QDialog):
    def __init__(self, choices: "SuiteChoices", parent: Optional[QWidget] = None,
                 suite: Optional["EvalSuite"] = None, items: Optional[list["EvalItem"]] = None) -> None:
        super().__init__(parent)
        self.setObjectName("suiteDialog")
        self.suite = suite
        self.setWindowTitle(f"Edit Suite {suite.title}" if suite else "New Eval Suite")
        self.setMinimumSize(760, 640)
        self.name_edit = QLineEdit(suite.name if suite else "")
        self.name_edit.setPlaceholderText("e.g. support answers")
        self.sources = QTabWidget()
        self.sources.setObjectName("suiteSources")
        self.test_combo, self.version_combo = QComboBox(), QComboBox()
        for combo, entries in ((self.test_combo, choices.test_versions), (self.version_combo, choices.versions)):
            for vid, title in entries:
                combo.addItem(title, vid)
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(0, 1_000_000)
        self.limit_spin.setSpecialValueText("every row")
        self.limit_spin.setToolTip("Use only the first N rows (0: every row)")
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("a field of the original rows holding the class (for classification)")
        self.sources.addTab(self._version_tab(self.test_combo, "Make a test split on the Datasets page first "
                                              "(Split…): its held-out part is the fairest suite."
                                              if not choices.test_versions else ""), SOURCE_TITLES[0])
        self.sources.addTab(self._version_tab(self.version_combo, ""), SOURCE_TITLES[1])
        self.hand = QTableWidget(0, len(HAND_COLUMNS))
        self.hand.setObjectName("handItems")
        self.hand.setHorizontalHeaderLabels(list(HAND_COLUMNS))
        self.hand.horizontalHeader().setStretchLastSection(True)
        self.hand.setColumnWidth(0, 300)
        self.hand.setColumnWidth(1, 240)
        self.sources.addTab(self._hand_tab(), SOURCE_TITLES[2])
        # The row limit and label field, shared by both version tabs (hidden for typed items).
        self.version_fields = QWidget()
        fields = QFormLayout(self.version_fields)
        fields.setContentsMargins(0, 0, 0, 0)
        fields.addRow("Rows:", self.limit_spin)
        fields.addRow("Label field:", self.label_edit)
        self.sources.currentChanged.connect(lambda i: self.version_fields.setVisible(SOURCES[i] != "hand"))
        self.sources.setCurrentIndex(0 if choices.test_versions else 2)
        self.version_fields.setVisible(self.source() != "hand")
        self.metrics = MetricsEditor()
        self.metrics.set_choices(choices.metrics, [m for m in suite.metrics if m.name != JUDGE] if suite else None)
        self._generation_box(suite.generation if suite else None)
        self._judge_box(choices, next((m for m in suite.metrics if m.name == JUDGE), None) if suite else None)
        self.error = QLabel()
        self.error.setObjectName("suiteDialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b91c1c")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Save New Version" if suite else "Create Suite")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        lower = QHBoxLayout()
        lower.addWidget(self.generation_box)
        lower.addWidget(self.judge_box, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.sources, 2)
        layout.addWidget(self.version_fields)
        layout.addWidget(QLabel("<b>Metrics</b> (a metric that needs a reference is left out for items without one)"))
        layout.addWidget(self.metrics, 2)
        layout.addLayout(lower)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        if suite is not None:
            self._load_suite(suite, items or [])

    # -- parts -----------------------------------------------------------------------------------
    def _version_tab(self, combo: QComboBox, note: str) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        form.addRow("Version:", combo)
        if note:
            form.addRow(hint(note))
        return tab

    def _hand_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(hint("A probe set: one prompt a row, with the answer you expect (leave it empty for "
                              "reference-free metrics such as length or valid JSON)."))
        layout.addWidget(self.hand, 1)
        row = QHBoxLayout()
        self.add_row_button = QPushButton("Add Row")
        self.add_row_button.clicked.connect(lambda: self.add_item("", ""))
        self.remove_row_button = QPushButton("Remove Row")
        self.remove_row_button.clicked.connect(lambda: self.hand.removeRow(self.hand.currentRow()))
        row.addWidget(self.add_row_button)
        row.addWidget(self.remove_row_button)
        row.addStretch(1)
        layout.addLayout(row)
        return tab

    def _generation_box(self, generation: Optional["GenerationSettings"]) -> None:
        from workbench.core.eval_records import GenerationSettings

        g = generation or GenerationSettings()
        self.generation_box = QGroupBox("Generation")
        form = QFormLayout(self.generation_box)
        self.max_tokens_spin = QSpinBox()
        self.max_tokens_spin.setRange(1, 8192)
        self.max_tokens_spin.setValue(g.max_new_tokens)
        self.temperature_spin = QDoubleSpinBox()
        self.temperature_spin.setRange(0.0, 2.0)
        self.temperature_spin.setSingleStep(0.1)
        self.temperature_spin.setValue(g.temperature)
        self.temperature_spin.setToolTip("0: greedy (the same output every time); above 0: sampled with the seed")
        self.top_p_spin = QDoubleSpinBox()
        self.top_p_spin.setRange(0.01, 1.0)
        self.top_p_spin.setSingleStep(0.05)
        self.top_p_spin.setValue(g.top_p)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(g.seed)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 512)
        self.batch_spin.setValue(g.batch_size)
        for label, widget in (("Max new tokens:", self.max_tokens_spin), ("Temperature:", self.temperature_spin),
                              ("Top-p:", self.top_p_spin), ("Seed:", self.seed_spin), ("Batch size:", self.batch_spin)):
            form.addRow(label, widget)

    def _judge_box(self, choices: "SuiteChoices", judge: Optional["MetricSpec"]) -> None:
        self.judge_box = QGroupBox("Local judge (an LLM rates each output against the rubric)")
        self.judge_box.setObjectName("judgeBox")
        self.judge_box.setCheckable(True)
        self.judge_box.setChecked(judge is not None)
        form = QFormLayout(self.judge_box)
        self.judge_model = QComboBox()
        for mid, name in choices.judge_models:
            self.judge_model.addItem(name, mid)
        self.judge_scale = QComboBox()
        self.judge_scale.addItem("Pass / fail", "pass_fail")
        self.judge_scale.addItem("1–5", "1-5")
        self.rubric = QPlainTextEdit(choices.default_rubric)
        self.rubric.setObjectName("judgeRubric")
        self.rubric.setMinimumHeight(80)
        if judge is not None:
            for combo, value in ((self.judge_model, judge.params.get("model_id")),
                                 (self.judge_scale, judge.params.get("scale", "pass_fail"))):
                if combo.findData(value) >= 0:
                    combo.setCurrentIndex(combo.findData(value))
            if judge.params.get("rubric"):
                self.rubric.setPlainText(judge.params["rubric"])
        form.addRow("Model:", self.judge_model)
        form.addRow("Scale:", self.judge_scale)
        form.addRow("Rubric:", self.rubric)

    def _load_suite(self, suite: "EvalSuite", items: list["EvalItem"]) -> None:
        """Editing: a version-made suite keeps its rows (a new version changes what it measures);
        a hand-typed one shows its items to edit."""
        kind = suite.source.get("kind")
        if kind in ("test_split", "dataset_version"):
            index = SOURCES.index(kind)
            combo = self.test_combo if kind == "test_split" else self.version_combo
            vid = suite.source.get("dataset_version_id")
            if combo.findData(vid) >= 0:
                combo.setCurrentIndex(combo.findData(vid))
            self.limit_spin.setValue(suite.source.get("limit") or 0)
            self.label_edit.setText(suite.source.get("label_field") or "")
            self.sources.setCurrentIndex(index)
        else:
            for item in items:
                prompt = next((m.get("content", "") for m in reversed(item.messages) if m.get("role") == "user"), "")
                self.add_item(str(prompt), item.references[0] if item.references else "", item.label or "", item.id)
            self.sources.setCurrentIndex(SOURCES.index("hand"))
        for i in range(self.sources.count()):  # the items stay what they were; what is measured changes
            self.sources.setTabEnabled(i, i == self.sources.currentIndex())

    # -- contents --------------------------------------------------------------------------------
    def add_item(self, prompt: str, reference: str, label: str = "", item_id: Optional[str] = None) -> None:
        row = self.hand.rowCount()
        self.hand.insertRow(row)
        for col, text in enumerate((prompt, reference, label)):
            cell = QTableWidgetItem(text)
            if col == 0 and item_id is not None:
                cell.setData(Qt.ItemDataRole.UserRole, item_id)  # a kept item keeps its id
            self.hand.setItem(row, col, cell)

    def hand_items(self) -> list[dict[str, Any]]:
        out = []
        for row in range(self.hand.rowCount()):
            texts = [(self.hand.item(row, c).text().strip() if self.hand.item(row, c) else "") for c in range(3)]
            if not any(texts):
                continue
            item: dict[str, Any] = {"prompt": texts[0], "references": [texts[1]] if texts[1] else []}
            if texts[2]:
                item["label"] = texts[2]
            item_id = self.hand.item(row, 0).data(Qt.ItemDataRole.UserRole) if self.hand.item(row, 0) else None
            if item_id:
                item["id"] = item_id
            out.append(item)
        return out

    def source(self) -> str:
        return SOURCES[self.sources.currentIndex()]

    def request(self) -> SuiteRequest:
        """What the dialog asks for; ValueError with the reason when it is not complete."""
        from workbench.core.eval_records import GenerationSettings, MetricSpec

        name = self.name_edit.text().strip()
        if not name:
            raise ValueError("Give the suite a name.")
        metrics = self.metrics.specs()
        if self.judge_box.isChecked():
            if self.judge_model.currentData() is None:
                raise ValueError("The judge needs a base model: add one on the Models page.")
            metrics.append(MetricSpec(JUDGE, {"model_id": self.judge_model.currentData(),
                                              "scale": self.judge_scale.currentData(),
                                              "rubric": self.rubric.toPlainText().strip()}))
        if not metrics:
            raise ValueError("Choose at least one metric.")
        generation = GenerationSettings(max_new_tokens=self.max_tokens_spin.value(),
                                        temperature=self.temperature_spin.value(), top_p=self.top_p_spin.value(),
                                        seed=self.seed_spin.value(), batch_size=self.batch_spin.value())
        source = self.source()
        edit_of = self.suite.id if self.suite else None
        if source == "hand":
            items = self.hand_items()
            if not items:
                raise ValueError("Type at least one prompt (Add Row).")
            if any(not i["prompt"] for i in items):
                raise ValueError("Every row needs a prompt.")
            return SuiteRequest(name, source, metrics, generation, items=items, edit_of=edit_of)
        combo = self.test_combo if source == "test_split" else self.version_combo
        if combo.currentData() is None:
            raise ValueError("Choose a dataset version (import one on the Datasets page first).")
        return SuiteRequest(name, source, metrics, generation, version_id=combo.currentData(),
                            limit=self.limit_spin.value() or None, label_field=self.label_edit.text().strip() or None,
                            edit_of=edit_of)

    def _accept(self) -> None:
        try:
            self.request()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
