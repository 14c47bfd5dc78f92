"""The start-up benchmark's probe (tests/benchmarks/bench_startup.py), shared by the app and the
bare PySide6 window it is compared with, so both are measured the same way.

It prints WORKBENCH_READY once the window has painted and an event posted after that paint came
back through the event loop (the window is on screen and answering), then, if a `ready` signal
is given, WORKBENCH_PROJECT once that fires (the project is attached), then closes the window and quits. Only PySide6
is imported here: the bare window loads nothing else of Workbench.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QCoreApplication, QEvent, QObject

READY, PROJECT = "WORKBENCH_READY", "WORKBENCH_PROJECT"


class StartupProbe(QObject):
    _ROUND_TRIP = QEvent.Type(QEvent.registerEventType())

    def __init__(self, window: Any, project_changed: Optional[Any] = None) -> None:
        super().__init__()
        self.window = window
        self.painted = self.answered = self.finished = False
        self.wants_project = project_changed is not None
        self.project_open = False
        if project_changed is not None:
            project_changed.connect(self._project_changed)
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint and not self.painted:
            self.painted = True
            QCoreApplication.postEvent(self, QEvent(self._ROUND_TRIP))
        return False

    def event(self, event: QEvent) -> bool:
        if event.type() == self._ROUND_TRIP:
            self.answered = True
            print(READY, flush=True)
            self._finish()
            return True
        return super().event(event)

    def _project_changed(self, ctx: Any) -> None:
        self.project_open = ctx is not None
        self._finish()

    def _finish(self) -> None:
        if self.finished or not self.answered or (self.wants_project and not self.project_open):
            return
        self.finished = True
        if self.wants_project:
            print(PROJECT, flush=True)
        self.window.close()  # the app's close path: the project closes, its threads are joined
        QCoreApplication.quit()
