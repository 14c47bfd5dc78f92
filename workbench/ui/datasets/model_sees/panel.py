"""The right side of the Datasets page: the selected row as a conversation (a preference pair:
prompt, then chosen and rejected side by side), as the chosen base
model sees it (chat template, trained tokens), and the version's statistics against that
model's tokenizer and a max length. Template and statistics are computed in workers, only for
the tab on screen, and again only when the version, row, model or max length changed."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from workbench.core.records import DEFAULT_MAX_LENGTH
from workbench.core.tool_calls import readable_messages
from workbench.ui.common.errors import describe
from workbench.ui.common.chat_view import ChatView
from workbench.ui.datasets.model_sees.stats_view import StatsView
from workbench.ui.datasets.model_sees.template_view import TemplateView
from workbench.ui.datasets.pair_view import PairView
from workbench.ui.common.workers import InlineProgress, Task, run_task

CONVERSATION, TEMPLATE, STATS = range(3)


class ModelSeesPanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("tokenizerModel")
        self.model_combo.setToolTip("The base model whose tokenizer and chat template are used")
        self.max_spin = QSpinBox()
        self.max_spin.setObjectName("maxLength")
        self.max_spin.setRange(8, 1_048_576)
        self.max_spin.setValue(DEFAULT_MAX_LENGTH)
        self.max_spin.setSuffix(" tokens")
        self.max_spin.setToolTip("Max length in training: longer rows are truncated")
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_combo, 1)
        top.addWidget(QLabel("Max length:"))
        top.addWidget(self.max_spin)
        self.conversation = ChatView()
        self.conversation.setObjectName("conversationView")
        self.conversation.set_placeholder("Select a row to read its conversation.")
        self.pair_view = PairView()
        self.row_stack = QStackedWidget()  # the conversation, or a preference version's pair
        self.row_stack.addWidget(self.conversation)
        self.row_stack.addWidget(self.pair_view)
        self.template_view = TemplateView()
        self.stats_view = StatsView()
        self.stats_progress = InlineProgress()
        self.template_progress = InlineProgress()
        stats_box = QWidget()
        box = QVBoxLayout(stats_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.stats_progress)
        box.addWidget(self.stats_view, 1)
        template_box = QWidget()
        box = QVBoxLayout(template_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.template_progress)
        box.addWidget(self.template_view, 1)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("rowTabs")
        self.tabs.addTab(self.row_stack, "Conversation")
        self.tabs.addTab(template_box, "As the Model Sees It")
        self.tabs.addTab(stats_box, "Stats")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.store: Any = None
        self.version: Any = None
        self.row_index = -1
        self.stats_task: Optional[Task] = None
        self.template_task: Optional[Task] = None
        self._stats_key: Any = None  # what the shown statistics were computed for
        self._template_key: Any = None
        self.model_combo.currentIndexChanged.connect(self.update_visible)
        self.max_spin.editingFinished.connect(self.update_visible)
        self.tabs.currentChanged.connect(self.update_visible)

    # -- inputs ----------------------------------------------------------------------------------
    def set_store(self, store: Any) -> None:
        self.shutdown()
        self.store, self.version, self.row_index = store, None, -1
        self._stats_key = self._template_key = None
        self.refresh_models()

    def refresh_models(self) -> None:
        current = self.model_combo.currentData()
        models = []
        if self.store is not None:
            from workbench.services import models as model_service

            models = model_service.base_models(self.store)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for m in models:
            self.model_combo.addItem(m.name, m.id)
        if not models:
            self.model_combo.addItem("No base model yet (add one on the Models page)", None)
        index = self.model_combo.findData(current)
        self.model_combo.setCurrentIndex(index if index >= 0 else 0)
        self.model_combo.setEnabled(bool(models))
        self.model_combo.blockSignals(False)
        self.update_visible()

    def model_id(self) -> Optional[str]:
        return self.model_combo.currentData()

    def set_model(self, model_id: str) -> None:
        self.model_combo.setCurrentIndex(self.model_combo.findData(model_id))

    def is_pairs(self) -> bool:
        return self.version is not None and getattr(self.version, "kind", "sft") == "preference"

    def set_version(self, version: Any) -> None:
        self.version, self.row_index = version, -1
        self.conversation.set_messages([])
        self.pair_view.set_row(None)
        pairs = self.is_pairs()
        self.row_stack.setCurrentWidget(self.pair_view if pairs else self.conversation)
        self.tabs.setTabText(CONVERSATION, "Pair" if pairs else "Conversation")
        if version is None:
            self.stats_view.set_placeholder("Select a version to see its statistics.")
            self.template_view.set_message("Select a row to see it as the model sees it.")
        self.update_visible()

    def set_row(self, row_index: int, row: Optional[dict[str, Any]]) -> None:
        self.row_index = row_index
        if self.is_pairs():
            self.pair_view.set_row(row)
        elif row is None:
            self.conversation.set_messages([])
        else:
            # Tool calls written out under the assistant's text; tool results as their own bubbles.
            self.conversation.set_messages(readable_messages(row.get("messages") or []), follow=False)
            self.conversation.verticalScrollBar().setValue(0)
        self.update_visible()

    # -- computing what is on screen ---------------------------------------------------------------
    def update_visible(self, *_args: Any) -> None:
        tab = self.tabs.currentIndex()
        if tab == STATS:
            self._update_stats()
        elif tab == TEMPLATE:
            self._update_template()

    def _update_stats(self) -> None:
        if self.store is None or self.version is None:
            return
        key = (self.version.id, self.model_id(), self.max_spin.value())
        if key == self._stats_key:
            return
        from workbench.services import dataset_ops

        if self.stats_task is not None:
            self.stats_task.cancel()
        self._stats_key = key
        task = run_task(dataset_ops.version_stats, self.store, self.version.id, tokenizer=self.model_id(),
                        max_length=self.max_spin.value(), name="statistics")
        self.stats_task = task
        self.stats_progress.follow(task, f"Measuring {self.version.row_count:,} rows…")
        task.finished.connect(lambda stats: self.stats_task is task and self.stats_view.set_stats(stats))
        task.failed.connect(lambda exc: self.stats_task is task and self._stats_failed(exc))
        task.cancelled.connect(lambda: self.stats_task is task and self._forget("_stats_key"))
        task.done.connect(lambda: self._done("stats_task", task))

    def _stats_failed(self, exc: BaseException) -> None:
        message, advice, _ = describe(exc)
        self._stats_key = None
        self.stats_view.set_placeholder(f"{message}\n{advice}")

    def _update_template(self) -> None:
        if self.store is None or self.version is None:
            return
        if self.row_index < 0:
            self.template_view.set_message("Select a row to see it as the model sees it.")
            return
        if self.model_id() is None:
            self.template_view.set_message("Add a base model (Models page) to see its chat template here.")
            return
        key = (self.version.id, self.row_index, self.model_id(), self.max_spin.value())
        if key == self._template_key:
            return
        from workbench.services import dataset_ops

        if self.template_task is not None:
            self.template_task.cancel()
        self._template_key = key
        task = run_task(_render, dataset_ops.render_row, self.store, self.version.id, self.row_index,
                        self.model_id(), self.max_spin.value(), name="chat template")
        self.template_task = task
        self.template_progress.follow(task, "Rendering…")
        task.finished.connect(lambda rendered: self.template_task is task and self.template_view.set_rendered(rendered))
        task.failed.connect(lambda exc: self.template_task is task and self._template_failed(exc))
        task.cancelled.connect(lambda: self.template_task is task and self._forget("_template_key"))
        task.done.connect(lambda: self._done("template_task", task))

    def _template_failed(self, exc: BaseException) -> None:
        message, advice, _ = describe(exc)
        self._template_key = None
        self.template_view.set_message(f"{message} {advice}")

    def _forget(self, attr: str) -> None:
        setattr(self, attr, None)

    def _done(self, attr: str, task: Task) -> None:
        if getattr(self, attr) is task:
            setattr(self, attr, None)

    def theme_changed(self) -> None:
        self.conversation.rerender()
        self.pair_view.rerender()
        self.template_view.rerender()
        self.stats_view.apply_theme()

    def shutdown(self) -> None:
        for task in (self.stats_task, self.template_task):
            if task is not None:
                task.cancel()


def _render(render_row, store, version_id, row_index, model_id, max_length, progress=None, cancel=None):
    """Worker: render_row takes no progress/cancel (one row renders in milliseconds)."""
    return render_row(store, version_id, row_index, model_id, max_length=max_length)
