"""The run poller and the quiet signals: events of a live run are ingested on the poller's own
thread and connection; the GUI hears one run_changed per run and poll, the new metric points,
and runs_changed only when a run starts or ends; projects open in a worker; closing joins the
poller's thread.

The training child is a stand-in that speaks the real protocol through its journal (the test
writes the events; the child stays alive until it finds the STOP file, then reports
`cancelled`), so RunManager re-attaches it and ingests its journal exactly as for a real run."""

from __future__ import annotations

import dataclasses
import os
import textwrap
import threading

import pytest

from tests.helpers.live_run import live_run as make_live_run
from workbench.ui.shell import poller
from workbench.ui.shell.main_window import DATASETS, MainWindow

CHILD = textwrap.dedent("""
    import json, os, sys, time
    spec, journal, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    deadline = time.time() + 120
    while time.time() < deadline and not os.path.exists(stop):
        time.sleep(0.05)
    with open(journal, "a") as f:
        f.write(json.dumps({"seq": 1000, "kind": "cancelled", "t": time.time(),
                            "payload": {"adapter_path": None}}) + "\\n")
""")


@pytest.fixture
def live_run(tmp_path, make_jsonl):
    """A closed project holding a run whose stand-in child is alive; (path, run_id, writer)."""
    with make_live_run(tmp_path, make_jsonl(8), CHILD) as (path, run_id, writer, _proc):
        yield path, run_id, writer


class Heard:
    """What a project context said, signal by signal."""

    def __init__(self, ctx) -> None:
        self.changed, self.metrics, self.lists = [], [], 0
        ctx.run_changed.connect(self.changed.append)
        ctx.run_metrics.connect(self.metrics.append)
        ctx.runs_changed.connect(self._list)

    def _list(self) -> None:
        self.lists += 1

    def points(self, run_id: str, name: str) -> list[tuple[int, float]]:
        return [(row.step, row.value) for batch in self.metrics for row in batch.get(run_id, [])
                if row.name == name]


def _train_steps(writer, steps) -> None:
    for step in steps:
        writer.emit("progress", step=step, total_steps=40)
        writer.emit("log", step=step, values={"loss": 3.0 - 0.1 * step, "learning_rate": 2e-4})


def test_polls_run_on_their_own_thread_and_signal_per_run_not_per_tick(window, qtbot, live_run, monkeypatch):
    path, run_id, writer = live_run
    assert window.open_project(path)
    ctx = window.ctx
    assert ctx.polling and ctx.runs.store is not ctx.store  # the poller's own connection
    threads = set()
    poll = ctx.runs.poll
    monkeypatch.setattr(ctx.runs, "poll", lambda: threads.add(threading.get_ident()) or poll())
    heard = Heard(ctx)

    _train_steps(writer, range(1, 9))
    qtbot.waitUntil(lambda: bool(heard.changed) and heard.changed[-1].step == 8, timeout=15000)
    # The runs list did not change: no runs_changed however many ticks and steps.
    assert heard.lists == 0
    assert all(run.id == run_id and run.status == "running" for run in heard.changed)
    # The points reached the GUI from the poll itself (with the events' times), each once.
    assert heard.points(run_id, "loss") == [(s, pytest.approx(3.0 - 0.1 * s)) for s in range(1, 9)]
    assert all(row.t > 0 for batch in heard.metrics for row in batch[run_id])
    # A poll that began before the patch may have read all 8 steps: one more, surely after it.
    _train_steps(writer, [9])
    qtbot.waitUntil(lambda: heard.changed[-1].step == 9, timeout=15000)
    assert threads and threading.get_ident() not in threads  # never in the GUI thread
    # The job indicator follows the records the polls re-read.
    assert window.job_progress.format() == "step 9 / 40" and window.job_progress.value() == 225  # per mille
    assert "live-run — running" in window.job_label.text()

    # The run ends: the list changed (once), and its last record says how.
    ctx.runs.cancel(run_id)
    qtbot.waitUntil(lambda: not ctx.active_run_ids(), timeout=30000)
    qtbot.waitUntil(lambda: heard.lists >= 1 and heard.changed[-1].status == "cancelled", timeout=15000)
    assert heard.lists == 1
    qtbot.waitUntil(lambda: window.job_status.isHidden(), timeout=15000)


