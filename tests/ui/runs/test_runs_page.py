"""Runs page: a live run re-attached through its journal shows its status and a growing loss
curve; Cancel asks the child to stop cooperatively (STOP file), and the page follows it.

The child here is a small stand-in for a training process that speaks the real protocol (it
sleeps, and answers the STOP file with a `cancelled` event), so the test exercises the real
store, RunManager re-attach, ingest, poll timer and plot without loading torch."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap

import pytest

from workbench.core.clock import new_id, now_iso
from workbench.core.records import TrainConfig
from workbench.jobs.protocol import EventWriter
from workbench.services import datasets
from workbench.store import ProjectStore
from workbench.ui.shell.main_window import CHAT, RUNS

CHILD = textwrap.dedent("""
    import json, os, sys, time
    spec, journal, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    work = os.path.dirname(spec)
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(stop):
        time.sleep(0.05)
    # While HOLD exists the child is "saving" (tests look at the stopping state meanwhile).
    while time.time() < deadline and os.path.exists(os.path.join(work, "HOLD")):
        time.sleep(0.05)
    # As the real child does on a stop: a checkpoint at the last step, then `cancelled`.
    steps = [json.loads(line)["payload"].get("step", 0) for line in open(journal)
             if '"progress"' in line]
    ckpt = os.path.join(work, "checkpoints", f"checkpoint-{max(steps or [0])}")
    os.makedirs(ckpt, exist_ok=True)
    open(os.path.join(ckpt, "trainer_state.json"), "w").write("{}")
    with open(journal, "a") as f:
        f.write(json.dumps({"seq": 1000, "kind": "cancelled", "t": time.time(),
                            "payload": {"adapter_path": None, "step": 0}}) + "\\n")
""")


@pytest.fixture
def live_run(tmp_path, make_jsonl):
    """A project holding a run whose 'child' is alive and writes the run's journal."""
    store = ProjectStore.create(str(tmp_path / "Live.wbproj"))
    version = datasets.import_dataset(store, make_jsonl(20))
    model = store.add_base_model("tiny", "tiny", str(tmp_path / "model"), "a" * 64)
    run_id = new_id()
    work_rel = os.path.join("runs", run_id)
    work = store.abspath(work_rel)
    os.makedirs(work)
    spec, journal, stop = (os.path.join(work, n) for n in ("train.spec.json", "journal.jsonl", "STOP"))
    with open(spec, "w") as f:
        f.write("{}")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, spec, journal, stop])
    store.add_run(id=run_id, name="live-run", dataset_version_id=version.id, base_model_id=model.id,
                  config=dataclasses.asdict(TrainConfig(max_steps=40)), status="running",
                  work_dir=work_rel, pid=proc.pid, started_at=now_iso())
    writer = EventWriter(None, journal)
    writer.emit("started", total_steps=40, device="cpu", seed=42)
    for step in (1, 2, 3):
        writer.emit("progress", step=step, total_steps=40, epoch=0.1 * step)
        writer.emit("log", step=step, values={"loss": 3.0 - 0.1 * step, "learning_rate": 2e-4})
    path = store.path
    store.close()
    yield path, run_id, writer, proc
    writer.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


def _curves(plot) -> dict:
    """The plot's curves by the names its legend shows (pyqtgraph's own API)."""
    return {curve.name(): curve for curve in plot.plot_widget.getPlotItem().listDataItems()}


