"""Runs: every training run in a sortable, filterable table (table_model.py) with its commands
(actions.py), and below it the chart of the selected runs (charts/, fed by chart_feed.py) with a
progress line and ETA for a live run, and tabs: Details, Logs, Compare, Queue.

Selecting several runs overlays them; Compare pins a selection (the chart and the Compare tab
keep it while other runs are selected). A live run's row, curve and progress follow the
poller's per-run signals (ctx.run_changed, ctx.run_metrics); the table reloads only when the
list of runs changed (ctx.runs_changed), and not while the page is hidden.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QSplitter, QTabWidget, QToolButton, QVBoxLayout, QWidget

from workbench.core.records import Run
from workbench.ui.common import theme
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading
from workbench.ui.common.workers import InlineProgress
from workbench.ui.runs import view_state
from workbench.ui.runs.actions import RunActions, resume_state
from workbench.ui.runs.chart_feed import ChartFeed
from workbench.ui.runs.charts.chart_panel import ChartPanel
from workbench.ui.runs.compare_panel import ComparePanel
from workbench.ui.runs.details import DetailsView
from workbench.ui.runs.export_dialog import ExportCommand
from workbench.ui.runs.gate_panel import GatePanel
from workbench.ui.runs.logs_view import LogsView
from workbench.ui.runs.metrics_export_dialog import MetricsExport
from workbench.ui.runs.progress_line import ProgressLine
from workbench.ui.runs.queue_panel import QueuePanel
from workbench.ui.runs.run_commands import RunCommands
from workbench.ui.runs.runs_table import RunsTable
from workbench.ui.shell.context import ProjectContext

if TYPE_CHECKING:
    from workbench.services.run_views import RunRow
    from workbench.services.runs import ResumeCheck

TABS = ("Details", "Logs", "Compare", "Gate", "Queue")
SAVE_DELAY_MS = 400


class RunsPage(Page):
    title = "Runs"
    heavy_imports = ("pyqtgraph",)  # the charts (0.7 s of imports)
    chat_requested = Signal(str)  # run id
    duplicate_requested = Signal(object)  # (TrainConfig, dataset version id, base model id, run name)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._resume_checks: dict[tuple[str, str], "ResumeCheck"] = {}  # per (run, status): a listdir
        self._compared: list[str] = []  # run ids pinned by Compare
        self._restoring = False
        self.table = RunsTable()
        self.model, self.proxy = self.table.runs, self.table.proxy
        self.table.selection_changed.connect(self._selection_changed)
        self.table.sort_changed.connect(self._save_soon)  # sort, widths, order
        self.table.customContextMenuRequested.connect(self._show_context_menu)
        self.commands = RunCommands(self, self._status)
        self.commands.changed.connect(self._runs_edited)
        self.commands.duplicate_requested.connect(self.duplicate_requested)
        self.model.rename = self.commands.rename
        self.export = ExportCommand(self, lambda: (self.ctx.store if self.ctx else None, self.selected_run()))
        one = self._with_current
        self.actions = RunActions(self, self.table, {
            "resume": self.resume_selected, "cancel": self.cancel_selected, "retry": self.retry_selected,
            "duplicate": one(self.commands.duplicate), "compare": self._toggle_compare,
            "rename": one(lambda run: self.table.edit_name(run.id)),
            "tag": lambda: self.commands.edit_tags(self.selected_runs()), "delete": self.delete_selected,
            "open_folder": one(self.commands.open_folder), "chat": one(lambda run: self.chat_requested.emit(run.id)),
            "export_metrics": self.export_metrics}, self.export.action)
        a = self.actions
        self.chat_button = a.button("chat", "primary")
        self.resume_button = a.button("resume")
        self.retry_button = a.button("retry")
        self.cancel_button = a.button("cancel")
        self.compare_button = a.button("compare")
        self.context_menu = a.menu(self)
        self.menu_button = QToolButton()
        self.menu_button.setText("Run")
        self.menu_button.setToolTip("Every command for the selected runs (also on a right click in the table)")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_button.setMenu(a.menu(self))
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("runFilter")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setPlaceholderText("Filter by name, model, dataset, tag or status (Ctrl+F)")
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        find = QAction("Find", self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.triggered.connect(lambda: (self.filter_edit.setFocus(), self.filter_edit.selectAll()))
        self.addAction(find)

        self.charts = ChartPanel()
        self.chart = self.charts.chart
        self.feed = ChartFeed(self.charts, self)
        self.feed.failed.connect(lambda exc: show_error(self, exc, "Cannot load the run's curves"))
        self.feed.history.connect(self._on_history)
        self.charts.view_changed.connect(lambda _state: self._save_soon())
        self.progress_line = ProgressLine()
        self.export_progress = InlineProgress()
        self.metrics_export = MetricsExport(self, self.export_progress, self._status)
        self.details = DetailsView()
        self.logs = LogsView()
        self.compare = ComparePanel()
        self.gate = GatePanel()
        self.queue = QueuePanel()
        self.queue.changed.connect(self._queue_changed)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("runTabs")
        for widget, name in zip((self.details, self.logs, self.compare, self.gate, self.queue), TABS):
            self.tabs.addTab(widget, name)
        self.tabs.currentChanged.connect(self._tab_changed)
        self._layout()
        self.save_timer = QTimer(self)
        self.save_timer.setSingleShot(True)
        self.save_timer.setInterval(SAVE_DELAY_MS)
        self.save_timer.timeout.connect(self.save_view)
        self.duration_timer = QTimer(self)  # a running run's Duration cell counts up
        self.duration_timer.setInterval(1000)
        self.duration_timer.timeout.connect(self.model.tick_durations)
        self._selection_changed()

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(heading("Runs"))
        top.addWidget(self.filter_edit, 1)
        for b in (self.chat_button, self.resume_button, self.retry_button, self.cancel_button,
                  self.compare_button, self.export.button, self.menu_button):
            top.addWidget(b)
        chart_box = QWidget()
        chart_layout = QVBoxLayout(chart_box)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.addWidget(self.progress_line)
        chart_layout.addWidget(self.charts, 1)
        self.lower = QSplitter(Qt.Orientation.Horizontal)
        self.lower.setObjectName("runsLowerSplitter")
        self.lower.addWidget(chart_box)
        self.lower.addWidget(self.tabs)
        self.lower.setStretchFactor(0, 3)
        self.lower.setStretchFactor(1, 2)
        self.lower.setSizes([640, 460])  # the Compare tab's columns need room too
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("runsSplitter")
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.lower)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setSizes([200, 520])
        for s in (self.lower, self.splitter):
            s.splitterMoved.connect(lambda *_: self._save_soon())
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.export_progress)
        layout.addWidget(self.splitter, 1)

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        if self.ctx is not None:
            self.save_view()
        super().set_context(ctx)
        self._resume_checks.clear()
        self.details.reset()
        self._compared = []
        self.feed.set_context(ctx)
        self.commands.ctx = ctx
        self.queue.set_context(ctx)
        if ctx is not None:
            self.connect_ctx(ctx.runs_changed, self.refresh_when_shown(self.refresh))
            self.connect_ctx(ctx.models_changed, self.refresh_when_shown(self.refresh))
            self.connect_ctx(ctx.run_changed, self._on_run_changed)
            self.connect_ctx(ctx.run_metrics, self._on_metrics)
            self.connect_ctx(ctx.run_events, self._on_events)
            # A gate's evals ending changes the run's Gate cell and tab.
            self.connect_ctx(ctx.evals_changed, self.refresh_when_shown(self._evals_changed))
        self.refresh()
        self.restore_view()

    def page_shown(self) -> None:
        self.charts.ensure_built()  # the first show builds the chart (pyqtgraph was imported by a worker)
        self._show_current(self.selected_run())  # steps and status heard while hidden
        self.logs.set_shown(self.tabs.currentWidget() is self.logs)
        self.gate.set_shown(self.tabs.currentWidget() is self.gate)
        self.duration_timer.start()

    def set_current(self, current: bool) -> None:
        super().set_current(current)
        if not current:
            self.logs.set_shown(False)
            self.gate.set_shown(False)
            self.duration_timer.stop()

    def refresh(self) -> None:
        """Read the list of runs again (a run started, ended, was renamed or deleted)."""
        if self.ctx is not None:
            from workbench.services import run_views  # the store is loaded by now

            rows = run_views.run_rows(self.ctx.store)
        else:
            rows = []
        keep = [r.id for r in self.selected_runs()]
        current = self.selected_run()
        resets = self.model.resets
        self.model.set_rows(rows)
        if self.model.resets != resets:
            self.table.select_ids(keep, current.id if current else None)
        self._compared = [i for i in self._compared if self.model.row_of(i) >= 0]
        self.queue.refresh()
        self.tabs.setTabText(TABS.index("Queue"), f"Queue ({len(self.queue.model.run_ids())})"
                             if self.queue.model.run_ids() else "Queue")
        self._selection_changed()

    def _runs_edited(self, run_ids: list) -> None:
        """Renamed, tagged or deleted here: the rows now, the other pages through runs_changed."""
        if self.ctx is None:
            return
        for run_id in run_ids:
            try:
                self.model.update_run(self.ctx.store.get_run(run_id))
            except Exception:  # noqa: BLE001 - deleted: the reload below drops its row
                pass
        self.ctx.refresh_runs()
        if not self.is_current:
            self.refresh()

    def _queue_changed(self) -> None:
        if self.ctx is not None:  # the table's statuses and the Train page's queue line follow
            self.ctx.refresh_runs()

    # -- live updates ----------------------------------------------------------------------------
    def _on_metrics(self, metrics: dict) -> None:
        self.feed.append(metrics)
        self.progress_line.observe_rows(metrics)

    def _on_history(self, run_id: str, series: dict) -> None:
        """A loaded run's recent points give its speed before the next poll does."""
        from workbench.core import metric_names as mn

        loss = series.get(mn.LOSS)
        if loss is not None and len(loss):
            self.progress_line.observe(run_id, zip(loss.t[-200:].tolist(), loss.step[-200:].tolist()))
            row = self.model.find(run_id)
            current = self.selected_run()
            if row is not None and current is not None and current.id == run_id:
                self.progress_line.follow(row.run)

    def _on_run_changed(self, run: Run) -> None:
        self.progress_line.forget(run)
        if not self.model.update_run(run):
            return  # not listed yet: runs_changed brings it
        self.feed.run_changed(run)
        current = self.selected_run()
        if current is not None and current.id == run.id and self.is_current:
            self._show_current(run)

    def _on_events(self, events) -> None:
        for run_id, event in events:
            if event.kind == "checkpoint":
                row = self.model.find(run_id)
                if row is not None:
                    self.feed.checkpoint_saved(row.run)

    # -- selection -------------------------------------------------------------------------------
    def selected_runs(self) -> list[Run]:
        return self.table.selected_runs()

    def selected_run(self) -> Optional[Run]:
        return self.table.current_run()

    def select_run(self, run_id: str) -> None:
        self.select_runs([run_id], run_id)

    def select_runs(self, run_ids: list[str], current: Optional[str] = None) -> None:
        if any(self.model.row_of(i) < 0 for i in run_ids):
            self.refresh()  # just started, or listed while the page was hidden: not in the table yet
        self.table.select_ids(run_ids, current)

    def chart_runs(self) -> list["RunRow"]:
        """The runs the chart and the Compare tab show: the pinned ones, else the selection."""
        ids = self._compared or [r.id for r in self.selected_runs()]
        return [row for row in (self.model.find(i) for i in ids) if row is not None]

    def _selection_changed(self) -> None:
        current = self.selected_run()
        self._update_actions(current)
        shown = self.chart_runs()
        palette = theme.plot_palette()
        labels = [(r.run.id, r.run.name, palette[i % len(palette)]) for i, r in enumerate(shown)]
        self.feed.show([r.run for r in shown], labels)
        self.compare.set_runs(shown, {rid: colour for rid, _n, colour in labels})
        self._show_current(current)
        self._save_soon()

    def _evals_changed(self) -> None:
        self.refresh()
        self.gate.reload()

    def _show_current(self, run: Optional[Run]) -> None:
        self.progress_line.follow(run)
        self.logs.follow(self.ctx.path if self.ctx else None, run)
        self.gate.show_run(self.ctx.store if self.ctx else None, run)
        if self.details.show_run(self.ctx.store if self.ctx else None, run):
            self._update_actions(run)  # its status changed: what it allows too

    def _update_actions(self, current: Optional[Run]) -> None:
        ctx = self.ctx
        active = ctx.active_run_ids() if ctx is not None else []
        stopping = [s.run_id for s in ctx.stopping_runs()] if ctx is not None and active else []
        self.actions.update(self.selected_runs(), current, active, stopping, self._resume_state(current))
        self.export.follow(current)
        # A button does not follow its action's visibility.
        self.retry_button.setVisible(self.actions.retry.isVisible())
        self.compare_button.setVisible(self.actions.compare.isEnabled())

    def _resume_state(self, run: Optional[Run]) -> Optional[tuple[bool, str]]:
        if run is None or self.ctx is None:
            return None
        key = (run.id, run.status)
        check = self._resume_checks.get(key)
        if check is None:
            from workbench.services.runs import resume_check  # the store is loaded by now

            check = self._resume_checks[key] = resume_check(self.ctx.store, run)
        return resume_state(check)

    def _tab_changed(self, _index: int) -> None:
        self.logs.set_shown(self.is_current and self.tabs.currentWidget() is self.logs)
        self.gate.set_shown(self.is_current and self.tabs.currentWidget() is self.gate)
        self._save_soon()

    def _show_context_menu(self, pos) -> None:
        self.context_menu.popup(self.table.viewport().mapToGlobal(pos))

    # -- commands --------------------------------------------------------------------------------
    def _with_current(self, fn):
        """A handler calling fn(run) with the run single-run commands act on, if any."""
        def handler() -> None:
            run = self.selected_run()
            if run is not None:
                fn(run)
        return handler

    def _call(self, title: str, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, exc, title)
            return None

    def cancel_selected(self) -> None:
        run = self.selected_run()
        if run is not None and self.ctx is not None and self._call("Cannot cancel", self.ctx.runs.cancel, run.id) is None:
            # The job indicator reads "stopping" from the next poll until the run has ended.
            self.actions.cancel.setEnabled(False)

    def resume_selected(self) -> None:
        run = self.selected_run()
        if run is not None and self.ctx is not None:
            new = self._call("Cannot resume", self.ctx.runs.resume, run.id)
            if new is not None:
                self.ctx.refresh_runs()
                self.select_run(new.id)

    def retry_selected(self) -> None:
        run = self.selected_run()
        if run is not None and self.ctx is not None and self._call("Cannot retry", self.ctx.runs.retry_smaller,
                                                                   run.id) is not None:
            self.ctx.refresh_runs()
            self.select_run(run.id)

    def delete_selected(self) -> None:
        if self.ctx is not None:
            self.commands.delete(self.selected_runs(), self.ctx.active_run_ids())

    def _toggle_compare(self) -> None:
        on = self.actions.compare.isChecked()
        self._compared = [r.id for r in self.selected_runs()] if on else []
        if on:
            self.tabs.setCurrentIndex(TABS.index("Compare"))
        self._selection_changed()

    def export_metrics(self, path: Optional[str] = None):
        """Export the chart's runs' metrics (asks where unless `path` is given)."""
        rows = self.chart_runs()
        if not rows or self.ctx is None:
            return None
        ids = [r.run.id for r in rows]
        if path:
            return self.metrics_export.export_to(self.ctx.path, ids, path)
        name = rows[0].run.name if len(rows) == 1 else "runs"
        return self.metrics_export.start(self.ctx.path, ids, os.path.join(os.path.expanduser("~"), f"{name}-metrics.csv"))

    def _status(self, message: str) -> None:
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(message, 8000)

    # -- remembered view -------------------------------------------------------------------------
    def _save_soon(self) -> None:
        if not self._restoring and self.ctx is not None:
            self.save_timer.start()

    def view(self) -> view_state.RunsViewState:
        return view_state.capture(self)

    def save_view(self) -> None:
        self.save_timer.stop()
        if self.ctx is not None:
            view_state.save(self.ctx.project.id, self.view())

    def restore_view(self) -> None:
        if self.ctx is None:
            return
        self._restoring = True
        try:
            view_state.apply(self, view_state.load(self.ctx.project.id))
        finally:
            self._restoring = False

    # -- closing ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.save_view()
        self.export.shutdown()
        self.feed.shutdown()
        self.logs.shutdown()
        self.gate.shutdown()
        self.commands.shutdown()
        self.metrics_export.shutdown()

    def theme_changed(self) -> None:
        self.charts.apply_theme()
        self.gate.theme_changed()
        self.details.reset()
        self._show_current(self.selected_run())
        self._selection_changed()
