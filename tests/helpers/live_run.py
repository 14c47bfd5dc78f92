"""A closed project holding one 'running' run whose stand-in child is alive: the child (a
script the test gives) follows the real protocol's files (spec, journal, STOP), so the real
store, RunManager re-attach, poller and pages follow it without loading torch."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

from workbench.core.clock import new_id, now_iso
from workbench.core.records import TrainConfig
from workbench.jobs.protocol import EventWriter
from workbench.services import datasets
from workbench.store import ProjectStore


@contextmanager
def live_run(folder, dataset_path: str, child: str) -> Iterator[tuple[str, str, EventWriter, subprocess.Popen]]:
    """-> (project path, run id, the journal's writer, the child process). The child runs
    `python -c child SPEC JOURNAL STOP` with its stderr in the run's train.log (as a real
    child's); the journal already says `started` (40 steps). The child is killed at the end."""
    store = ProjectStore.create(str(folder / "Live.wbproj"))
    version = datasets.import_dataset(store, dataset_path)
    model = store.add_base_model("tiny", "tiny", str(folder / "model"), "a" * 64)
    run_id = new_id()
    work_rel = os.path.join("runs", run_id)
    work = store.abspath(work_rel)
    os.makedirs(work)
    spec, journal, stop = (os.path.join(work, n) for n in ("train.spec.json", "journal.jsonl", "STOP"))
    with open(spec, "w") as f:
        f.write("{}")
    with open(os.path.join(work, "train.log"), "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", child, spec, journal, stop], stderr=log)
    store.add_run(id=run_id, name="live-run", dataset_version_id=version.id, base_model_id=model.id,
                  config=dataclasses.asdict(TrainConfig(max_steps=40)), status="running",
                  work_dir=work_rel, pid=proc.pid, started_at=now_iso())
    writer = EventWriter(None, journal)
    writer.emit("started", total_steps=40, device="cpu", seed=42)
    path = store.path
    store.close()
    try:
        yield path, run_id, writer, proc
    finally:
        writer.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