def test_live_run_curve_status_and_cancel(window, qtbot, live_run, monkeypatch):
    path, run_id, writer, proc = live_run
    assert window.open_project(path)  # RunManager re-attaches through the journal
    window.set_page(RUNS)
    page = window.runs_page
    assert page.plot.built
    assert page.table.rowCount() == 1
    row = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert row[0] == "live-run" and row[1] == "running" and row[3] == "3 / 40"
    assert row[4] == "2.9000" and row[5] == "2.7000" and row[6] == "tiny"
    assert page.selected_run().id == run_id
    qtbot.waitUntil(lambda: [y for _, y in page.plot.points] == pytest.approx([2.9, 2.8, 2.7]),
                    timeout=15000)
    # The status bar follows the running job.
    assert window.job_progress.isVisible()
    assert (window.job_progress.value(), window.job_progress.maximum()) == (3, 40)
    assert "live-run" in window.job_label.text()

    # New points arrive while the page is open: the curve grows on the next timer tick.
    for step in range(4, 12):
        writer.emit("progress", step=step, total_steps=40, epoch=0.1 * step)
        writer.emit("log", step=step, values={"loss": 3.0 - 0.1 * step})
    writer.close()
    qtbot.waitUntil(lambda: len(page.plot.points) == 11, timeout=15000)
    from workbench.ui.runs.loss_plot import RAW_LABEL

    xs, ys = _curves(page.plot)[RAW_LABEL].getData()
    assert list(xs) == list(range(1, 12)) and ys[-1] == pytest.approx(1.9)
    qtbot.waitUntil(lambda: page.table.item(0, 3).text() == "11 / 40", timeout=15000)
    assert window.job_progress.value() == 11

    # Nothing new: the timer ticks (10 a second) but gives no curve new data.
    import pyqtgraph as pg

    redraws = []
    set_data = pg.PlotDataItem.setData
    monkeypatch.setattr(pg.PlotDataItem, "setData",
                        lambda curve, *args, **kwargs: redraws.append(curve) or set_data(curve, *args, **kwargs))
    qtbot.wait(600)
    assert redraws == []

    # Cancel: the child sees the STOP file, saves (HOLD keeps it there a while), reports
    # `cancelled`, exits; the page and the status bar follow.
    assert page.cancel_button.isEnabled()
    assert not page.chat_button.isEnabled()
    assert not page.resume_button.isEnabled()
    assert page.resume_button.toolTip() == ("<p>The run is still training.</p>"
                                            "<p>Cancel it first; it saves a checkpoint as it stops.</p>")
    hold = os.path.join(path, "runs", run_id, "HOLD")
    open(hold, "w").close()
    page.cancel_button.click()
    qtbot.waitUntil(lambda: "stopping, saving its adapter" in window.job_label.text(), timeout=15000)
    assert window.job_label.text().startswith("Training live-run")
    qtbot.wait(300)  # a few polls and refreshes: Cancel stays off while the run stops
    assert not page.cancel_button.isEnabled()
    os.remove(hold)
    qtbot.waitUntil(lambda: page.table.item(0, 1).text() == "cancelled", timeout=15000)
    assert proc.wait(5) == 0
    assert not page.cancel_button.isEnabled()
    assert window.job_status.isHidden()
    # Nothing in the status bar still says the run is stopping once it has stopped.
    assert "Stopping" not in window.statusBar().currentMessage()
    assert "cancelled" in page.details.toPlainText()
    assert "live-run" in page.details.toPlainText()
    # It stopped cooperatively, so it left a checkpoint: Resume is offered, saying from where.
    assert page.resume_button.isEnabled()
    assert page.resume_button.toolTip() == "<p>Continue from its checkpoint at step 11 as the same run.</p>"


def test_loss_plot_has_a_legend_for_raw_and_smoothed(window, qtbot, live_run):
    from workbench.ui.runs.loss_plot import RAW_LABEL, SMOOTH_LABEL

    path, run_id, writer, proc = live_run
    assert window.open_project(path)
    window.set_page(RUNS)
    plot = window.runs_page.plot
    legend = plot.legend
    assert legend is not None and legend.isVisible()
    assert [label.text for _sample, label in legend.items] == [RAW_LABEL, SMOOTH_LABEL]
    # Each legend entry is drawn with its own curve's pen.
    curves = _curves(plot)
    assert list(curves) == [RAW_LABEL, SMOOTH_LABEL]
    assert [sample.item for sample, _label in legend.items] == [curves[RAW_LABEL], curves[SMOOTH_LABEL]]
    # Its text follows the theme (pyqtgraph's default grey is unreadable on the light one).
    from PySide6.QtGui import QColor

    from workbench.ui.common import theme

    for name in ("dark", "light"):
        window.set_theme(name)
        colour = QColor(theme.colors().plot_foreground).name()
        assert all(f"color:{colour};" in label.item.toHtml() for _sample, label in legend.items), name
    window.ctx.runs.cancel(run_id)
    qtbot.waitUntil(lambda: window.ctx.active_run_ids() == [], timeout=15000)


