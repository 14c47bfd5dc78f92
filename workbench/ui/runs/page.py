"""Runs: every training run with live status, its loss curve and details; cancel, resume, chat,
export a merged model (export_dialog.py)."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Optional, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from workbench.core.failures import FAILURE_LABELS
from workbench.core.records import ACTIVE_STATUSES, CHATTABLE_STATUSES, Run
from workbench.ui.common import theme
from workbench.ui.shell.context import ProjectContext
from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading, record_table
from workbench.ui.runs.export_dialog import ExportCommand
from workbench.ui.runs.loss_plot import LossPlot
from workbench.ui.runs.queue_panel import QueuePanel

if TYPE_CHECKING:
    from workbench.core.records import RunSegment
    from workbench.services.run_views import RunDetails, RunRow
    from workbench.services.runs import ResumeCheck

COLUMNS = ("Name", "Status", "Progress", "Step", "First loss", "Last loss", "Base model", "Created")
PROGRESS_COL = 2


class ProgressDelegate(QStyledItemDelegate):
    """Draws the Progress column (a fraction in UserRole) as a progress bar."""

    def paint(self, painter, option, index) -> None:
        fraction = index.data(Qt.ItemDataRole.UserRole)
        if fraction is None:
            return super().paint(painter, option, index)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 4, -3, -4)
        bar.minimum, bar.maximum = 0, 1000
        bar.progress = int(float(fraction) * 1000)
        bar.text = f"{float(fraction) * 100:.0f}%"
        bar.textVisible = True
        bar.state = option.state
        style = option.widget.style() if option.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


def _segment_row(s: "RunSegment", muted: str) -> str:
    """One segment as a table row: when, from which step to which, how it ended and why."""
    when = (s.started_at or "")[:19].replace("T", " ")
    how = "started" if s.idx == 0 else (f"resumed at step {s.start_step}" if s.start_step else "started again")
    if s.note:
        how += f" ({s.note})"
    end = f"{s.end_status} at step {s.end_step}" if s.end_status else "running"
    why = f" — {s.reason}" if s.reason else ""
    return (f"<tr><td style='color:{muted}'>{s.idx + 1}.</td><td>&nbsp;{html.escape(when)}</td>"
            f"<td>&nbsp;{html.escape(how)}</td><td>&nbsp;→ {html.escape(end + why)}</td></tr>")


def status_text(run: Run) -> str:
    """The status as the table shows it: why it failed beside "failed" (e.g. failed · Out of memory)."""
    label = FAILURE_LABELS.get(run.failure_kind or "")
    return f"{run.status} · {label}" if label else run.status


def _loss(value: Optional[float]) -> str:
    return "" if value is None else f"{value:.4f}"


class RunsPage(Page):
    title = "Runs"
    chat_requested = Signal(str)  # run id

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._rows: list["RunRow"] = []
        self._plotted: Optional[str] = None  # the run whose series the plot follows
        # services.run_views.run_details per run: a run's dataset and base model never change,
        # so they are read once per run, not on every refresh.
        self._details: dict[str, "RunDetails"] = {}
        # services.runs.resume_check per (run id, status): a finished run's checkpoints do not
        # change, so the folder is looked at once per status change, not on every refresh.
        self._resume_checks: dict[tuple[str, str], "ResumeCheck"] = {}
        self.table = record_table(COLUMNS, "runsTable")
        self.table.setItemDelegateForColumn(PROGRESS_COL, ProgressDelegate(self.table))
        self.table.itemSelectionChanged.connect(self._on_selected)
        self.queue = QueuePanel()
        self.queue.changed.connect(self._queue_changed)

        self.plot = LossPlot()
        self.details = QTextBrowser()
        self.details.setObjectName("runDetails")
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self.resume_selected)
        self.retry_button = QPushButton("Retry with half the batch")
        self.retry_button.setToolTip("Out of memory: start this run again with half the batch size and twice "
                                     "the gradient accumulation (the same effective batch), from its checkpoint.")
        self.retry_button.clicked.connect(self.retry_selected)
        self.chat_button = QPushButton("Chat with this run")
        self.chat_button.setObjectName("primary")
        self.chat_button.clicked.connect(self._request_chat)
        self.export = ExportCommand(self, lambda: (self.ctx.store if self.ctx else None, self.selected_run()))
        buttons = QHBoxLayout()
        buttons.addWidget(heading("Runs"))
        buttons.addStretch(1)
        for b in (self.cancel_button, self.resume_button, self.retry_button, self.export.button, self.chat_button):
            buttons.addWidget(b)

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.plot)
        lower.addWidget(self.details)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        lower.setSizes([600, 400])
        queue_box = QWidget()
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.addWidget(QLabel("<b>Queue</b>: runs waiting to start, one after another"))
        queue_layout.addWidget(self.queue, 1)
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.table)
        upper.addWidget(queue_box)
        upper.setStretchFactor(0, 3)
        upper.setStretchFactor(1, 1)
        upper.setSizes([750, 250])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(upper)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 5)
        splitter.setSizes([180, 520])
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)
        self._update_buttons(None)

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self._resume_checks.clear()
        self._details.clear()
        self.queue.set_context(ctx)
        if ctx is not None:
            self.connect_ctx(ctx.runs_changed, self.refresh)
            self.connect_ctx(ctx.run_events, self._on_events)
            self.connect_ctx(ctx.models_changed, self.refresh)
        self.refresh()

    def page_shown(self) -> None:
        # The first time the page shows (after the window is up) pyqtgraph gets imported.
        self.plot.ensure_built()
        self.refresh()

    def refresh(self) -> None:
        selected = self.selected_run()
        keep = selected.id if selected else None
        if self.ctx is not None:
            from workbench.services import run_views  # the store is loaded by now

            self._rows = run_views.run_rows(self.ctx.store)
        else:
            self._rows = []
        table = self.table
        table.blockSignals(True)
        table.setRowCount(len(self._rows))
        for i, row in enumerate(self._rows):
            run = row.run
            step = f"{run.step:,} / {run.total_steps:,}" if run.total_steps else (str(run.step) if run.step else "")
            cells = (run.name, status_text(run), "", step, _loss(run.first_loss), _loss(run.last_loss),
                     row.model_name, run.created_at[:19].replace("T", " "))
            for j, text in enumerate(cells):
                item = table.item(i, j)
                if item is None:
                    item = QTableWidgetItem()
                    table.setItem(i, j, item)
                item.setText(text)
                if j in (3, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.item(i, PROGRESS_COL).setData(Qt.ItemDataRole.UserRole, run.progress)
            table.item(i, 1).setForeground(self._status_color(run.status))
        index = next((i for i, r in enumerate(self._rows) if r.run.id == keep), 0 if self._rows else -1)
        if index >= 0:
            table.selectRow(index)
        table.blockSignals(False)
        # Statuses and numbers change width as a run goes; the last column stretches.
        for col in range(len(COLUMNS) - 1):
            table.resizeColumnToContents(col)
        table.setColumnWidth(PROGRESS_COL, max(table.columnWidth(PROGRESS_COL), 120))
        self._show_run(self.selected_run(), reset_plot=False)
        self.queue.refresh()

    def _queue_changed(self) -> None:
        if self.ctx is not None:  # the table's statuses and the Train page's queue line follow
            self.ctx.runs_changed.emit()

    @staticmethod
    def _status_color(status: str) -> QBrush:
        colors = {"running": "#2563eb", "queued": "#2563eb", "completed": "#16a34a",
                  "failed": "#dc2626", "interrupted": "#d97706", "cancelled": "#6b7280"}
        return QBrush(QColor(colors.get(status, "#6b7280")))

    def selected_run(self) -> Optional[Run]:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._rows):
            return None
        return self._rows[rows[0].row()].run

    def select_run(self, run_id: str) -> None:
        self.refresh()
        index = next((i for i, r in enumerate(self._rows) if r.run.id == run_id), -1)
        if index >= 0:
            self.table.selectRow(index)

    # -- selection and details -------------------------------------------------------------------
    def _on_selected(self) -> None:
        self._show_run(self.selected_run(), reset_plot=True)

    def _show_run(self, run: Optional[Run], reset_plot: bool) -> None:
        self._update_buttons(run)
        if run is None or self.ctx is None:
            self.details.setHtml("")
            self.plot.set_source(None)
            self._plotted = None
            return
        from workbench.services import run_views

        if reset_plot or self._plotted != run.id:
            store, run_id = self.ctx.store, run.id
            self._plotted = run_id
            self.plot.set_source(lambda: run_views.loss_series(store, run_id))
        details = self._details.get(run.id)
        if details is None:
            details = self._details[run.id] = run_views.run_details(self.ctx.store, run.id)
        segments = run_views.run_segments(self.ctx.store, run.id)
        self.details.setHtml(self._details_html(run, details, segments))

    def _details_html(self, run: Run, details: "RunDetails", segments: Sequence["RunSegment"] = ()) -> str:
        c = theme.colors()
        esc = html.escape
        rows = [("Status", status_text(run)), ("Base model", details.model_name), ("Dataset", details.dataset_title)]
        rows += [("Started", (run.started_at or "")[:19].replace("T", " ")),
                 ("Finished", (run.finished_at or "")[:19].replace("T", " ")),
                 ("Created by", run.created_by)]
        env = run.environment or {}
        if env.get("device"):
            rows.append(("Device", str(env["device"])))
        from workbench.services import run_views

        rows.append(("Peak memory", run_views.peak_memory_text(run)))
        if env.get("tokens_per_s"):
            rows.append(("Throughput", f"{env['tokens_per_s']:,.0f} tokens/s, "
                                       f"{env.get('examples_per_s') or 0:,.2f} examples/s"))
        if env.get("best_eval_loss") is not None:
            rows.append(("Best eval loss", f"{env['best_eval_loss']:.4f}" + (f" ({env['best_path']})"
                                                                             if env.get("best_path") else "")))
        if run.adapter_path:
            rows.append(("Adapter", run.adapter_path))
        parts = [f"<h3>{esc(run.name)}</h3>"]
        if run.error:
            error = run.error_message
            parts.append(f"<p style='color:{c.error_text}'><b>{esc(error.splitlines()[0])}</b></p>")
            if run.error_advice:
                parts.append(f"<p>{esc(run.error_advice)}</p>")
            rest = "\n".join(error.splitlines()[1:]).strip()
            if rest:
                parts.append(f"<pre style='color:{c.muted_text}; white-space:pre-wrap'>{esc(rest[-1500:])}</pre>")
        table = "".join(f"<tr><td style='color:{c.muted_text}'>{esc(k)}</td><td>&nbsp;{esc(str(v))}</td></tr>"
                        for k, v in rows if v)
        parts.append(f"<table cellspacing='2'>{table}</table>")
        if len(segments) > 1 or any(s.idx > 0 for s in segments):
            parts.append("<p><b>Segments</b> (each start, stop and resume of this run)</p>")
            parts.append(f"<table cellspacing='2'>{''.join(_segment_row(s, c.muted_text) for s in segments)}</table>")
        config = {k: v for k, v in (run.config or {}).items() if v is not None}
        parts.append("<p><b>Configuration</b></p>")
        parts.append(f"<pre>{esc(json.dumps(config, indent=1, sort_keys=True))}</pre>")
        return "".join(parts)

    def _update_buttons(self, run: Optional[Run]) -> None:
        active = run is not None and self.ctx is not None and run.id in self.ctx.active_run_ids()
        stopping = active and any(s.run_id == run.id for s in self.ctx.stopping_runs())  # type: ignore
        self.cancel_button.setEnabled(bool(active and run.status in ACTIVE_STATUSES and not stopping))
        self._update_resume(run)
        oom = run is not None and run.status == "failed" and run.failure_kind == "oom"
        self.retry_button.setVisible(oom)
        if oom:
            batch = run.train_config.batch_size
            self.retry_button.setEnabled(batch > 1)
            self.retry_button.setText(f"Retry with batch {batch // 2}" if batch > 1 else "Retry with half the batch")
        self.chat_button.setEnabled(run is not None and run.status in CHATTABLE_STATUSES and bool(run.adapter_path))
        self.export.follow(run)

    def _update_resume(self, run: Optional[Run]) -> None:
        if run is None or self.ctx is None:
            self.resume_button.setEnabled(False)
            self.resume_button.setToolTip("Select a run to resume.")
            return
        key = (run.id, run.status)
        check = self._resume_checks.get(key)
        if check is None:
            from workbench.services.runs import resume_check  # the store is loaded by now

            check = self._resume_checks[key] = resume_check(self.ctx.store, run)
        self.resume_button.setEnabled(check.ok)
        if check.ok:
            step = check.checkpoint.rsplit("-", 1)[-1]
            text = [f"Continue from its checkpoint at step {step} as the same run."]
        else:
            text = [check.reason, check.advice]
        # Rich text, so that Qt wraps the tooltip instead of drawing one screen-wide line.
        self.resume_button.setToolTip("".join(f"<p>{html.escape(t)}</p>" for t in text if t))

    def _on_events(self, events) -> None:
        run = self.selected_run()
        if run is not None and any(rid == run.id and ev.kind == "log" for rid, ev in events):
            self.plot.invalidate()

    # -- actions ---------------------------------------------------------------------------------
    def cancel_selected(self) -> None:
        run = self.selected_run()
        if run is None or self.ctx is None:
            return
        try:
            self.ctx.runs.cancel(run.id)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc)
            return
        # No timed status-bar message: it would outlive the run. The job indicator reads
        # "stopping" from the next poll until the run has ended.
        self.cancel_button.setEnabled(False)

    def resume_selected(self) -> None:
        run = self.selected_run()
        if run is None or self.ctx is None:
            return
        try:
            new = self.ctx.runs.resume(run.id)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc, "Cannot resume")
            return
        self.select_run(new.id)

    def retry_selected(self) -> None:
        run = self.selected_run()
        if run is None or self.ctx is None:
            return
        try:
            self.ctx.runs.retry_smaller(run.id)
        except Exception as exc:  # noqa: BLE001
            show_error(self, exc, "Cannot retry")
            return
        self.ctx.runs_changed.emit()
        self.select_run(run.id)

    def shutdown(self) -> None:
        self.export.shutdown()

    def _request_chat(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.chat_requested.emit(run.id)

    def theme_changed(self) -> None:
        self.plot.apply_theme()
        self._show_run(self.selected_run(), reset_plot=False)