def test_a_synchronous_poll_emits_the_same_signals(qtbot, live_run):
    """ctx.poll() (tests, headless use) does the poller's work in the calling thread."""
    from workbench.services import projects
    from workbench.ui.shell.context import ProjectContext

    path, run_id, writer = live_run
    store, runs = projects.open_for_app(path)
    ctx = ProjectContext(store, runs)
    try:
        assert not ctx.polling
        heard = Heard(ctx)
        _train_steps(writer, (1, 2))
        writer.close()
        events = ctx.poll()
        assert [ev.kind for _, ev in events] == ["progress", "log", "progress", "log"]
        assert heard.changed[-1].step == 2 and heard.lists == 0
        assert heard.points(run_id, "loss") == [(1, pytest.approx(2.9)), (2, pytest.approx(2.8))]
        assert ctx.latest_run(run_id).step == 2
        ctx.refresh_runs()  # a page changed the list (rename, delete)
        assert heard.lists == 1
    finally:
        ctx.close()  # detaches: the child keeps running until the fixture ends it
    assert poller.live_poller_count() == 0


def test_the_active_runs_are_answered_while_a_poll_holds_the_lock(qtbot, live_run):
    """The poller's thread holds the RunManager's lock while it ingests; the GUI asking which
    runs train (buttons, the job indicator) gets the last poll's answer instead of waiting."""
    from workbench.services import projects
    from workbench.ui.shell.context import ProjectContext

    path, run_id, writer = live_run
    store, runs = projects.open_for_app(path)
    ctx = ProjectContext(store, runs)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with runs.lock:
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    try:
        assert ctx.active_run_ids() == [run_id]
        thread.start()
        assert held.wait(10)
        answers = []
        asker = threading.Thread(target=lambda: answers.append((ctx.active_run_ids(), ctx.stopping_runs())))
        asker.start()
        asker.join(5)  # it would wait until `release` with a blocking read
        assert not asker.is_alive() and answers == [([run_id], [])]
    finally:
        release.set()
        thread.join(10)
        ctx.close()


def test_the_project_opens_in_a_worker_while_the_window_answers(window, qtbot, project_path):
    opened = []
    window.project_changed.connect(opened.append)
    # The window's own method (the fixture's open_project waits for the worker).
    assert MainWindow.open_project(window, project_path)
    assert window.ctx is None and window.opening is not None  # returned before the open
    assert window.welcome.opening_label.isVisible()
    assert window.welcome.opening_label.text() == "Opening Proj…"
    assert not window.welcome.open_button.isEnabled()
    assert MainWindow.open_project(window, project_path)  # asked again: the same open goes on
    qtbot.waitUntil(lambda: window.ctx is not None, timeout=60000)
    assert [ctx.name for ctx in opened] == ["Proj"] and window.opening is None
    assert not window.welcome.opening_label.isVisible() and window.welcome.open_button.isEnabled()
    assert window.outer.currentIndex() == 1 and window.polling


def test_a_failed_open_shows_the_error_then_runs_the_fallback(window, qtbot, tmp_path):
    from workbench.ui.common.errors import open_error_dialogs

    (tmp_path / "Nope").mkdir()
    fallback = []
    assert MainWindow.open_project(window, str(tmp_path / "Nope"), if_failed=lambda: fallback.append(1))
    qtbot.waitUntil(lambda: fallback == [1], timeout=60000)
    assert window.ctx is None and window.opening is None
    assert any("is not a Workbench project" in box.text() for box in open_error_dialogs())
    assert window.welcome.open_button.isEnabled()


def test_closing_while_a_project_opens_closes_it_unattached(qtbot, project_path):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    assert win.open_project(project_path)
    win.close()  # before the worker is done: nothing is attached, the store is closed
    assert win.ctx is None and win.opening is None
    # SQLite removes the write-ahead log once the last connection to the database closed.
    assert not os.path.exists(os.path.join(project_path, "project.sqlite-wal"))


