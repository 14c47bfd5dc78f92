"""One item across the compared models: the prompt on top, then the reference and each model's
output side by side (one column each) with its scores and the judge's verdict; an item that
failed shows its error instead of an output."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QSplitter, QTextBrowser, QVBoxLayout, QWidget

from workbench.ui.evaluate.results_model import number
from workbench.ui.runs.table_model import status_color

if TYPE_CHECKING:
    from workbench.services.eval_compare import ItemComparison


def _para(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def prompt_html(row: "ItemComparison") -> str:
    parts = [f"<p><b>{html.escape(str(m.get('role', '')))}:</b> {_para(str(m.get('content', '')))}</p>"
             for m in row.item.messages]
    return "".join(parts)


def reference_html(row: "ItemComparison") -> str:
    refs = row.item.references
    if refs:
        parts = ["<p>" + "</p><p>— ".join(_para(r) for r in refs) + "</p>"]
    else:
        parts = ["<p><i>No reference answer (only the reference-free metrics score this item).</i></p>"]
    if row.item.label:
        parts.append(f"<p><b>Label:</b> {html.escape(row.item.label)}</p>")
    return "".join(parts)


def output_html(row: "ItemComparison", eval_run_id: str, metric_titles: dict[str, str]) -> str:
    result = row.results.get(eval_run_id)
    if result is None:
        return "<p><i>No result yet.</i></p>"
    if result.error is not None:
        colour = status_color("failed").name()
        return f"<p style='color:{colour}'><b>Failed:</b> {_para(result.error)}</p>"
    parts = [f"<p>{_para(result.output or '')}</p>"]
    scores = row.scores.get(eval_run_id, {})
    shown = [f"{html.escape(metric_titles.get(k, k))} {number(v)}" for k, v in scores.items() if v is not None]
    facts = [f"{result.tokens} tokens"] + ([f"stopped: {result.finish_reason}"] if result.finish_reason else [])
    parts.append(f"<p style='color:gray'>{' · '.join(shown + facts)}</p>")
    if result.judge_error:
        parts.append(f"<p><b>Judge:</b> could not read its verdict ({_para(result.judge_error)})</p>")
    elif result.judge_score is not None:
        reason = f": {_para(result.judge_reason)}" if result.judge_reason else ""
        parts.append(f"<p><b>Judge:</b> {number(result.judge_score)}{reason}</p>")
    return "".join(parts)


class ItemDetail(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.prompt = QTextBrowser()
        self.prompt.setObjectName("itemPrompt")
        self.outputs_box = QWidget()
        self.outputs_layout = QHBoxLayout(self.outputs_box)
        self.outputs_layout.setContentsMargins(0, 0, 0, 0)
        self.outputs: dict[str, QTextBrowser] = {}  # eval run id -> its output view
        self.reference = self._column("Reference", "itemReference")[1]
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.prompt)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.outputs_box)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([200, 300])  # the outputs get the most room
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.splitter = splitter
        self.show_item(None, [], {})

    def _column(self, name: str, object_name: str) -> tuple[QWidget, QTextBrowser]:
        column = QWidget()
        col = QVBoxLayout(column)
        col.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"<b>{html.escape(name)}</b>")
        title.setToolTip(name)
        view = QTextBrowser()
        view.setObjectName(object_name)
        col.addWidget(title)
        col.addWidget(view, 1)
        self.outputs_layout.addWidget(column, 1)
        return column, view

    def _columns(self, runs: list[tuple[str, str]]) -> None:
        """The reference's column, then one per eval run (rebuilt when the runs changed)."""
        if list(self.outputs) == [rid for rid, _ in runs]:
            return
        while self.outputs_layout.count() > 1:  # the reference's column stays
            widget = self.outputs_layout.takeAt(1).widget()
            if widget is not None:
                widget.deleteLater()
        self.outputs = {rid: self._column(name, "itemOutput")[1] for rid, name in runs}

    def show_item(self, row: Optional["ItemComparison"], runs: list[tuple[str, str]],
                  metric_titles: dict[str, str]) -> None:
        """Show `row` for the runs (eval run id, label); None: nothing selected."""
        self._columns(runs)
        if row is None:
            self.prompt.setHtml("<p><i>Select an item to see the outputs side by side.</i></p>")
            for view in (self.reference, *self.outputs.values()):
                view.clear()
            return
        self.prompt.setHtml(prompt_html(row))
        self.reference.setHtml(reference_html(row))
        for rid, view in self.outputs.items():
            view.setHtml(output_html(row, rid, metric_titles))

    def output_text(self, eval_run_id: str) -> str:
        view = self.outputs.get(eval_run_id)
        return view.toPlainText() if view is not None else ""
