"""Chart benchmark: event-loop lag of the GUI thread while live points stream into the Runs
page's chart (workbench/ui/runs/charts ChartPanel) that already holds a long history.

Not a timed test: it prints p50 / p99 / max lag of a 5 ms probe timer (lag_probe.py) per
scenario, against the goal p99 < 16 ms and max < 50 ms, plus the one-off costs of handing the
chart a loaded history and of switching its metric:

1. one run of --points steps (all its metrics: loss, eval loss, learning rate, grad norm,
   tokens/s, memory, epoch, tokens), live at 20 steps a second (every metric of each step:
   140 points a second, in batches every 250 ms like the run poller's);
2. the same run overlaid with 9 finished runs of --points/10 steps (10 runs);
3. scenario 1 with the mouse over the chart (60 moves a second: the crosshair follows);
4. scenario 1 while the user zooms in or back out every 500 ms (each a full redraw).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/benchmarks/bench_chart.py \
        [--seconds 10] [--points 1000000]

Uses the offscreen platform unless DISPLAY is set (xvfb-run draws as a real screen does).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from workbench.core import metric_names as mn  # noqa: E402
from workbench.core.records import MetricRow  # noqa: E402
from workbench.services.run_metrics import MetricSeries  # noqa: E402

LIVE_NAMES = (mn.LOSS, mn.LR, mn.GRAD_NORM, mn.TOKENS_PER_S, mn.MEMORY, mn.EPOCH, mn.TOKENS)
STEPS_PER_S = 20
POLL_MS = 250
T0 = 1_700_000_000.0


def values(name: str, steps: np.ndarray, total: int, rng) -> np.ndarray:
    frac = steps / total
    if name == mn.LOSS:
        return 2.0 * np.exp(-4 * frac) + 0.4 + rng.normal(0, 0.08, len(steps))
    if name == mn.EVAL_LOSS:
        return 2.0 * np.exp(-4 * frac) + 0.5
    if name == mn.LR:
        return 2e-4 * np.minimum(1.0, 20 * frac) * (1 - frac)
    if name == mn.GRAD_NORM:
        return np.abs(rng.normal(1.0, 0.3, len(steps)))
    if name == mn.TOKENS_PER_S:
        return 1500 + rng.normal(0, 60, len(steps))
    if name == mn.MEMORY:
        return 1.4e9 + 2e8 * frac
    if name == mn.EPOCH:
        return 3.0 * frac
    return 512.0 * steps  # tokens


def history(steps: int, seed: int) -> dict[str, MetricSeries]:
    """A finished run's metrics as services.run_metrics.load_metrics returns them."""
    rng = np.random.default_rng(seed)
    step = np.arange(1, steps + 1, dtype=np.int64)
    seq = step * 10
    t = T0 + step * 0.05
    out = {name: MetricSeries(name, seq, step, t, values(name, step, steps, rng)) for name in LIVE_NAMES}
    ev = step[99::100]
    out[mn.EVAL_LOSS] = MetricSeries(mn.EVAL_LOSS, ev * 10 + 1, ev, T0 + ev * 0.05, values(mn.EVAL_LOSS, ev, steps, rng))
    return out


class LiveRun:
    """Every POLL_MS, the metric rows of the steps a run logged since the last poll."""

    def __init__(self, first_step: int, total: int) -> None:
        self.step = self.base = first_step
        self.total = total  # the history's length (the curves' shape)
        self.rng = np.random.default_rng(7)
        self.started = time.perf_counter()

    def poll(self) -> list[MetricRow]:
        due = int((time.perf_counter() - self.started) * STEPS_PER_S)
        rows = []
        while self.step < self.base + due:
            self.step += 1
            s = np.array([self.step])
            for name in LIVE_NAMES:
                rows.append(MetricRow(self.step * 10, self.step, name,
                                      float(values(name, s, self.total, self.rng)[0]), T0 + self.step * 0.05))
        return rows


