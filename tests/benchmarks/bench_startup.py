"""Start-up benchmark: process start -> the window painted and answering events, Workbench with
a project to open vs a bare PySide6 window, measured the same way in the same run.

Not a timed test: it prints medians and their ratio, measured side by side (alternating, so
machine load hits both alike). Both processes run the same probe
(workbench/ui/shell/startup_probe.py): after the window's first paint it posts an event and
prints WORKBENCH_READY when the event loop delivers it, i.e. the window is on screen and
answering. Workbench is started with a project (as the last project or argv opens one): the
project opens in a worker and fills the window in afterwards; the probe also reports when it is
attached (WORKBENCH_PROJECT), shown here as a third figure. Goal: ready <= 2x the bare window.

    .venv/bin/python tests/benchmarks/bench_startup.py [--rounds 7]

Uses the offscreen platform unless DISPLAY is set (e.g. under xvfb-run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BARE = r"""
from PySide6.QtWidgets import QApplication, QMainWindow
from workbench.ui.shell.startup_probe import StartupProbe
app = QApplication([])
w = QMainWindow()
w.resize(1200, 780)
probe = StartupProbe(w)
w.show()
app.exec()
"""


def time_to_markers(argv: list[str], env: dict[str, str], markers: tuple[str, ...]) -> list[float]:
    """Seconds from process start to each marker line, in order."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    # A window that never reports (an error dialog waiting for a click) is ended, not waited on.
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    times: list[float] = []
    try:
        for line in proc.stdout:
            if line.startswith(markers[len(times)]):
                times.append(time.perf_counter() - t0)
                if len(times) == len(markers):
                    break
        if len(times) < len(markers):
            raise RuntimeError(f"{argv} reported {times} of {markers} (exit {proc.wait()})")
        proc.wait(60)
    finally:
        watchdog.cancel()
    return times


def make_project(folder: str) -> str:
    from workbench.store import ProjectStore

    store = ProjectStore.create(os.path.join(folder, "Bench.wbproj"))
    store.close()
    return store.path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory() as tmp:
        env["WORKBENCH_DATA_DIR"] = os.path.join(tmp, "data")
        env["WORKBENCH_SETTINGS_FILE"] = os.path.join(tmp, "settings.ini")
        env["WORKBENCH_EXIT_WHEN_SHOWN"] = "1"
        project = make_project(tmp)
        bare_argv = [sys.executable, "-c", BARE]
        app_argv = [sys.executable, "-m", "workbench.ui", project]
        app_markers = ("WORKBENCH_READY", "WORKBENCH_PROJECT")
        time_to_markers(bare_argv, env, ("WORKBENCH_READY",))  # warm the OS file cache
        time_to_markers(app_argv, env, app_markers)
        bare, ready, opened = [], [], []
        for _ in range(args.rounds):
            bare.append(time_to_markers(bare_argv, env, ("WORKBENCH_READY",))[0])
            r, p = time_to_markers(app_argv, env, app_markers)
            ready.append(r)
            opened.append(p)
    b, r, p = statistics.median(bare), statistics.median(ready), statistics.median(opened)
    print(f"bare PySide6 window, painted + answering : median {b * 1000:7.1f} ms  (n={len(bare)})")
    print(f"Workbench window, painted + answering    : median {r * 1000:7.1f} ms")
    print(f"Workbench, the project attached          : median {p * 1000:7.1f} ms")
    print(f"ratio (answering)                        : {r / b:.2f}x  (goal <= 2.00x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
