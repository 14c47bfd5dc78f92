"""Worker plumbing: a blocking function on a worker thread, with progress, cancel and errors."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.core.errors import DataImportError
from workbench.core.progress import report
from workbench.ui.common import workers


def _steps(n, delay=0.0, progress=None, cancel=None):
    seen_thread = threading.current_thread().ident
    for i in range(n):
        cancel.raise_if_cancelled()
        report(progress, (i + 1) / n, f"step {i + 1}")
        time.sleep(delay)
    return {"n": n, "thread": seen_thread}


def test_result_and_progress_arrive_in_gui_thread(qtbot):
    got = []
    task = workers.run_task(_steps, 5, 0.06)
    task.progress.connect(lambda f, m: got.append((f, m, threading.current_thread().ident)))
    with qtbot.waitSignal(task.finished, timeout=10000) as blocker:
        pass
    result = blocker.args[0]
    assert result["n"] == 5
    assert result["thread"] != threading.main_thread().ident  # ran on a worker
    assert got and all(t == threading.main_thread().ident for _, _, t in got)
    assert got[-1][0] == pytest.approx(1.0)
    assert task.outcome == "finished" and not task.running
    assert workers.active_task_count() == 0


def test_progress_is_throttled(qtbot):
    """However fast or slow the work runs, the GUI gets at most one report per interval (the
    bound comes from how long the work really took), and always the last one."""
    got, took = [], []

    def many(progress=None, cancel=None):
        started = time.monotonic()
        for i in range(20000):
            report(progress, (i + 1) / 20000, f"step {i + 1}")
        took.append(time.monotonic() - started)

    task = workers.run_task(many)
    task.progress.connect(lambda f, m: got.append(f))
    with qtbot.waitSignal(task.done, timeout=60000):
        pass
    assert task.outcome == "finished"
    assert len(got) <= took[0] / workers.PROGRESS_INTERVAL_S + 2  # the event queue is not flooded
    assert len(got) < 20000 and got[-1] == 1.0


def test_failure_carries_the_exception(qtbot):
    def boom(progress=None, cancel=None):
        raise DataImportError("Row 3 is broken.", details="line 3", advice="Fix it.")

    task = workers.run_task(boom)
    with qtbot.waitSignal(task.failed, timeout=15000) as blocker:
        pass
    assert isinstance(blocker.args[0], DataImportError)
    assert task.error is blocker.args[0]


def test_cancel_stops_the_work(qtbot):
    task = workers.run_task(_steps, 100_000, 0.01)  # over 15 minutes unless cancelled
    qtbot.waitUntil(lambda: task.fraction > 0, timeout=30000)
    cancelled = []
    task.cancelled.connect(lambda: cancelled.append(True))
    with qtbot.waitSignal(task.done, timeout=30000):
        task.cancel()
    assert cancelled == [True] and task.outcome == "cancelled"
    assert task.fraction < 1.0


def test_error_after_cancel_counts_as_cancelled(qtbot):
    def late(progress=None, cancel=None):
        while not cancel.cancelled:
            time.sleep(0.01)
        raise OSError("pipe closed while stopping")

    task = workers.run_task(late)
    with qtbot.waitSignal(task.cancelled, timeout=15000):
        task.cancel()


def test_shutdown_workers_cancels_and_joins(qtbot):
    tasks = [workers.run_task(_steps, 10_000, 0.01) for _ in range(3)]
    assert workers.active_task_count() == 3
    assert workers.shutdown_workers(10000)
    assert workers.active_task_count() == 0
    assert all(t.outcome == "cancelled" for t in tasks)
    assert workers.pool().activeThreadCount() == 0


def test_progress_dialog_cancel_button(qtbot, qapp):
    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    task = workers.run_task(_steps, 1000, 0.01)
    dialog = workers.progress_dialog(parent, task, "Working")
    qtbot.waitUntil(lambda: dialog.value() > 0, timeout=15000)
    from PySide6.QtWidgets import QPushButton

    with qtbot.waitSignal(task.done, timeout=15000):
        dialog.findChild(QPushButton).click()
    assert task.outcome == "cancelled"
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=15000)


def test_inline_progress_follows_a_task(qtbot):
    widget = workers.InlineProgress()
    qtbot.addWidget(widget)
    task = workers.run_task(_steps, 300, 0.01)
    widget.follow(task, "Working…")
    assert not widget.isHidden()  # shown while it follows a task
    qtbot.waitUntil(lambda: widget.bar.value() > 0, timeout=15000)
    with qtbot.waitSignal(task.done, timeout=15000):
        widget.cancel_button.click()
    assert task.outcome == "cancelled"
    assert widget.isHidden()
