"""Page.connect_ctx: a page follows the signals of the project it shows, and only that one.
Real project contexts (real stores, real run managers) and the real pages."""

from __future__ import annotations

import pytest
from PySide6.QtCore import SIGNAL

from workbench.ui.common import workers
from workbench.ui.common.page import Page
from workbench.ui.shell.context import ProjectContext

# Every signal a page can follow, as Qt names them (for QObject.receivers).
CTX_SIGNALS = ("datasets_changed()", "models_changed()", "runs_changed()", "run_events(PyObject)",
               "poll_failed(PyObject)", "evals_changed()", "conversations_changed()", "feedback_changed()")


@pytest.fixture
def contexts(tmp_path):
    from workbench.services import projects

    made = [ProjectContext(projects.create_project(str(tmp_path / name))) for name in ("A", "B")]
    yield made
    for ctx in made:
        ctx.close()


def _receivers(ctx: ProjectContext) -> dict[str, int]:
    return {name: ctx.receivers(SIGNAL(name)) for name in CTX_SIGNALS}


class _Follower(Page):
    """A page that counts what it hears from its project."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[str] = []

    def set_context(self, ctx) -> None:
        super().set_context(ctx)
        if ctx is not None:
            self.connect_ctx(ctx.runs_changed, lambda: self.heard.append(f"runs of {ctx.name}"))
            self.connect_ctx(ctx.run_events, lambda events: self.heard.append(f"{len(events)} events"))


def test_a_page_switched_to_another_project_no_longer_hears_the_old_one(qtbot, contexts):
    a, b = contexts
    page = _Follower()
    qtbot.addWidget(page)
    page.set_context(a)
    a.runs_changed.emit()
    a.run_events.emit([("run", None)])
    assert page.heard == ["runs of A", "1 events"]
    page.set_context(b)
    a.runs_changed.emit()
    a.run_events.emit([])
    assert page.heard == ["runs of A", "1 events"]  # A is not this page's project any more
    b.runs_changed.emit()
    assert page.heard[-1] == "runs of B"
    page.set_context(None)
    b.runs_changed.emit()
    assert page.heard[-1] == "runs of B" and len(page.heard) == 3
    assert _receivers(a) == _receivers(b) == dict.fromkeys(CTX_SIGNALS, 0)


def test_switching_back_does_not_connect_twice(qtbot, contexts):
    a, b = contexts
    page = _Follower()
    qtbot.addWidget(page)
    for ctx in (a, b, a, a):
        page.set_context(ctx)
    a.runs_changed.emit()
    assert page.heard == ["runs of A"]
    assert _receivers(b) == dict.fromkeys(CTX_SIGNALS, 0)


@pytest.mark.parametrize("where, name", [
    ("workbench.ui.runs.page", "RunsPage"), ("workbench.ui.train.page", "TrainPage"),
    ("workbench.ui.chat.page", "ChatPage"), ("workbench.ui.datasets.page", "DatasetsPage"),
    ("workbench.ui.models.page", "ModelsPage"), ("workbench.ui.evaluate.page", "EvaluatePage"),
    ("workbench.ui.feedback.page", "FeedbackPage"), ("workbench.ui.arena.page", "ArenaPage"),
])
def test_every_page_that_follows_the_project_lets_go_of_the_old_one(qtbot, contexts, where, name):
    import importlib

    a, b = contexts
    page = getattr(importlib.import_module(where), name)()
    qtbot.addWidget(page)
    page.set_context(a)
    followed = {s for s, n in _receivers(a).items() if n}
    assert followed  # each of these pages follows something of its project
    page.set_context(b)
    assert _receivers(a) == dict.fromkeys(CTX_SIGNALS, 0)
    assert {s for s, n in _receivers(b).items() if n} == followed
    page.set_context(None)
    assert _receivers(b) == dict.fromkeys(CTX_SIGNALS, 0)
    page.shutdown()
    qtbot.waitUntil(lambda: workers.active_task_count() == 0, timeout=20000)  # the Models page reads in a worker
