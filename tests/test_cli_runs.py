"""`workbench train --config FILE [--queue]` and `workbench runs queue | status | resume | cancel`:
runs on a server without a display, through the same services as the app."""

from __future__ import annotations

import json

import pytest

from tests.test_cli import wb
from workbench.core.train_config import TrainConfig, save_config_file

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path, tiny_model_dir):
    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Where is order {i}?"},
                                                     {"role": "assistant", "content": f"Order {i} ships today."}]})
                            + "\n" for i in range(12)), encoding="utf-8")
    path = str(tmp_path / "P.wbproj")
    assert wb("import", str(data), "--project", path).returncode == 0
    return path


def test_train_from_a_config_file_then_queue_reorder_and_run_the_queue(project, tmp_path):
    setup = save_config_file(str(tmp_path / "quick.yaml"), TrainConfig(r=4, alpha=8, max_steps=3, batch_size=4,
                                                                       max_length=64, save_steps=2),
                             base_model="tiny", name="from-file")
    done = wb("train", "--config", setup, "--project", project, "--lr", "1e-3", "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert (run["name"], run["status"], run["step"]) == ("from-file", "completed", 3)
    assert run["config"]["r"] == 4 and run["config"]["learning_rate"] == 1e-3  # the flag overrides the file

    status = wb("runs", "status", "from-file", "--project", project)
    assert status.returncode == 0 and "from-file" in status.stdout and "completed" in status.stdout
    assert "1. " in status.stdout and "peak memory: " in status.stdout

    for name in ("first", "second", "third"):
        queued = wb("train", "--config", setup, "--project", project, "--queue", "--name", name, "--json")
        assert queued.returncode == 0 and json.loads(queued.stdout)["status"] == "queued", queued.stderr
    moved = wb("runs", "queue", "--project", project, "--move", "third", "1", "--remove", "second", "--json")
    assert [r["name"] for r in json.loads(moved.stdout)["queue"]] == ["third", "first"]
    ran = wb("runs", "queue", "--project", project, "--run", "--json")
    result = json.loads(ran.stdout)
    assert ran.returncode == 0 and result["queue"] == []
    assert [(r["name"], r["status"]) for r in result["ran"]] == [("third", "completed"), ("first", "completed")]
    listed = {r["name"]: r["status"] for r in json.loads(wb("runs", "--project", project, "--json").stdout)}
    assert listed == {"from-file": "completed", "first": "completed", "second": "cancelled", "third": "completed"}


def test_resume_and_cancel_say_why_they_cannot(project, tmp_path):
    setup = save_config_file(str(tmp_path / "q.json"), TrainConfig(max_steps=3), base_model="tiny", name="waits")
    assert wb("train", "--config", setup, "--project", project, "--queue").returncode == 0
    assert wb("runs", "queue", "--project", project, "--remove", "waits").returncode == 0
    resumed = wb("runs", "resume", "waits", "--project", project)
    assert resumed.returncode == 1 and "cannot be resumed" in resumed.stderr and "what to do:" in resumed.stderr
    cancelled = wb("runs", "cancel", "waits", "--project", project, "--json")
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["status"] == "cancelled"
    missing = wb("runs", "status", "nope", "--project", project)
    assert missing.returncode == 1 and "No run matches" in missing.stderr
