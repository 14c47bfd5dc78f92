"""Evaluate: eval suites and the models run on them, side by side."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QVBoxLayout, QWidget

from workbench.ui.common.page import Page, heading, hint
from workbench.ui.shell.context import ProjectContext


class EvaluatePage(Page):
    title = "Evaluate"

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Evaluate"))
        layout.addWidget(hint("Build an eval suite, run it on the base model and your adapters, and compare."))
        layout.addStretch(1)

    def set_context(self, ctx: Optional[ProjectContext]) -> None:
        super().set_context(ctx)
