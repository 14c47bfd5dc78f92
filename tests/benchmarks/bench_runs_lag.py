"""Runs page benchmark: event-loop lag of the real window while training data streams in.

Not a timed test: it prints p50 / p99 / max lag (a 5 ms probe timer in the GUI thread, see
lag_probe.py) for each scenario, against the goal p99 < 16 ms and max < 50 ms:

1. a live run streams 20 metric points a second (a stand-in child writing the real protocol to
   its journal, re-attached and ingested by the real poller) into a chart that already holds
   1M points of that run;
2. the same while 10 runs (the live one + 9 finished runs of 100k points each) are overlaid;
3. the same while the user switches pages every 150 ms.

    .venv/bin/python tests/benchmarks/bench_runs_lag.py [--seconds 10] [--points 1000000] [--size 1500x950]

Scenario 0 is opening that project (over 600 MB, 1.9M metric points) with the Runs page shown,
until the live run's 1M points are in its chart: the window must keep answering meanwhile.

The project is built once (about a minute: 1.9M metric rows) and kept in --cache (default
/tmp/wb-bench-lag) for later runs. Uses the offscreen platform unless DISPLAY is set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LAYOUT_VERSION = 2  # bump when the project layout below changes (rebuilds the cache)

# The stand-in child: appends `log` (+ `progress`) events at `rate` Hz to the journal, numbered
# after the run's stored history, until the STOP file appears or `seconds` pass.
CHILD = textwrap.dedent("""
    import json, math, os, sys, time
    spec, journal, stop, first, first_seq, rate, seconds = sys.argv[1:8]
    step, seq, rate, deadline = int(first), int(first_seq), float(rate), time.time() + float(seconds)
    with open(journal, "a") as f:
        while time.time() < deadline and not os.path.exists(stop):
            step += 1
            t = time.time()
            values = {"loss": 1.0 + 0.5 * math.exp(-step / 3e5) + 0.05 * math.sin(step / 7),
                      "learning_rate": 2e-4, "grad_norm": 0.8, "tokens_per_s": 1500.0,
                      "memory_bytes": 5e8, "num_input_tokens_seen": step * 512}
            for kind, payload in (("progress", {"step": step, "total_steps": 2000000}),
                                  ("log", {"step": step, "epoch": step / 1e6, "values": values})):
                seq += 1
                f.write(json.dumps({"seq": seq, "kind": kind, "t": t, "payload": payload}) + "\\n")
            f.flush()
            time.sleep(1.0 / rate)