def run_for(app, seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def settle(app, seconds: float = 1.0) -> None:
    run_for(app, seconds)


def measure(app, probe, label: str, seconds: float, panel, live: list[tuple[str, LiveRun]], user=None):
    from PySide6.QtCore import QTimer

    def feed() -> None:
        panel.append_metrics({run_id: run.poll() for run_id, run in live})

    timer = QTimer()
    timer.setInterval(POLL_MS)
    timer.timeout.connect(feed)
    before = panel.chart.redraws
    for _run_id, run in live:
        run.started = time.perf_counter()
        run.base = run.step
    probe.start()
    timer.start()
    if user is not None:
        user.start()
    run_for(app, seconds)
    timer.stop()
    if user is not None:
        user.stop()
    lag = probe.stop(label)
    steps = sum(run.step - run.base for _r, run in live)
    print(lag.line(), f"[{panel.chart.redraws - before} redraws, {steps} live steps]", flush=True)
    return lag


class User:
    """A mouse over the chart (moves at 60 Hz, through the scene's mouse-move signal as a real
    mouse's), and/or a zoom or pan of the x range every 500 ms."""

    def __init__(self, panel, mouse: bool, zoom: bool) -> None:
        self.panel = panel
        self.timers = []
        if mouse:
            self.timers.append(self._timer(16, self._move))
        if zoom:
            self.timers.append(self._timer(500, self._zoom))
        self.i = 0

    def _timer(self, ms: int, slot):
        from PySide6.QtCore import QTimer

        timer = QTimer()
        timer.setInterval(ms)
        timer.timeout.connect(slot)
        return timer

    def start(self) -> None:
        for timer in self.timers:
            timer.start()

    def stop(self) -> None:
        for timer in self.timers:
            timer.stop()
        self.panel.chart.fit_x()
        self.panel.chart.crosshair.hide()

    def _move(self) -> None:
        from PySide6.QtCore import QPointF

        self.i += 1
        view = self.panel.chart.plot_widget.getPlotItem().getViewBox()
        rect = view.sceneBoundingRect()
        self.panel.chart.plot_widget.scene().sigMouseMoved.emit(
            QPointF(rect.left() + rect.width() * ((self.i % 300) / 300), rect.center().y()))

    def _zoom(self) -> None:
        self.i += 1
        chart = self.panel.chart
        if self.i % 2:
            chart.fit_x()
        else:
            n = chart.data(chart.runs[0].run_id).buffers[mn.LOSS].step[-1]
            centre = n * (0.2 + 0.6 * ((self.i // 2) % 5) / 5)
            chart.plot_widget.getPlotItem().setXRange(centre - n / 50, centre + n / 50, padding=0)


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    fn()
    ms = (time.perf_counter() - start) * 1000
    print(f"{label:<44} {ms:8.1f} ms", flush=True)
    return ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from lag_probe import LagProbe
    from workbench.ui.common import theme
    from workbench.ui.runs.charts.chart_panel import ChartPanel
    from workbench.ui.runs.charts.metric_chart import ChartRun
    from workbench.ui.runs.charts.run_data import prepare

    app = QApplication([])
    theme.apply_theme(app, "light")
    # Lag is wall time: other processes competing for the CPU show in it (load average).
    print(f"platform {app.platformName()}, {args.points:,} steps x {len(LIVE_NAMES) + 1} metrics, "
          f"{STEPS_PER_S} live steps/s, {args.seconds:.0f} s a scenario; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    panel = ChartPanel()
    panel.resize(1200, 520)
    panel.show()
    settle(app, 0.5)
    probe = LagProbe()

    big = history(args.points, 0)
    panel.set_runs([ChartRun("live", "live run")])
    # What the page's worker does after load_metrics (off the GUI thread), then the GUI's part.
    prepared = []
    timed("prepare() in the worker (not the GUI)", lambda: prepared.append(prepare(big, panel.chart.smoothing)))
    timed("load(): hand the chart the prepared run", lambda: panel.load("live", prepared[0]))
    timed("build the chart (imports pyqtgraph: once)", panel.chart.ensure_built)
    timed("first redraw (bins, pyqtgraph items)", panel.chart.redraw)
    settle(app)
    live = LiveRun(args.points, args.points)
    results = [measure(app, probe, f"1 run, {args.points:,} points, live", args.seconds, panel, [("live", live)])]

    others = [(f"r{k}", history(args.points // 10, k)) for k in range(1, 10)]
    panel.set_runs([ChartRun("live", "live run")] + [ChartRun(r, f"run {r}") for r, _h in others])
    for run_id, h in others:
        panel.load(run_id, prepare(h, panel.chart.smoothing))
    timed("first redraw of 10 overlaid runs", panel.chart.redraw)
    settle(app)
    results.append(measure(app, probe, "10 runs overlaid, 1 live", args.seconds, panel, [("live", live)]))

    panel.set_runs([ChartRun("live", "live run")])
    settle(app)
    results.append(measure(app, probe, "1 run live + the mouse over it (crosshair)", args.seconds, panel,
                           [("live", live)], User(panel, mouse=True, zoom=False)))
    results.append(measure(app, probe, "1 run live + a zoom or pan every 500 ms", args.seconds, panel,
                           [("live", live)], User(panel, mouse=False, zoom=True)))

    for index, key in ((2, mn.LR), (3, mn.GRAD_NORM), (0, mn.LOSS)):
        timed(f"switch to {key} (first time: its bins)", lambda: (panel.tabs.setCurrentIndex(index), panel.chart.redraw()))
        settle(app, 0.3)
    timed("smoothing 0.6 -> 0.9 (re-smooth 1M)", lambda: (panel.chart.set_smoothing(0.9), panel.chart.redraw()))
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    ok = all(r.p99_ms < 16 and r.max_ms < 50 for r in results)
    print("goal met" if ok else "GOAL NOT MET", flush=True)
    panel.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
