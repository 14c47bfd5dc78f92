"""The chart with its toolbar: which metric (tabs), which x axis, log scale, smoothing, and
exporting the chart as PNG or SVG. view_changed tells the page what to remember."""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, Mapping, Optional, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QLabel, QMenu, QSizePolicy, QSlider, QTabBar, QToolBar,
    QToolButton, QVBoxLayout, QWidget,
)

from workbench.core import metric_names as mn
from workbench.core.errors import WorkbenchError
from workbench.ui.common.errors import show_error
from workbench.ui.runs.charts import curves
from workbench.ui.runs.charts.metric_chart import ChartRun, MetricChart
from workbench.ui.runs.charts.run_data import X_AXES

SMOOTHING_STEPS = 100  # the slider's 0..99 is the weight 0.00..0.99
SMOOTHING_DELAY_MS = 120  # a dragged slider re-smooths once it rests, not at every pixel
_FILTERS = {".png": "PNG image (*.png)", ".svg": "SVG image (*.svg)"}


class ChartPanel(QWidget):
    view_changed = Signal(dict)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("chartPanel")
        self.chart = MetricChart()
        self._metrics = [key for key, _title, _unit in mn.CHART_METRICS]
        self._export_dir = os.path.expanduser("~")

        self.tabs = QTabBar()
        self.tabs.setObjectName("chartMetricTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setDrawBase(False)
        self.tabs.setExpanding(False)
        for _key, title, _unit in mn.CHART_METRICS:
            self.tabs.addTab(title)
        self.tabs.currentChanged.connect(self._on_tab)

        self.x_combo = QComboBox()
        self.x_combo.setObjectName("chartXAxis")
        for axis in X_AXES:
            self.x_combo.addItem(curves.X_TITLES[axis], axis)
        self.x_combo.setToolTip("What the horizontal axis counts")
        self.x_combo.currentIndexChanged.connect(self._on_x_axis)

        self.log_check = QCheckBox("Log scale")
        self.log_check.setObjectName("chartLogScale")
        self.log_check.toggled.connect(self._on_log)

        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setObjectName("chartSmoothing")
        self.smoothing_slider.setRange(0, SMOOTHING_STEPS - 1)
        self.smoothing_slider.setFixedWidth(110)
        self.smoothing_value = QLabel()
        self.smoothing_value.setMinimumWidth(self.smoothing_value.fontMetrics().horizontalAdvance("0.00") + 4)
        self.smoothing_label = QLabel("Smoothing")
        self._smoothing_timer = QTimer(self)
        self._smoothing_timer.setSingleShot(True)
        self._smoothing_timer.setInterval(SMOOTHING_DELAY_MS)
        self._smoothing_timer.timeout.connect(self._apply_smoothing)
        self.smoothing_slider.valueChanged.connect(self._on_smoothing_moved)

        self.export_png_action = QAction("Export Chart as PNG…", self)
        self.export_png_action.triggered.connect(lambda: self.export_chart(".png"))
        self.export_svg_action = QAction("Export Chart as SVG…", self)
        self.export_svg_action.triggered.connect(lambda: self.export_chart(".svg"))
        self.export_button = QToolButton()
        self.export_button.setObjectName("chartExport")
        self.export_button.setText("Export")
        self.export_button.setToolTip("Save the chart as an image")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction(self.export_png_action)
        menu.addAction(self.export_svg_action)
        self.export_button.setMenu(menu)

        # The metric tabs get a row of their own; the controls are a tool bar, not a row of
        # widgets: in a narrow window what does not fit goes into its extension menu (»)
        # instead of forcing the whole window wider.
        self.tabs.setUsesScrollButtons(True)
        bar = QToolBar()
        bar.setObjectName("chartToolBar")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.addWidget(QLabel("X axis "))
        bar.addWidget(self.x_combo)
        bar.addSeparator()
        bar.addWidget(self.log_check)
        bar.addSeparator()
        bar.addWidget(self.smoothing_label)
        bar.addWidget(self.smoothing_slider)
        bar.addWidget(self.smoothing_value)
        bar.addSeparator()
        bar.addWidget(self.export_button)
        self.toolbar = bar
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.insertWidget(bar.actions()[0], spacer)  # the controls sit on the right, under the chart's corner
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.tabs)
        layout.addWidget(bar)
        layout.addWidget(self.chart, 1)
        self._sync_controls()

    # -- the chart's API, for the page --------------------------------------------------
    def set_runs(self, runs: Sequence[ChartRun]) -> None:
        self.chart.set_runs(runs)
        self._sync_controls()

    def load(self, run_id: str, series: Any) -> None:
        """MetricChart.load: MetricSeries by name, or run_data.prepare()'s RunData."""
        self.chart.load(run_id, series)

    def append(self, run_id: str, rows: Iterable[Any]) -> None:
        self.chart.append(run_id, rows)

    def append_metrics(self, metrics: Mapping[str, Iterable[Any]]) -> None:
        self.chart.append_metrics(metrics)

    def set_checkpoints(self, run_id: str, marks: Sequence[Any]) -> None:
        self.chart.set_checkpoints(run_id, marks)

    def ensure_built(self) -> None:
        self.chart.ensure_built()

    def apply_theme(self) -> None:
        self.chart.apply_theme()

    def view_state(self) -> dict[str, Any]:
        return self.chart.view_state()

    def restore_view_state(self, state: Mapping[str, Any]) -> None:
        """Apply a saved view state (no view_changed: nothing changed by the user)."""
        self.chart.restore_view_state(state)
        self._sync_controls()

    # -- export -------------------------------------------------------------------------
    def export_chart(self, suffix: str, path: Optional[str] = None) -> Optional[str]:
        """Export the chart as `suffix` (.png / .svg) to `path`, asking for it when None; errors
        go to the error dialog. The path written, or None."""
        if path is None:
            path = self._ask_path(suffix)
            if not path:
                return None
        if not os.path.splitext(path)[1]:
            path += suffix
        try:
            self.chart.export_image(path)
        except WorkbenchError as exc:
            show_error(self, exc, title="Export Chart")
            return None
        self._export_dir = os.path.dirname(os.path.abspath(path))
        return path

    def _ask_path(self, suffix: str) -> str:
        title = curves.METRICS[self.chart.metric_key][0]
        who = self.chart.runs[0].label if len(self.chart.runs) == 1 else "runs"
        name = re.sub(r"[^\w.-]+", "-", f"{who}-{title}").strip("-").lower() + suffix
        path, _filter = QFileDialog.getSaveFileName(self, "Export Chart", os.path.join(self._export_dir, name),
                                                    _FILTERS[suffix])
        return path

    # -- controls -----------------------------------------------------------------------
    def _sync_controls(self) -> None:
        """Show the chart's state in the controls without treating it as the user's change."""
        chart = self.chart
        for widget in (self.tabs, self.x_combo, self.log_check, self.smoothing_slider):
            widget.blockSignals(True)
        self.tabs.setCurrentIndex(self._metrics.index(chart.metric_key))
        self.x_combo.setCurrentIndex(X_AXES.index(chart.x_axis))
        self.log_check.setChecked(chart.log_y)
        self.smoothing_slider.setValue(int(round(chart.smoothing * 100)))
        for widget in (self.tabs, self.x_combo, self.log_check, self.smoothing_slider):
            widget.blockSignals(False)
        self.smoothing_value.setText(f"{chart.smoothing:.2f}")
        smooths = chart.metric_key == mn.LOSS
        tip = ("How much the training loss is smoothed (TensorBoard's moving average)" if smooths
               else "Smoothing applies to the training loss (the Loss tab)")
        for widget in (self.smoothing_label, self.smoothing_slider, self.smoothing_value):
            widget.setEnabled(smooths)
            widget.setToolTip(tip)
        self.export_button.setEnabled(bool(chart.runs))

    def _changed(self) -> None:
        self._sync_controls()
        self.view_changed.emit(self.chart.view_state())

    def _on_tab(self, index: int) -> None:
        self.chart.set_metric(self._metrics[index])
        self._changed()

    def _on_x_axis(self, index: int) -> None:
        self.chart.set_x_axis(X_AXES[index])
        self._changed()

    def _on_log(self, on: bool) -> None:
        self.chart.set_log_y(on)
        self._changed()

    def _on_smoothing_moved(self, value: int) -> None:
        self.smoothing_value.setText(f"{value / 100:.2f}")
        self._smoothing_timer.start()

    def _apply_smoothing(self) -> None:
        self.chart.set_smoothing(self.smoothing_slider.value() / 100)
        self._changed()
