"""`workbench train --config FILE [--queue]` and `workbench runs queue | status | resume | cancel`:
runs on a server without a display, through the same services as the app (cli.main, in this
process: a shell runs the same function)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.rows import chat, write_jsonl
from workbench.core.train_config import TrainConfig, save_config_file

pytestmark = pytest.mark.slow


@pytest.fixture
def wb(capsys):
    return lambda *args: run_cli(capsys, *args)


@pytest.fixture
def project(tmp_path, tiny_model_dir, wb):
    data = write_jsonl(tmp_path / "chats.jsonl",
                       [chat(f"Where is order {i}?", f"Order {i} ships today.") for i in range(12)])
    path = str(tmp_path / "P.wbproj")
    assert wb("import", str(data), "--project", path).returncode == 0
    return path


def test_train_from_a_config_file_then_queue_reorder_and_run_the_queue(project, tmp_path, wb):
    """Two real runs (the queue's order is seen in what ran); the others wait or are removed."""
    setup = save_config_file(str(tmp_path / "quick.yaml"), TrainConfig(r=4, alpha=8, max_steps=3, batch_size=4,
                                                                       max_length=64, save_steps=2),
                             base_model="tiny", name="from-file")
    queued = wb("train", "--config", setup, "--project", project, "--queue", "--lr", "1e-3", "--json")
    assert queued.returncode == 0, queued.stderr
    run = json.loads(queued.stdout)
    assert (run["name"], run["status"]) == ("from-file", "queued")  # the name the file gives
    assert run["config"]["r"] == 4 and run["config"]["learning_rate"] == 1e-3  # the flag overrides the file
    for name in ("second", "third"):
        queued = wb("train", "--config", setup, "--project", project, "--queue", "--name", name, "--json")
        assert queued.returncode == 0 and json.loads(queued.stdout)["status"] == "queued", queued.stderr

    moved = wb("runs", "queue", "--project", project, "--move", "third", "1", "--remove", "second", "--json")
    assert [r["name"] for r in json.loads(moved.stdout)["queue"]] == ["third", "from-file"]
    ran = wb("runs", "queue", "--project", project, "--run", "--json")
    result = json.loads(ran.stdout)
    assert ran.returncode == 0 and result["queue"] == []
    assert [(r["name"], r["status"], r["step"]) for r in result["ran"]] == [("third", "completed", 3),
                                                                           ("from-file", "completed", 3)]
    listed = {r["name"]: r["status"] for r in json.loads(wb("runs", "--project", project, "--json").stdout)}
    assert listed == {"from-file": "completed", "second": "cancelled", "third": "completed"}

    status = wb("runs", "status", "from-file", "--project", project)
    assert status.returncode == 0 and "from-file" in status.stdout and "completed" in status.stdout
    assert "1. " in status.stdout and "peak memory: " in status.stdout


def test_resume_and_cancel_say_why_they_cannot(project, tmp_path, wb):
    setup = save_config_file(str(tmp_path / "q.json"), TrainConfig(max_steps=3), base_model="tiny", name="waits")
    assert wb("train", "--config", setup, "--project", project, "--queue").returncode == 0
    assert wb("runs", "queue", "--project", project, "--remove", "waits").returncode == 0
    resumed = wb("runs", "resume", "waits", "--project", project)
    assert resumed.returncode == 1 and "cannot be resumed" in resumed.stderr and "what to do:" in resumed.stderr
    cancelled = wb("runs", "cancel", "waits", "--project", project, "--json")
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "cancelled"
    missing = wb("runs", "status", "nope", "--project", project)
    assert missing.returncode == 1 and "No run matches" in missing.stderr