""")


def _points(run_id: str, n: int, seed: int):
    """n loss points of a plausible falling curve, one per step (seq = step)."""
    import numpy as np

    from workbench.core.records import MetricRow

    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1)
    loss = 1.0 + 2.0 * np.exp(-steps / (n / 5)) + rng.normal(0, 0.05, n)
    t0 = time.time() - n
    return [MetricRow(int(s), int(s), "loss", float(v), t0 + float(s)) for s, v in zip(steps, loss)]


def build_project(folder: str, points: int, others: int, other_points: int) -> dict:
    """The project: one dataset version, a base model record, a live run holding `points` loss
    points and `others` finished runs of `other_points` each."""
    from workbench.core.clock import new_id, now_iso
    from workbench.core.records import TrainConfig
    from workbench.services import datasets
    from workbench.store import ProjectStore, RunReport

    store = ProjectStore.create(folder)
    data = os.path.join(os.path.dirname(folder), "rows.jsonl")
    with open(data, "w", encoding="utf-8") as f:
        for i in range(20):
            f.write(json.dumps({"instruction": f"Question {i}?", "output": f"Answer {i}."}) + "\n")
    version = datasets.import_dataset(store, data)
    model = store.add_base_model("tiny", "tiny", os.path.join(os.path.dirname(folder), "model"), "a" * 64)
    runs = []
    for i in range(others + 1):
        run_id = new_id()
        work_rel = os.path.join("runs", run_id)
        os.makedirs(store.abspath(work_rel))
        cfg = TrainConfig(max_steps=2_000_000, learning_rate=2e-4 * (1 + i % 3), r=8 * (1 + i % 2))
        live = i == 0
        store.add_run(id=run_id, name="live-run" if live else f"finished-{i}", dataset_version_id=version.id,
                      base_model_id=model.id, config=dataclasses.asdict(cfg),
                      status="running" if live else "completed", work_dir=work_rel, started_at=now_iso(),
                      finished_at=None if live else now_iso())
        n = points if live else other_points
        rows = _points(run_id, n, seed=i)
        for start in range(0, n, 200_000):
            chunk = rows[start:start + 200_000]
            store.record_events(run_id, [], chunk, RunReport(step=chunk[-1].step, total_steps=2_000_000,
                                                            last_loss=chunk[-1].value))
        runs.append(run_id)
    store.close()
    return {"layout": LAYOUT_VERSION, "points": points, "others": others, "other_points": other_points,
            "runs": runs}


def ensure_project(cache: str, points: int, others: int, other_points: int) -> tuple[str, dict]:
    folder = os.path.join(cache, "Lag.wbproj")
    meta_path = os.path.join(cache, "meta.json")
    want = {"layout": LAYOUT_VERSION, "points": points, "others": others, "other_points": other_points}
    if os.path.isfile(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if {k: meta.get(k) for k in want} == want:
            return folder, meta
    import shutil

    shutil.rmtree(cache, ignore_errors=True)
    os.makedirs(cache)
    t0 = time.perf_counter()
    meta = build_project(folder, points, others, other_points)
    print(f"built the project in {time.perf_counter() - t0:.0f} s ({cache})", flush=True)
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f)
    return folder, meta


def start_child(store_path: str, run_id: str, rate: float, seconds: float):
    """Start the stand-in child for the live run and make the run point at it (re-attach). It
    goes on after the steps and seqs the run already has (an earlier benchmark's included)."""
    from workbench.store import ProjectStore

    store = ProjectStore.open(store_path)
    run = store.get_run(run_id)
    first_seq = store._query("SELECT MAX(seq) AS m FROM metric_points WHERE run_id = ?", (run_id,))[0]["m"]
    work = store.abspath(run.work_dir)
    spec, journal, stop = (os.path.join(work, n) for n in ("train.spec.json", "journal.jsonl", "STOP"))
    for path in (journal, stop):
        if os.path.exists(path):
            os.remove(path)
    with open(spec, "w", encoding="utf-8") as f:
        f.write("{}")
    proc = subprocess.Popen([sys.executable, "-c", CHILD, spec, journal, stop, str(run.step), str(first_seq), str(rate),
                             str(seconds)])
    store._update_run(run_id, {"status": "running", "pid": proc.pid, "journal_offset": 0})
    store.close()
    return proc, stop


def chart_points(page, run_id: str) -> int:
    """How many loss points of `run_id` the Runs page's chart holds."""
    data = page.chart.data(run_id)
    buf = data.buffers.get("loss") if data is not None else None
    return len(buf) if buf is not None else 0


def wait(app, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.005)


def run_for(app, seconds: float, each=None, every: float = 0.15) -> None:
    end = time.monotonic() + seconds
    nxt = time.monotonic() + every
    while time.monotonic() < end:
        app.processEvents()
        if each is not None and time.monotonic() >= nxt:
            each()
            nxt += every
        time.sleep(0.001)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--others", type=int, default=9)
    parser.add_argument("--other-points", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=20.0, help="metric points per second streamed")
    parser.add_argument("--size", default="1500x950", help="the window's size, WIDTHxHEIGHT")
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "wb-bench-lag"))
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    scratch = tempfile.mkdtemp(prefix="wb-bench-lag-")
    os.environ.setdefault("WORKBENCH_DATA_DIR", os.path.join(scratch, "data"))
    os.environ.setdefault("WORKBENCH_SETTINGS_DIR", os.path.join(scratch, "settings"))
    folder, meta = ensure_project(args.cache, args.points, args.others, args.other_points)
    live, others = meta["runs"][0], meta["runs"][1:]
    total = 3 * args.seconds + 60
    child, stop = start_child(folder, live, args.rate, total)

    from PySide6.QtWidgets import QApplication

    from lag_probe import LagProbe
    from workbench.ui.common import theme
    from workbench.ui.shell.main_window import CHAT, DATASETS, RUNS, TRAIN, MainWindow

    app = QApplication.instance() or QApplication([])
    theme.apply_theme(app, "light")
    window = MainWindow()
    window.resize(*(int(v) for v in args.size.split("x")))
    window.show()
    results = []
    size_mb = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs) / 1e6
    try:
        probe = LagProbe()
        window.set_page(RUNS)
        app.processEvents()
        probe.start()
        t0 = time.perf_counter()
        window.open_project(folder)
        wait(app, lambda: window.ctx is not None, 300, "the project to open")
        page = window.runs_page
        page.select_runs([live])
        wait(app, lambda: chart_points(page, live) >= args.points, 120, "the live run's 1M points in the chart")
        opened = time.perf_counter() - t0
        results.append(probe.stop(f"opening the {size_mb:,.0f} MB project + 1M-point load"))
        before = chart_points(page, live)
        probe.start()
        run_for(app, args.seconds)
        results.append(probe.stop(f"1 run, {before:,} points, +{args.rate:.0f}/s"))
        grew = chart_points(page, live) - before

        page.select_runs([live, *others])
        wait(app, lambda: all(chart_points(page, r) >= args.other_points for r in others), 120,
             "the overlaid runs' points")
        probe.start()
        run_for(app, args.seconds)
        results.append(probe.stop(f"{len(others) + 1} runs overlaid, streaming"))

        pages = [DATASETS, RUNS, TRAIN, RUNS, CHAT, RUNS]
        turn = {"i": 0}

        def switch() -> None:
            turn["i"] += 1
            window.set_page(pages[turn["i"] % len(pages)])

        window.set_page(RUNS)
        run_for(app, 1.0, switch)  # every page built once before measuring (first builds import)
        probe.start()
        run_for(app, args.seconds, switch)
        results.append(probe.stop("switching pages every 150 ms, streaming"))
        for r in results:
            print(r.line(), flush=True)
        print(f"project open and the live run's {args.points:,} points drawn in {opened:.1f} s", flush=True)
        print(f"live points drawn while measuring: +{grew} in {args.seconds:.0f} s "
              f"(streamed at {args.rate:.0f}/s)", flush=True)
    finally:
        open(stop, "w").close()
        child.wait(30)
        window.ask_about_active_runs = lambda count: "keep"  # the child is ours: it was told to stop
        window.close()
        app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
