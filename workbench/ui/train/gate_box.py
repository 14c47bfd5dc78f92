"""The Train page's regression gate: evaluate an eval suite on every kept checkpoint and the
final adapter, and mark the run passed or failed against a rule ("exact match must not drop
below the base model's"). The suites and their metrics load in a worker (the metric registry
imports the metric libraries)."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QWidget

from workbench.core.eval_records import GateRule
from workbench.ui.common.workers import Task, run_task

BASE_BASELINE, FIXED_BASELINE = "base", "fixed"


class GateBox(QGroupBox):
    """Checked: the run gets the gate (gate()); unchecked: no gate."""

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("Regression gate", parent)
        self.setObjectName("gateBox")
        self.setCheckable(True)
        self.setChecked(False)
        self.setToolTip("Score an eval suite on each kept checkpoint and on the final adapter; the Runs page "
                        "shows the scores by step and whether the run passed the rule.")
        self._suites: list[Any] = []  # services.gate_form.GateSuite
        self._task: Optional[Task] = None
        self.store: Any = None
        self.suite_combo = QComboBox()
        self.suite_combo.setObjectName("gateSuiteCombo")
        self.every_check = QCheckBox("Also on every kept checkpoint")
        self.every_check.setChecked(True)
        self.metric_combo = QComboBox()
        self.metric_combo.setObjectName("gateMetricCombo")
        self.baseline_combo = QComboBox()
        self.baseline_combo.addItem("the base model's score", BASE_BASELINE)
        self.baseline_combo.addItem("a fixed value", FIXED_BASELINE)
        self.value_spin = QDoubleSpinBox()
        self.value_spin.setDecimals(3)
        self.value_spin.setRange(-1e6, 1e6)
        self.margin_spin = QDoubleSpinBox()
        self.margin_spin.setDecimals(3)
        self.margin_spin.setRange(0.0, 1e6)
        self.margin_spin.setSingleStep(0.01)
        self.margin_spin.setToolTip("How much worse than the baseline still passes")
        self.rule_label = QLabel()
        self.rule_label.setObjectName("gateRule")
        self.rule_label.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Suite:", self.suite_combo)
        form.addRow("", self.every_check)
        form.addRow("Metric:", self.metric_combo)
        form.addRow("Compared with:", self.baseline_combo)
        form.addRow("Value:", self.value_spin)
        form.addRow("Allowed drop:", self.margin_spin)
        form.addRow(self.rule_label)
        self._form = form
        self.suite_combo.currentIndexChanged.connect(self._fill_metrics)
        for signal in (self.metric_combo.currentIndexChanged, self.baseline_combo.currentIndexChanged,
                       self.value_spin.valueChanged, self.margin_spin.valueChanged, self.toggled):
            signal.connect(self._update)
        self._update()

    # -- loading ---------------------------------------------------------------------------------
    def load(self, store: Any) -> Optional[Task]:
        """Read the project's suites again (in a worker)."""
        self.store = store
        if self._task is not None:
            self._task.cancel()
        if store is None:
            self._show([])
            return None
        from workbench.services import gate_form

        task = self._task = run_task(gate_form.gate_suites, store, name="gate suites")
        task.finished.connect(lambda suites, t=task: t is self._task and self._show(suites))
        return task

    def _show(self, suites: list[Any]) -> None:
        chosen = self.suite_combo.currentData()
        self._suites = suites
        self.suite_combo.blockSignals(True)
        self.suite_combo.clear()
        for suite in suites:
            self.suite_combo.addItem(suite.title, suite.suite_id)
        index = self.suite_combo.findData(chosen)
        self.suite_combo.setCurrentIndex(max(0, index))
        self.suite_combo.blockSignals(False)
        self._fill_metrics()

    def _fill_metrics(self) -> None:
        suite = self._suite()
        chosen = self.metric_combo.currentData()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for metric in suite.metrics if suite else []:
            self.metric_combo.addItem(metric.title, metric.name)
        self.metric_combo.setCurrentIndex(max(0, self.metric_combo.findData(chosen)))
        self.metric_combo.blockSignals(False)
        self._update()

    def _suite(self) -> Any:
        return next((s for s in self._suites if s.suite_id == self.suite_combo.currentData()), None)

    def _metric(self) -> Any:
        suite = self._suite()
        return next((m for m in suite.metrics if m.name == self.metric_combo.currentData()), None) if suite else None

    def _update(self) -> None:
        fixed = self.baseline_combo.currentData() == FIXED_BASELINE
        self._form.setRowVisible(self.value_spin, fixed)
        rule = self.rule()
        if not self._suites:
            self.rule_label.setText("No eval suites yet: make one on the Evaluate page.")
        elif rule is not None:
            self.rule_label.setText(f"Passes when {rule.describe()}.")
        self.changed.emit()

    # -- what the page reads ---------------------------------------------------------------------
    def rule(self) -> Optional[GateRule]:
        metric = self._metric()
        if metric is None:
            return None
        from workbench.services.gate_form import gate_rule

        fixed = self.baseline_combo.currentData() == FIXED_BASELINE
        return gate_rule(metric, self.value_spin.value() if fixed else BASE_BASELINE, self.margin_spin.value())

    def gate(self) -> Optional[tuple[str, list[GateRule], bool]]:
        """(suite id, rules, every checkpoint) when the gate is on and complete, else None."""
        rule = self.rule()
        if not self.isChecked() or rule is None:
            return None
        return self.suite_combo.currentData(), [rule], self.every_check.isChecked()

    def problem(self) -> str:
        """Why the gate cannot be attached as set ("" when it can, or when it is off)."""
        if self.isChecked() and self.rule() is None:
            return "Choose an eval suite and a metric for the regression gate, or turn the gate off."
        return ""

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
