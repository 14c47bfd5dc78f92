"""Evaluate: eval suites (left, with New Suite / Edit Suite), the models to run one on (ticked,
then Run), the suite's eval runs with a progress bar each (Cancel, Resume), and the selected
eval runs compared: Results (metric × model with 95% intervals, a paired test of two), Items
(outputs side by side with the reference, sortable by spread, rated by people), Judge (how far
the local judge agrees with the people) and Checkpoints (a metric against the training step).

Every read, comparison, rating and export runs in a worker (loads.py); the eval runs follow
the poller's ctx.eval_progress per run and reload on ctx.evals_changed (not while hidden).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QSplitter, QTabWidget, QVBoxLayout, QWidget

from workbench.ui.common.errors import show_error
from workbench.ui.common.page import Page, heading, hint
from workbench.ui.common.workers import InlineProgress, Task, run_task
from workbench.ui.evaluate import loads
from workbench.ui.evaluate.actions import EvalActions
from workbench.ui.evaluate.checkpoint_chart import CheckpointChart
from workbench.ui.evaluate.eval_runs_model import EvalRunsModel, EvalRunsView, default_selection
from workbench.ui.evaluate.items_panel import ItemsPanel
from workbench.ui.evaluate.judge_panel import JudgePanel
from workbench.ui.evaluate.models_picker import ModelsPicker
from workbench.ui.evaluate.results_panel import ResultsPanel
from workbench.ui.evaluate.suites_list import SuitesList
from workbench.ui.shell.context import ProjectContext

if TYPE_CHECKING:
    from workbench.core.eval_records import EvalRun
    from workbench.services.eval_compare import Comparison
    from workbench.services.eval_views import RatingsView, SuiteView

TABS = ("Results", "Items", "Judge", "Checkpoints")
EXPORT_FILTERS = "CSV (*.csv);;JSON Lines (*.jsonl)"
ENDED = ("completed", "failed", "cancelled", "interrupted")


class EvaluatePage(Page):
    title = "Evaluate"
    heavy_imports = ("pyqtgraph",)  # the checkpoints chart

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.tasks: dict[str, Task] = {}  # the latest task of each kind (a newer one makes older results stale)
        self.listing: Optional[loads.Listing] = None
        self.view: Optional["SuiteView"] = None
        self.comparison: Optional["Comparison"] = None
        self.ratings: Optional["RatingsView"] = None
        self._select_after: list[str] = []  # eval runs to select once the suite's list is read
        self._want_suite: Optional[str] = None  # the suite to choose once the list is read again
        self._rate_queue: list[tuple] = []
        self._compare_key: Optional[tuple] = None  # the eval runs (and their state) last compared  # ratings waiting to be saved, in the order given
        self.actions = EvalActions(self, {
            "new_suite": lambda: self.open_suite_dialog(None), "edit_suite": self._edit_suite, "run": self.run_models,
            "cancel": self.cancel_selected, "resume": self.resume_selected, "export": self.export_results})
        self.suites = SuitesList()
        self.suites.chosen.connect(self._suite_chosen)
        self.models = ModelsPicker()
        self.models.changed.connect(self._update_actions)
        self.runs_model = EvalRunsModel(self)
        self.runs_view = EvalRunsView(self.runs_model)
        self.runs_view.customContextMenuRequested.connect(
            lambda pos: self.actions.menu(self).popup(self.runs_view.viewport().mapToGlobal(pos)))
        self.runs_view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.suite_title = QLabel()
        self.suite_title.setObjectName("suiteTitle")
        self.suite_title.setTextFormat(Qt.TextFormat.RichText)
        self.suite_note = hint("")
        self.suite_note.setObjectName("suiteNote")
        self.progress = InlineProgress()
        self.results = ResultsPanel()
        self.items = ItemsPanel()
        self.items.rate_requested.connect(self.rate)
        self.items.target_changed.connect(self._load_ratings)
        self.judge = JudgePanel()
        self.chart = CheckpointChart()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evalTabs")
        for widget, name in zip((self.results, self.items, self.judge, self.chart), TABS):
            self.tabs.addTab(widget, name)
        self.tabs.currentChanged.connect(lambda _i: self._tab_changed())
        self.compare_timer = QTimer(self)  # a selection dragged over many rows compares once
        self.compare_timer.setSingleShot(True)
        self.compare_timer.setInterval(150)
        self.compare_timer.timeout.connect(self.compare_selected)
        self._layout()
        self._update_actions()

    def _layout(self) -> None:
        a = self.actions
        top = QHBoxLayout()
        top.addWidget(heading("Evaluate"))
        top.addStretch(1)
        self.new_button, self.edit_button = a.button("new_suite", "primary"), a.button("edit_suite")
        self.export_button = a.button("export")
        for b in (self.new_button, self.edit_button, self.export_button):
            top.addWidget(b)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("<b>Suites</b>"))
        left_layout.addWidget(self.suites, 2)
        left_layout.addWidget(QLabel("<b>Models</b>"))
        left_layout.addWidget(self.models, 3)
        self.run_button = a.button("run", "primary")
        self.run_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        left_layout.addWidget(self.run_button)
        runs_bar = QHBoxLayout()
        runs_bar.addWidget(self.suite_title, 1)
        self.cancel_button, self.resume_button = a.button("cancel"), a.button("resume")
        runs_bar.addWidget(self.cancel_button)
        runs_bar.addWidget(self.resume_button)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addLayout(runs_bar)
        upper_layout.addWidget(self.suite_note)
        upper_layout.addWidget(self.runs_view, 1)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.setObjectName("evalSplitter")
        self.right.addWidget(upper)
        self.right.addWidget(self.tabs)
        self.right.setStretchFactor(1, 3)
        self.right.setSizes([190, 520])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([210, 890])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.splitter, 1)

    # -- project ---------------------------------------------------------------------------------
    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
        self._cancel_tasks()
        self._rate_queue.clear()
        self._compare_key = None
        self.listing, self.view, self.comparison, self.ratings = None, None, None, None
        self.suites.clear()
        self.models.set_models([])
        self._show_suite(None)
        if ctx is not None:
            self.connect_ctx(ctx.evals_changed, self.refresh_when_shown(self.refresh))
            self.connect_ctx(ctx.runs_changed, self.refresh_when_shown(self.refresh))  # new adapters to pick
            self.connect_ctx(ctx.models_changed, self.refresh_when_shown(self.refresh))
            self.connect_ctx(ctx.eval_progress, self._on_eval_progress)
            self.refresh()

    def page_shown(self) -> None:
        if self.tabs.currentWidget() is self.chart:
            self.chart.ensure_built()

    def _tab_changed(self) -> None:
        if self.tabs.currentWidget() is self.chart:
            self.chart.ensure_built()

    def _task(self, kind: str, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None],
              title: str) -> Task:
        """Run fn in a worker; `done(result)` only if no newer task of the kind started since."""
        old = self.tasks.get(kind)
        if old is not None and old.running:
            old.cancel()
        task = self.tasks[kind] = run_task(fn, *args, name=f"evaluate: {kind}")
        task.finished.connect(lambda result, t=task: self.tasks.get(kind) is t and done(result))
        task.failed.connect(lambda exc, t=task: self.tasks.get(kind) is t and show_error(self, exc, title))
        task.done.connect(lambda t=task: self._task_done(kind, t))
        return task

    def _task_done(self, kind: str, task: Task) -> None:
        if self.tasks.get(kind) is task:
            del self.tasks[kind]
        self._update_actions()

    def busy(self, kind: Optional[str] = None) -> bool:
        """A task (of `kind`) is still running (tests wait for this to be False)."""
        # A comparison waiting on its timer (the selection changed, a selected run ended) counts:
        # until it runs, the comparison shown is the one from before.
        return any(t.running for k, t in self.tasks.items() if kind is None or k == kind) or \
            (kind in (None, "pairs") and self.results.task is not None) or \
            (kind in (None, "rate") and bool(self._rate_queue)) or \
            (kind in (None, "compare") and self.compare_timer.isActive())

    def refresh(self) -> None:
        """Read the suites and the models again, then the chosen suite's eval runs."""
        if self.ctx is not None:
            self._task("listing", loads.listing, self.ctx.store, done=self._listed, title="Cannot read the suites")

    def _listed(self, listing: loads.Listing) -> None:
        self.listing = listing
        current, self._want_suite = self._want_suite or self.suites.suite_id(), None
        lineage = self.suites.lineage_of(self.view.suite.id if self.view else current)
        self.models.set_models(listing.models)
        self.suites.set_rows(listing.suites, current, lineage)

    # -- suites ----------------------------------------------------------------------------------
    def _suite_chosen(self) -> None:
        suite_id = self.suites.suite_id()
        if suite_id is None or self.ctx is None:
            self._show_suite(None)
            return
        self._task("suite", loads.suite, self.ctx.store, suite_id, done=self._show_suite,
                   title="Cannot read the suite")

    def _show_suite(self, view: Optional["SuiteView"]) -> None:
        same = view is not None and self.view is not None and view.suite.id == self.view.suite.id
        keep = self.selected_ids() if same else []
        self.view = view
        if view is None:
            self.suite_title.setText("<b>No suite yet</b>: New Suite… makes one from a test split, a dataset "
                                     "version or prompts you type." if self.ctx is not None else "")
            self.suite_note.setVisible(False)
            self.runs_model.set_runs([])
            self._compared(None)
            self._update_actions()
            return
        s = view.suite
        self.suite_title.setText(f"<b>{s.title}</b> · {s.item_count} items · "
                                 f"{', '.join(m.name for m in s.metrics)}")
        self.suite_note.setText(view.note or "")
        self.suite_note.setVisible(bool(view.note))
        self.runs_model.set_runs(view.eval_runs)
        wanted = self._select_after or keep or default_selection(view.eval_runs)
        self._select_after = []
        self.select_eval_runs(wanted)
        self._update_actions()

    def _edit_suite(self) -> None:
        if self.view is not None:
            self.open_suite_dialog(self.view.suite.id)

    def open_suite_dialog(self, suite_id: Optional[str]) -> None:
        """New Suite… (None) or Edit Suite… of `suite_id`: its choices are read in a worker first."""
        if self.ctx is not None:
            self._task("dialog", loads.dialog_choices, self.ctx.store, suite_id, done=self._show_dialog,
                       title="Cannot open the suite dialog")

    def _show_dialog(self, loaded: tuple) -> None:
        from workbench.ui.evaluate.suite_dialog import SuiteDialog

        choices, suite, items = loaded
        dialog = self.suite_dialog = SuiteDialog(choices, self, suite, items)
        dialog.accepted.connect(lambda: self.make_suite(dialog.request()))
        dialog.open()

    def make_suite(self, request) -> None:
        if self.ctx is not None:
            self.progress.follow(self._task("make_suite", loads.make_suite, self.ctx.store, request,
                                            done=self._suite_made, title="Cannot make the suite"),
                                 f"Making the suite {request.name}…")

    def _suite_made(self, suite) -> None:
        self._status(f"Suite {suite.title} saved with {suite.item_count} items")
        self._want_suite = suite.id
        if self.ctx is not None:
            self.ctx.refresh_evals()  # this page's list too

    # -- eval runs -------------------------------------------------------------------------------
    def run_models(self) -> None:
        models = self.models.checked()
        if self.ctx is None or self.view is None or not models:
            return
        self._task("start", loads.start, self.ctx, self.view.suite.id, models, done=self._started,
                   title="Cannot start the evaluation")
        self._update_actions()

    def _started(self, runs: list["EvalRun"]) -> None:
        self._status(f"Evaluating {len(runs)} model{'s' if len(runs) != 1 else ''} on {self.view.suite.title}"
                     if self.view else "")
        self._select_after = [r.id for r in runs] + [i for i in self.selected_ids()
                                                   if i not in {r.id for r in runs}]
        self._suite_chosen()
        if self.ctx is not None:
            self.ctx.refresh_evals()

    def _on_eval_progress(self, run: "EvalRun") -> None:
        old = self.runs_model.find(run.id)
        if not self.runs_model.update_run(run):
            return  # another suite's, or not listed yet (evals_changed brings it)
        if old is not None and old.status != run.status:
            self._update_actions()
            if run.id in self.selected_ids() and run.status in ENDED:
                self.compare_timer.start()  # its final outputs and scores

    def selected_ids(self) -> list[str]:
        return self.runs_view.selected_ids()

    def current_eval_run(self) -> Optional["EvalRun"]:
        return self.runs_view.current_run()

    def select_eval_runs(self, ids: list[str]) -> None:
        self.runs_view.select_ids(ids)
        self._selection_changed()

    def _selection_changed(self) -> None:
        self._update_actions()
        self.compare_timer.start()

    def compare_selected(self) -> None:
        ids = self.selected_ids()
        if self.ctx is None or not ids:
            self._compare_key = None
            self._compared(None)
            return
        # The same eval runs in the same state (a list reloaded): the comparison stands.
        key = tuple((r.id, r.status, r.done_items, r.failed_items) for r in map(self.runs_model.find, ids) if r)
        if key == self._compare_key and "compare" not in self.tasks:
            return
        self._compare_key = key
        # Base models first (the paired test's A), then in the order they were run.
        runs = sorted((r for r in map(self.runs_model.find, ids) if r), key=lambda r: (not r.model.is_base, r.created_at))
        self._task("compare", loads.compare, self.ctx.store, [r.id for r in runs], done=self._compared,
                   title="Cannot compare")

    def _compared(self, comparison: Optional["Comparison"]) -> None:
        self.comparison = comparison
        titles = self.listing.titles if self.listing else {}
        short = {k: t for k, (t, _h) in titles.items()}
        self.results.set_comparison(comparison, titles)
        self.items.set_comparison(comparison, short, self.view.judge_scale if self.view else None)
        self.chart.set_comparison(comparison, short)
        self._update_actions()
        self._load_ratings()

    def cancel_selected(self) -> None:
        run = self.current_eval_run()
        if run is not None and self.ctx is not None:
            self.actions.cancel.setEnabled(False)
            self._task("cancel", loads.cancel_eval, self.ctx, run.id, done=lambda _r: self._status(
                f"Cancelling the eval run of {run.label}: it stops after its current batch"), title="Cannot cancel")

    def resume_selected(self) -> None:
        run = self.current_eval_run()
        if run is not None and self.ctx is not None:
            self.actions.resume.setEnabled(False)
            self._task("resume", loads.resume, self.ctx, run.id, done=lambda r: self._started([r]),
                       title="Cannot resume")

    # -- ratings ---------------------------------------------------------------------------------
    def _load_ratings(self) -> None:
        target = self.items.rating.target_id()
        if self.ctx is None or target is None:
            self._show_ratings(None)
            return
        self._task("ratings", loads.ratings, self.ctx.store, target, done=self._show_ratings,
                   title="Cannot read the ratings")

    def rate(self, eval_run_id: str, item_id: str, value: float, scale: str, comment: str) -> None:
        """Save a rating. Ratings are saved one after the other (a person rates faster than a
        worker writes), so the ratings read after the last one hold them all."""
        self._rate_queue.append((eval_run_id, item_id, value, scale, comment))
        self._rate_next()

    def _rate_next(self) -> None:
        if self.ctx is None or "rate" in self.tasks or not self._rate_queue:
            return
        args = self._rate_queue.pop(0)
        task = self._task("rate", loads.rate, self.ctx.store, *args, done=self._rated, title="Cannot save the rating")
        task.done.connect(self._rate_next)  # after _task_done has forgotten it

    def _rated(self, view: "RatingsView") -> None:
        if view.eval_run_id == self.items.rating.target_id() and not self._rate_queue:
            self._show_ratings(view)

    def _show_ratings(self, view: Optional["RatingsView"]) -> None:
        self.ratings = view
        latest: dict[str, tuple[float, str]] = {}
        for r in sorted(view.ratings if view else [], key=lambda r: r.created_at):
            latest[r.item_id] = (r.value, r.scale)
        self.items.set_ratings(latest)
        label = self.items.rating.target.currentText()
        count = len({r.item_id for r in view.ratings}) if view else 0
        self.items.rating.show_rating(f"{count} item{'s' if count != 1 else ''} of {label} rated" if view else "")
        if view is None or view.agreement is None:
            self.judge.show_none(view.why_none if view else "")
        else:
            self.judge.show_agreement(view.agreement, label, view.by_rater)

    # -- export ----------------------------------------------------------------------------------
    def export_results(self, path: Optional[str] = None) -> Optional[Task]:
        """Export the compared eval runs (asks where unless `path` is given)."""
        ids = [r.id for r in self.comparison.runs] if self.comparison else []
        if self.ctx is None or not ids:
            return None
        if path is None:
            suggested = os.path.join(os.path.expanduser("~"), f"{self.view.suite.name if self.view else 'eval'}-results.csv")
            path, chosen = QFileDialog.getSaveFileName(self, "Export results", suggested, EXPORT_FILTERS)
            if not path:
                return None
            if not os.path.splitext(path)[1]:
                path += ".jsonl" if "jsonl" in chosen.lower() else ".csv"
        task = self._task("export", loads.export, self.ctx.store, ids, path,
                          done=lambda written: self._status(f"Exported {len(ids)} eval run(s) to {written}"),
                          title="Could not export the results")
        self.progress.follow(task, f"Exporting {len(ids)} eval run(s)…")
        return task

    # -- state -----------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        current = self.current_eval_run()
        self.actions.update(self.ctx is not None, self.view is not None, len(self.models.checked()),
                            current.status if current else None,
                            len(self.comparison.runs) if self.comparison else 0, "start" in self.tasks)

    def _status(self, message: str) -> None:
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(message, 8000)

    def _cancel_tasks(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()
        self.results.shutdown()

    def shutdown(self) -> None:
        self._cancel_tasks()

    def theme_changed(self) -> None:
        self.chart.apply_theme()
        self.chart.redraw()
