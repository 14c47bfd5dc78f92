"""What feeds the Runs page's chart: the runs it shows, each run's whole history loaded once in a
worker (services.run_metrics.load_metrics, its own read-only connection, and made into the
chart's buffers there: charts.run_data.prepare), the live points the
poller hands over appended as they come (points that arrive while the history loads are kept and
appended after it), and the checkpoints marked on the curves (a listdir, in a worker too).

The GUI thread never reads a metric from SQLite: a shown run costs one worker load, then only
appends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

from PySide6.QtCore import QObject, Signal

from workbench.ui.common.workers import Task, run_task

if TYPE_CHECKING:
    from workbench.core.records import Run
    from workbench.core.records import MetricRow
    from workbench.ui.shell.context import ProjectContext


def _load(project_path: str, run_id: str, smoothing: float, progress=None, cancel=None):
    """(the run's series, the chart's data built from them): a million points cost the GUI
    thread nothing then."""
    from workbench.services import run_metrics
    from workbench.ui.runs.charts import run_data

    series = run_metrics.load_metrics(project_path, run_id, progress=progress, cancel=cancel)
    return series, run_data.prepare(series, smoothing)


def _checkpoints(store: Any, run: "Run", progress=None, cancel=None):
    from workbench.services import run_metrics

    return run_metrics.checkpoints(store, run)


class ChartFeed(QObject):
    """Keeps `chart` (a charts.MetricChart) showing `runs` with all their points."""

    loaded = Signal(str)  # run id whose history is on the chart now (tests wait for it)
    history = Signal(str, object)  # (run id, {name: MetricSeries}) as it was loaded
    failed = Signal(object)  # an exception from a load

    def __init__(self, chart: Any, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.chart = chart
        self.ctx: Optional["ProjectContext"] = None
        self.shown: list[str] = []  # run ids on the chart, in legend order
        self.ready: set[str] = set()  # shown runs whose history is on the chart
        self._loading: dict[str, Task] = {}
        self._pending: dict[str, list["MetricRow"]] = {}  # live rows that arrived during a load
        self._marks: dict[str, Task] = {}
        self._statuses: dict[str, str] = {}

    def set_context(self, ctx: Optional["ProjectContext"]) -> None:
        for task in list(self._loading.values()) + list(self._marks.values()):
            task.cancel()
        self._loading.clear()
        self._marks.clear()
        self._pending.clear()
        self.ready.clear()
        self.shown = []
        self.ctx = ctx

    @property
    def busy(self) -> bool:
        return bool(self._loading)

    def show(self, runs: Sequence["Run"], labels: Sequence[tuple[str, str, str]]) -> None:
        """Draw these runs; labels: (run id, legend text, colour) in legend order."""
        from workbench.ui.runs.charts.metric_chart import ChartRun

        ids = [r.id for r in runs]
        for gone in set(self.shown) - set(ids):
            # Its points stop following the poll while it is off the chart: load it afresh next time.
            self.ready.discard(gone)
            self._pending.pop(gone, None)
            task = self._loading.pop(gone, None)
            if task is not None:
                task.cancel()
        self.shown = ids
        self.chart.set_runs([ChartRun(run_id, label, colour) for run_id, label, colour in labels])
        for run in runs:
            if run.id not in self.ready and run.id not in self._loading:
                self._start_load(run.id)
            if self._statuses.get(run.id) != run.status:
                self._statuses[run.id] = run.status
                self._load_marks(run)

    def _start_load(self, run_id: str) -> None:
        if self.ctx is None:
            return
        self._pending[run_id] = []
        smoothing = float(self.chart.view_state().get("smoothing", 0.6))
        task = self._loading[run_id] = run_task(_load, self.ctx.path, run_id, smoothing, name="load metrics")
        task.finished.connect(lambda loaded, rid=run_id, t=task: self._on_loaded(rid, t, *loaded))
        task.failed.connect(lambda exc, rid=run_id, t=task: self._on_failed(rid, t, exc))

    def _on_loaded(self, run_id: str, task: Task, series: dict, prepared: Any) -> None:
        if self._loading.get(run_id) is not task:
            return  # cancelled meanwhile (the run left the chart or the project closed)
        del self._loading[run_id]
        self.chart.load(run_id, prepared)
        pending = self._pending.pop(run_id, [])
        if pending:
            self.chart.append(run_id, pending)  # the chart skips points the history already had
        self.ready.add(run_id)
        self.history.emit(run_id, series)
        self.loaded.emit(run_id)

    def _on_failed(self, run_id: str, task: Task, exc: BaseException) -> None:
        if self._loading.get(run_id) is task:
            del self._loading[run_id]
            self._pending.pop(run_id, None)
            self.failed.emit(exc)

    def append(self, metrics: dict[str, list["MetricRow"]]) -> None:
        """New points from the poller (ctx.run_metrics): the shown runs' go onto the chart."""
        for run_id, rows in metrics.items():
            if run_id in self.ready:
                self.chart.append(run_id, rows)
            elif run_id in self._pending:
                self._pending[run_id].extend(rows)

    def run_changed(self, run: "Run") -> None:
        """A shown run that changed status (a checkpoint saved at its end, a best one chosen)
        gets its checkpoint marks again."""
        if run.id in self.shown and self._statuses.get(run.id) != run.status:
            self._statuses[run.id] = run.status
            self._load_marks(run)

    def checkpoint_saved(self, run: "Run") -> None:
        if run.id in self.shown:
            self._load_marks(run)

    def _load_marks(self, run: "Run") -> None:
        if self.ctx is None:
            return
        old = self._marks.pop(run.id, None)
        if old is not None:
            old.cancel()
        task = self._marks[run.id] = run_task(_checkpoints, self.ctx.store, run, name="list checkpoints")

        def done(marks, rid=run.id, t=task) -> None:
            if self._marks.get(rid) is t:
                del self._marks[rid]
                if rid in self.shown:
                    self.chart.set_checkpoints(rid, marks)

        task.finished.connect(done)
        task.failed.connect(lambda _exc, rid=run.id, t=task: self._marks.pop(rid, None) if self._marks.get(rid) is t
                            else None)

    def shutdown(self) -> None:
        self.set_context(None)
