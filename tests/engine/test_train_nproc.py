"""Multi-process training goes through torchrun: `engine_argv(..., nproc=N)` starts N ranks of
one DDP run (gloo on a CPU); rank 0 alone reports (stdout and journal) and writes the adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import REPO, child_env, events_key, journal_events, parse_stdout
from workbench.core.errors import JobError
from workbench.core.records import TrainConfig
from workbench.engine import WORKER_SWITCH
from workbench.jobs import launch
from workbench.jobs.protocol import parse_line
from workbench.jobs.specs import TrainSpec, write_spec


def test_the_launcher_names_torchrun_and_never_imports_torch(monkeypatch):
    argv = launch.engine_argv("train", "/p/train.spec.json", nproc=2)
    assert argv == [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
                    "-m", "workbench.engine", "train", "/p/train.spec.json"]
    assert launch.engine_argv("train", "/p/s.json") == [sys.executable, "-m", "workbench.engine", "train", "/p/s.json"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    # A packaged build has no -m: its own executable runs torchrun, and torchrun runs it per rank.
    assert launch.engine_argv("train", "/p/s.json", nproc=3) == [
        sys.executable, WORKER_SWITCH, "torchrun", "--nproc-per-node", "3", "--standalone", "--no-python",
        sys.executable, WORKER_SWITCH, "train", "/p/s.json"]
    with pytest.raises(JobError, match="Only training"):
        launch.engine_argv("chat", "/p/s.json", nproc=2)


def _rank_events(stderr: str) -> list:
    return [e for e in (parse_line(line) for line in stderr.splitlines()) if e is not None]


def _two_rank_spec(tmp_path, model_dir: str, run_id: str, **config) -> tuple[TrainSpec, str]:
    """(spec, its path): a 2-process run on 16 ticket conversations, in tmp_path/run."""
    dataset = write_parquet(ticket_conversations(16), str(tmp_path / "t.parquet"))
    run_dir = tmp_path / "run"
    knobs = dict(r=4, alpha=8, batch_size=2, max_length=96, save_steps=0, eval_steps=0)
    spec = TrainSpec(run_id=run_id, base_model_path=model_dir, dataset_path=dataset, output_dir=str(run_dir),
                     journal_path=str(run_dir / "journal.jsonl"), stop_file=str(run_dir / "STOP"), nproc=2,
                     config=TrainConfig(**{**knobs, **config}))
    return spec, write_spec(spec, str(tmp_path / "train.spec.json"))


def _frozen_argv(spec_path: str) -> list[str]:
    """The frozen build's torchrun shape (launch.engine_argv when sys.frozen), with this
    interpreter's `-m workbench.engine` standing in for the executable."""
    engine = [sys.executable, "-m", "workbench.engine"]
    return [*engine, "torchrun", "--nproc-per-node", "2", "--standalone", "--no-python", *engine, "train", spec_path]


def _rank_0_alone_reports(proc: subprocess.CompletedProcess, spec: TrainSpec) -> tuple[list, list]:
    """(rank 0's events from stdout, rank 1's from stderr), checking that only rank 0 reported
    on stdout and in the journal, and that rank 1 ran the same run."""
    assert proc.returncode == 0, proc.stderr[-4000:]
    events = parse_stdout(proc.stdout)  # every stdout line is a protocol event: rank 0's
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # no seq twice, none missing
    started = [e.payload for e in events if e.kind == "started"]
    assert [(p["rank"], p["world_size"]) for p in started] == [(0, 2)]
    assert events_key(journal_events(spec.journal_path)) == events_key(events)
    other = _rank_events(proc.stderr)  # rank 1 reports to its stderr only
    assert [(e.payload["rank"], e.payload["world_size"]) for e in other if e.kind == "started"] == [(1, 2)]
    assert not [e for e in other if e.kind in ("completed", "cancelled", "heartbeat")]  # nor wrote an adapter
    return events, other


@pytest.mark.slow
def test_two_cpu_processes_train_one_model_and_rank_0_alone_reports(tmp_path, tiny_model_dir):
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    spec, spec_path = _two_rank_spec(tmp_path, tiny_model_dir, "ddp", learning_rate=5e-3, max_steps=4,
                                     save_steps=2, seed=5)
    run_dir = tmp_path / "run"
    proc = subprocess.run(launch.engine_argv("train", spec_path, nproc=spec.nproc), capture_output=True, text=True,
                          timeout=600, cwd=REPO, env=child_env())
    events, other = _rank_0_alone_reports(proc, spec)
    kinds = [e.kind for e in events]
    assert kinds.count("started") == 1 and kinds.count("completed") == 1
    # Rank 1 trained the same steps of the same run.
    assert [e.payload["step"] for e in other if e.kind == "progress"] == [1, 2, 3, 4]

    done = events[-1]
    assert done.kind == "completed" and done.payload["adapter_path"] == str(run_dir / "adapter")
    assert sorted(os.listdir(run_dir)) == ["adapter", "checkpoints", "journal.jsonl"]  # no second writer's leftovers
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["checkpoint-2", "checkpoint-4"]
    losses = [e.payload["values"]["loss"] for e in events if e.kind == "log" and "loss" in e.payload["values"]]
    assert len(losses) == 4 and losses[-1] < losses[0]
    weights = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and any(t.abs().sum() > 0 for t in lora_b)  # B starts at zero: it trained
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(run_dir / "adapter"))