def test_closing_the_project_joins_the_poller_thread(window, live_run):
    path, *_ = live_run
    assert window.open_project(path)
    ctx = window.ctx
    assert ctx.polling and poller.live_poller_count() == 1
    window.ask_about_active_runs = lambda count: "keep"  # Keep Running: the child goes on alone
    assert window.close_project()
    assert not ctx.polling and poller.live_poller_count() == 0
    assert ctx.closed


def test_hidden_pages_refresh_once_when_shown(window, qtbot):
    from workbench.ui.common.page import Page

    class Counting(Page):
        def __init__(self) -> None:
            super().__init__()
            self.refreshes = 0

        def refresh(self) -> None:
            self.refreshes += 1

    page = Counting()
    slot = page.refresh_when_shown(page.refresh)
    page.set_current(True)
    slot()
    assert page.refreshes == 1 and not page.stale
    page.set_current(False)
    for _ in range(5):
        slot("ignored", "arguments")
    assert page.refreshes == 1 and page.stale
    page.set_current(True)
    assert page.refreshes == 2 and not page.stale
    page.deleteLater()


def test_chat_models_refresh_when_shown_and_never_under_an_open_popup(open_window, qtbot, tmp_path):
    win = open_window
    win.set_page(DATASETS)
    chat = win.chat_page  # built, hidden
    assert not chat.is_current and win.datasets_page.is_current
    from workbench.ui.shell.main_window import CHAT

    def texts():
        return [chat.model_combo.itemText(i) for i in range(chat.model_combo.count())]

    assert texts() == []
    win.ctx.store.add_base_model("first", "tiny", str(tmp_path / "m1"), "a" * 64)
    win.ctx.runs_changed.emit()
    assert texts() == [] and chat.stale  # hidden: owed, not done
    win.set_page(CHAT)
    assert texts() == ["first  (base model)"] and not chat.stale

    chat.model_combo.showPopup()
    qtbot.waitUntil(lambda: chat.model_combo.popup_open, timeout=5000)
    win.ctx.store.add_base_model("second", "tiny", str(tmp_path / "m2"), "b" * 64)
    win.ctx.models_changed.emit()
    assert texts() == ["first  (base model)"]  # not rebuilt under the user's pointer
    chat.model_combo.hidePopup()
    assert texts() == ["first  (base model)", "second  (base model)"]


def test_the_job_indicator_never_repaints_in_the_gui_thread_per_step(qtbot):
    """QProgressBar repaints synchronously when the number its text shows changes: a "step %v"
    format did so on every step of a live run (a whole status-bar repaint per poll). The
    indicator shows the step in its format and moves its per-mille value only when it changes."""
    from PySide6.QtCore import QEvent, QObject

    from workbench.core.records import Run
    from workbench.ui.shell.job_status import JobStatus

    class Paints(QObject):
        count = 0

        def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
            if event.type() == QEvent.Type.Paint:
                Paints.count += 1
            return False

    class Ctx:  # what update_from reads of a ProjectContext
        def __init__(self):
            self.run = Run(id="r", name="long-run", dataset_version_id="v", base_model_id="m", config={},
                           status="running", work_dir="runs/r", created_at="", created_by="", total_steps=100_000)

        def active_run_ids(self):
            return ["r"]

        def latest_run(self, run_id):
            return self.run

        def stopping_runs(self):
            return []

    status, ctx = JobStatus(), Ctx()
    qtbot.addWidget(status)
    status.update_from(ctx)
    status.show()
    qtbot.waitExposed(status)
    paints = Paints()
    status.progress.installEventFilter(paints)
    for step in range(1, 50):  # 49 steps of a 100k-step run: the per-mille value stays 0
        ctx.run = dataclasses.replace(ctx.run, step=step)
        status.update_from(ctx)
        assert Paints.count == 0, f"painted synchronously at step {step}"
    assert status.progress.format() == "step 49 / 100,000"
    qtbot.waitUntil(lambda: Paints.count > 0, timeout=5000)  # the new text is painted, later
