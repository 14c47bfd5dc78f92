"""`workbench runs queue | status RUN | resume RUN | cancel RUN`: runs on a server without a display.

    runs queue [--move RUN POS] [--remove RUN] [--run]   the queue (and, with --run, train it)
    runs status RUN                                      one run: status, why, segments, measurements
    runs resume RUN [--queue]                            continue as the same run (waits; Ctrl+C stops)
    runs cancel RUN [--wait]                             ask a running run to stop (it saves a checkpoint)

RUN is a run's name or id (or an id prefix). The same services as the app: a run started here
shows in the app, and the other way round.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any, Callable, Optional

from workbench.core.failures import FAILURE_LABELS
from workbench.core.metric_names import REWARD_MARGIN
from workbench.core.records import TrainConfig
from workbench.core.train_config import ConfigFile, load_config_file


def add_runs_control_parsers(sub: Any, project: Callable[..., None]) -> None:
    q = sub.add_parser("queue", help="list the run queue; --move / --remove change it; --run trains it")
    project(q, required=False, default=argparse.SUPPRESS)
    q.add_argument("--move", nargs=2, metavar=("RUN", "POS"), help="move a waiting run to position POS (1 = next)")
    q.add_argument("--remove", metavar="RUN", help="take a waiting run out of the queue (the run is kept)")
    q.add_argument("--run", action="store_true", help="start the queued runs one after another and wait for all")
    s = sub.add_parser("status", help="one run: status, why it ended, segments, measurements")
    project(s, required=False, default=argparse.SUPPRESS)
    s.add_argument("run", help="run name or id")
    r = sub.add_parser("resume", help="continue a run from its last checkpoint as the same run (waits)")
    project(r, required=False, default=argparse.SUPPRESS)
    r.add_argument("run", help="run name or id")
    r.add_argument("--queue", action="store_true", help="put it in the queue instead of starting it now")
    c = sub.add_parser("cancel", help="ask a running run to stop; it saves a checkpoint and its adapter")
    project(c, required=False, default=argparse.SUPPRESS)
    c.add_argument("run", help="run name or id")
    c.add_argument("--wait", action="store_true", help="wait until it has stopped")


def _progress_line(store, run_id: str, ev) -> None:
    if ev.kind == "log" and "loss" in (ev.payload.get("values") or {}):
        total = store.get_run(run_id).total_steps
        print(f"{store.get_run(run_id).name}: step {ev.payload.get('step')}/{total} "
              f"loss {ev.payload['values']['loss']:.4f}", file=sys.stderr, flush=True)


def wait_for(manager, store, run_ids: Callable[[], list[str]]) -> None:
    """Poll until none of `run_ids()` is queued or running; Ctrl+C stops them cooperatively."""
    try:
        while True:
            waiting = [i for i in run_ids() if store.get_run(i).status in ("queued", "running")]
            if not waiting:
                return
            for run_id, ev in manager.poll():
                _progress_line(store, run_id, ev)
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("stopping (saving checkpoints)...", file=sys.stderr, flush=True)
        manager.shutdown(kill=True)


def _open(args):
    from workbench.cli import _open as open_project

    return open_project(args.project)


def _row(store, run) -> dict[str, Any]:
    from workbench.cli import _run_dict

    d = _run_dict(store, run)
    d["failure"] = FAILURE_LABELS.get(run.failure_kind or "")
    return d


def queue(args) -> dict[str, Any]:
    from workbench.services import lookup
    from workbench.services.runs import RunManager

    store = _open(args)
    try:
        manager = RunManager(store, run_queue=args.run)
        if args.move:
            manager.move_in_queue(lookup.find_run(store, args.move[0]).id, int(args.move[1]))
        if args.remove:
            manager.remove_from_queue(lookup.find_run(store, args.remove).id)
        ran: list[str] = []
        if args.run:
            ran = list(dict.fromkeys(manager.queued_run_ids() + manager.active_run_ids()))
            wait_for(manager, store, lambda: list(dict.fromkeys(
                ran + manager.queued_run_ids() + manager.active_run_ids())))
        manager.shutdown()
        return {"queue": [_row(store, store.get_run(i)) for i in store.queued_run_ids()],
                "ran": [_row(store, store.get_run(i)) for i in ran]}
    finally:
        store.close()


def status(args) -> dict[str, Any]:
    from workbench.services import lookup, run_views
    from workbench.services.runs import RunManager

    store = _open(args)
    try:
        RunManager(store).shutdown()  # re-attach: ingest what it reported while nobody watched
        run = store.get_run(lookup.find_run(store, args.run).id)
        d = _row(store, run)
        d["segments"] = [dataclasses.asdict(s) for s in store.run_segments(run.id)]
        d["peak_memory"] = run_views.peak_memory_text(run)
        return d
    finally:
        store.close()


def resume(args) -> dict[str, Any]:
    from workbench.services import lookup
    from workbench.services.runs import RunManager

    store = _open(args)
    try:
        manager = RunManager(store)
        run = manager.resume(lookup.find_run(store, args.run).id, queue=args.queue)
        if not args.queue:
            print(f"run {run.name} ({run.id}) resumed at step {run.step}", file=sys.stderr, flush=True)
            wait_for(manager, store, lambda: [run.id])
        return _row(store, store.get_run(run.id))
    finally:
        store.close()


def cancel(args) -> dict[str, Any]:
    from workbench.services import lookup
    from workbench.services.runs import RunManager

    store = _open(args)
    try:
        manager = RunManager(store)  # re-attaches a run another process started
        run = lookup.find_run(store, args.run)
        manager.cancel(run.id)
        if args.wait:
            wait_for(manager, store, lambda: [run.id])
        manager.shutdown()
        return _row(store, store.get_run(run.id))
    finally:
        store.close()


def show_queue(result: dict[str, Any]) -> None:
    from workbench.cli import _show_runs

    if result["ran"]:
        print("ran:")
        _show_runs(result["ran"])
    print("queue:" if result["queue"] else "queue: empty")
    for i, r in enumerate(result["queue"], 1):
        print(f"  {i}. {r['id'][:8]}  {r['name']}  on {r['dataset']}")


def show_status(result: dict[str, Any]) -> None:
    status = result["status"] + (f" · {result['failure']}" if result.get("failure") else "")
    print(f"{result['name']} ({result['id']}): {status}, step {result['step']}/{result['total_steps']}")
    if result.get("error"):
        print(f"  error: {result['error']}")
    if result.get("error_advice"):
        print(f"  what to do: {result['error_advice']}")
    for s in result["segments"]:
        how = "started" if s["idx"] == 0 else f"resumed at step {s['start_step']}"
        end = f"{s['end_status']} at step {s['end_step']}" if s["end_status"] else "running"
        print(f"  {s['idx'] + 1}. {s['started_at'][:19]} {how}{' (' + s['note'] + ')' if s.get('note') else ''}"
              f" -> {end}{' - ' + s['reason'] if s.get('reason') else ''}")
    env = result.get("environment") or {}
    if result.get("peak_memory"):
        print(f"  peak memory: {result['peak_memory']}")
    if env.get("tokens_per_s"):
        print(f"  throughput: {env['tokens_per_s']:,.0f} tokens/s")


def show_run(result: dict[str, Any]) -> None:
    from workbench.cli import _show_runs

    _show_runs([result])


# -- `workbench train` ------------------------------------------------------------------------------
def train_and_wait(store, version_id: str, model_id: str, config: TrainConfig, name: Optional[str] = None,
                   nproc: int = 1, init_run_id: Optional[str] = None):
    from workbench.services.runs import RunManager

    manager = RunManager(store)
    run = manager.start(version_id, model_id, config, name=name, nproc=nproc, init_run_id=init_run_id)
    print(f"run {run.name} ({run.id}) started", file=sys.stderr, flush=True)
    last = -1
    try:
        while run.id in manager.active_run_ids():
            for _, ev in manager.poll():
                if ev.kind == "log" and "loss" in (ev.payload.get("values") or {}):
                    step = ev.payload.get("step")
                    if step != last:
                        last = step
                        values = ev.payload["values"]
                        total = store.get_run(run.id).total_steps
                        margin = values.get(REWARD_MARGIN)  # preference runs: how far chosen leads
                        extra = f" reward margin {margin:.4f}" if margin is not None else ""
                        print(f"step {step}/{total} loss {values['loss']:.4f}{extra}", file=sys.stderr, flush=True)
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("stopping (saving the adapter)...", file=sys.stderr, flush=True)
        manager.cancel(run.id)
        manager.shutdown(kill=True)
    return store.get_run(run.id)


def cmd_train(args) -> dict[str, Any]:
    from workbench.cli import METHOD_FLAGS, TRAIN_FLAGS, _model, _open, _run_dict
    from workbench.services import lookup

    store = _open(args.project)
    try:
        setup = load_config_file(args.config) if args.config else ConfigFile(TrainConfig())
        version = lookup.find_version(store, args.dataset or setup.dataset)
        model = _model(store, args.model or setup.base_model or "tiny")
        given = {attr: getattr(args, attr) for _flag, attr, _type in TRAIN_FLAGS + METHOD_FLAGS
                 if getattr(args, attr) is not None}
        config = setup.config.replace(**given)
        name = args.name or setup.name
        init_run_id = lookup.find_run(store, args.from_run).id if args.from_run else None
        if args.queue:
            from workbench.services.runs import RunManager

            run = RunManager(store).enqueue(version.id, model.id, config, name=name, init_run_id=init_run_id)
            print(f"run {run.name} ({run.id}) queued", file=sys.stderr, flush=True)
            return _run_dict(store, run)
        run = train_and_wait(store, version.id, model.id, config, name=name, nproc=args.nproc,
                             init_run_id=init_run_id)
        return _run_dict(store, run)
    finally:
        store.close()
