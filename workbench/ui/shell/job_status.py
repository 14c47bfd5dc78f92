"""The status bar's job indicator: the running training run's name, status and step/total.

It is the one place that says a run is stopping, read from RunManager's state after every poll,
so it changes the moment the run has ended (a timed status-bar message would outlive it). The
run's step comes from the records the polls re-read (ProjectContext.latest_run): no query per
tick."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from workbench.ui.shell.context import ProjectContext


PER_MILLE = 1000
_STOPPING = {"saving": "stopping, saving its adapter…", "terminating": "stopping, terminating…",
             "killing": "stopping, killing…"}


class JobStatus(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setObjectName("statusJob")
        self.progress = QProgressBar()
        self.progress.setObjectName("statusJobProgress")
        self.progress.setFixedWidth(220)
        # The bar's value is per mille and its text is set as a format: QProgressBar repaints
        # synchronously (the whole status bar, in the GUI thread) whenever the value it shows
        # as text changes, which "step %v" did on every step; a format change only schedules one.
        self.progress.setRange(0, PER_MILLE)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        self.hide()

    def update_from(self, ctx: Optional[ProjectContext]) -> None:
        active = ctx.active_run_ids() if ctx is not None else []
        if not active or ctx is None:
            self.hide()
            return
        from workbench.core.errors import WorkbenchError

        try:
            run = ctx.latest_run(active[0])
        except WorkbenchError:  # deleted meanwhile
            return
        more = f" (+{len(active) - 1} more)" if len(active) > 1 else ""
        stage = next((s.stage for s in ctx.stopping_runs() if s.run_id == run.id), None)
        state = _STOPPING.get(stage, stage) if stage else run.status
        self.label.setText(f"Training {run.name} — {state}{more}")
        # Maximum 0 shows a busy bar until the child reports its total.
        total = run.total_steps
        self.progress.setMaximum(PER_MILLE if total else 0)
        self.progress.setFormat(f"step {run.step:,} / {total:,}" if total else f"step {run.step:,}")
        value = min(PER_MILLE, run.step * PER_MILLE // total) if total else 0
        if self.progress.value() != value:
            self.progress.setValue(value)
        self.show()