@pytest.mark.slow
def test_a_stop_one_rank_reads_stops_every_rank_at_the_same_step(tmp_path, tiny_model_dir):
    """The ranks share the child's stdin, so exactly one of them reads a "stop" line: the ranks
    agree on stopping at the end of a step (else the others would wait for it forever in the next
    gradient all-reduce), and rank 0 saves the adapter and a checkpoint to resume from.

    Launched in the frozen build's shape (the engine's own torchrun agent, `--no-python`): the
    ranks run the same `workbench.engine train` either way, so this run checks that shape too."""
    spec, spec_path = _two_rank_spec(tmp_path, tiny_model_dir, "ddp-stop", max_steps=50)
    run_dir = tmp_path / "run"
    proc = subprocess.run(_frozen_argv(spec_path), input="stop\n", capture_output=True, text=True, timeout=600,
                          cwd=REPO, env=child_env())
    events, other = _rank_0_alone_reports(proc, spec)
    end = events[-1]
    assert end.kind == "cancelled" and end.payload["adapter_path"] == str(run_dir / "adapter"), proc.stderr[-3000:]
    step = end.payload["step"]
    assert 1 <= step < 50
    other_steps = [e.payload["step"] for e in other if e.kind == "progress"]
    assert other_steps[-1] == step  # rank 1 stopped at the same step
    assert os.listdir(run_dir / "checkpoints") == [f"checkpoint-{step}"]


@pytest.mark.slow
def test_killing_torchruns_agent_ends_every_rank(tmp_path, tiny_model_dir):
    """A hung run is ended with SIGKILL (services.runs): torchrun starts each rank in a session
    of its own, so the ranks end themselves once their agent is gone rather than live on."""
    import psutil

    spec, spec_path = _two_rank_spec(tmp_path, tiny_model_dir, "ddp-kill", max_steps=100000)
    child = launch.ChildProcess("train", spec_path, str(tmp_path / "train.log"), nproc=spec.nproc).start()
    ranks: list = []
    try:
        deadline = time.monotonic() + 300
        while not any(e.kind == "progress" for e in child.poll_events()):
            assert child.alive() and time.monotonic() < deadline, open(tmp_path / "train.log").read()[-3000:]
            time.sleep(0.1)
        ranks = [p for p in psutil.Process(child.pid).children(recursive=True)
                 if "workbench.engine" in " ".join(p.cmdline())]
        assert len(ranks) == 2
        child.kill()
        child.wait(30)
        gone, alive = psutil.wait_procs(ranks, timeout=60)
        assert not alive, [p.cmdline() for p in alive]
    finally:
        child.close(grace=1.0)
        for p in ranks:  # a failed check must not leave ranks training
            if p.is_running():
                p.kill()


@pytest.mark.slow
def test_workbench_train_nproc_trains_one_run_in_two_processes(tmp_path, tiny_model_dir):
    """`workbench train --nproc 2` goes through the run manager's one launch path to torchrun."""
    from workbench.services import paths
    from workbench.store import ProjectStore

    project = str(tmp_path / "P.wbproj")

    def wb(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workbench.cli", *args, "--project", project], cwd=REPO,
                              capture_output=True, text=True, timeout=600)

    assert wb("import", paths.demo_dataset_path()).returncode == 0
    done = wb("train", "--model", "tiny", "--nproc", "2", "--max-steps", "4", "--batch-size", "2",
              "--max-length", "96", "--save-steps", "2", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    store = ProjectStore.open(project)
    try:
        run = store.list_runs()[0]
        assert run.status == "completed" and run.step == 4
        spec = json.load(open(os.path.join(store.abspath(run.work_dir), "train.spec.json")))
        events = journal_events(os.path.join(store.abspath(run.work_dir), "journal.jsonl"))
    finally:
        store.close()
    assert spec["nproc"] == 2
    started = [e.payload for e in events if e.kind == "started"]
    assert [(p["rank"], p["world_size"]) for p in started] == [(0, 2)]
    bad = wb("train", "--model", "tiny", "--nproc", "0")
    assert bad.returncode == 2 and "1 or more" in bad.stderr