def test_dead_child_is_shown_interrupted_with_advice(window, qtbot, live_run):
    path, run_id, writer, proc = live_run
    proc.kill()
    proc.wait(5)
    assert window.open_project(path)
    window.set_page(RUNS)
    page = window.runs_page
    assert page.table.item(0, 1).text() == "interrupted"
    details = page.details.toPlainText()
    assert "ended while Workbench was closed" in details
    assert "It saved no checkpoint: start a new run with the same settings." in details
    assert not page.cancel_button.isEnabled()
    # The curve recorded before the crash is still there.
    qtbot.waitUntil(lambda: len(page.plot.points) == 3, timeout=15000)
    # No checkpoint exists: Resume is off and its tooltip says why and what to do instead.
    assert not page.resume_button.isEnabled()
    tip = page.resume_button.toolTip()
    assert "saved no checkpoint" in tip and "start a new run on the train page" in tip.lower()
    assert "checkpoint steps" not in tip and "chat" not in tip.lower()  # it has no adapter


def test_plot_is_not_built_before_the_page_shows(window, live_run):
    path, *_ = live_run
    window.set_page(0)
    window.open_project(path)
    assert not window.runs_page.plot.built
    # The Train form starts from the newest run's settings.
    assert window.train_page.steps_spin.value() == 40


def test_chat_button_is_for_finished_runs_only(window, qtbot, live_run):
    path, run_id, writer, proc = live_run
    window.open_project(path)
    window.set_page(RUNS)
    assert not window.runs_page.chat_button.isEnabled()
    window.set_page(CHAT)
    assert window.chat_page.select_run(run_id, load=False) is False  # no adapter: not offered
    window.ctx.runs.cancel(run_id)
    qtbot.waitUntil(lambda: window.ctx.active_run_ids() == [], timeout=15000)
    proc.wait(5)


def test_stop_them_on_quit_waits_for_a_reattached_run_without_blocking(window, qtbot, live_run):
    """Quit with Stop Them: the re-attached run gets the cooperative stop (no SIGTERM), the
    window stays live (its timers fire) while it saves, and the window closes by itself after."""
    from PySide6.QtCore import QTimer

    path, run_id, writer, proc = live_run
    assert window.open_project(path)
    work = os.path.join(path, "runs", run_id)
    hold = os.path.join(work, "HOLD")
    open(hold, "w").close()
    ticks: list[bool] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(window.stopping is not None))
    timer.start(20)
    window.close()  # the window's X / File > Quit
    assert window.isVisible() and window.ctx is not None  # returned at once: not closed yet
    assert os.path.exists(os.path.join(work, "STOP")) and proc.poll() is None  # asked, not killed
    dialog = window.stopping
    assert dialog.isVisible() and not dialog.isModal()
    assert "Stopping 1 training run… saving adapters" in dialog.label.text()
    assert dialog.runs_list.item(0).text() == "live-run: saving its adapter and a checkpoint…"
    assert window.statusBar().currentMessage() == "Stopping 1 training run… saving adapters"
    assert not window.outer.isEnabled()  # nothing new starts in a closing project
    qtbot.waitUntil(lambda: sum(ticks) >= 5, timeout=10000)  # the event loop runs meanwhile
    assert window.poll_timer.isActive() and window.isVisible()
    window.close()  # pressed again: still waiting for the same stop, no second question
    assert window.isVisible()
    os.remove(hold)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=20000)
    timer.stop()
    assert window.ctx is None and window.stopping is None
    assert proc.wait(10) == 0  # it ended by itself after saving
    store = ProjectStore.open(path)
    try:
        run = store.get_run(run_id)
        assert run.status == "cancelled" and not run.error
        assert os.path.isfile(os.path.join(work, "checkpoints", "checkpoint-3", "trainer_state.json"))
    finally:
        store.close()


def test_close_project_with_stop_them_then_opens_the_next_project(window, qtbot, live_run, tmp_path):
    path, run_id, writer, proc = live_run
    other = ProjectStore.create(str(tmp_path / "Other.wbproj"))
    other_path = other.path
    other.close()
    assert window.open_project(path)
    hold = os.path.join(path, "runs", run_id, "HOLD")
    open(hold, "w").close()
    assert window.open_project(other_path) is False  # Stop Them: runs are saving first
    assert window.ctx.path == path and window.stopping is not None
    os.remove(hold)
    qtbot.waitUntil(lambda: window.ctx is not None and window.ctx.path == other_path, timeout=20000)
    assert window.isVisible() and window.outer.isEnabled() and window.stopping is None
    assert window.statusBar().currentMessage() == ""
    assert proc.wait(10) == 0
    # Close Project with Stop Them on a project without runs closes at once.
    window.close_action.trigger()
    assert window.ctx is None and window.outer.currentIndex() == 0
