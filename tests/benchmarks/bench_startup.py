"""Start-up benchmark: process start -> main window shown, Workbench vs a bare PySide6 window.

Not a timed test: it prints the two medians and their ratio, measured side by side in one run
(alternating, so machine load hits both alike). Goal: ratio <= 1.5.

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
import time

BARE = r"""
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow()
w.resize(1200, 780)
w.show()
QTimer.singleShot(0, lambda: (print("WORKBENCH_SHOWN", flush=True), app.quit()))
app.exec()
"""


def time_to_shown(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("WORKBENCH_SHOWN"):
            elapsed = time.perf_counter() - t0
            break
    else:
        raise RuntimeError(f"{argv} never reported its window shown (exit {proc.wait()})")
    proc.wait(30)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory() as tmp:
        env["WORKBENCH_DATA_DIR"] = os.path.join(tmp, "data")
        env["WORKBENCH_SETTINGS_DIR"] = os.path.join(tmp, "settings")
        env["WORKBENCH_EXIT_WHEN_SHOWN"] = "1"
        from workbench.store import ProjectStore

        project = os.path.join(tmp, "Bench.wbproj")
        ProjectStore.create(project).close()
        bare_argv = [sys.executable, "-c", BARE]
        app_argv = [sys.executable, "-m", "workbench.ui", project]
        time_to_shown(bare_argv, env), time_to_shown(app_argv, env)  # warm the OS file cache
        bare, app = [], []
        for _ in range(args.rounds):
            bare.append(time_to_shown(bare_argv, env))
            app.append(time_to_shown(app_argv, env))
    b, a = statistics.median(bare), statistics.median(app)
    print(f"bare PySide6 window : median {b * 1000:7.1f} ms  (n={len(bare)})")
    print(f"Workbench main window: median {a * 1000:7.1f} ms  (n={len(app)})")
    print(f"ratio                : {a / b:.2f}x  (goal <= 1.50x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
