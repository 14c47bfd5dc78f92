"""`workbench train --method dpo [--beta B] [--from-run RUN]`: a DPO run from the command line,
started from an SFT run's adapter, chatted with afterwards; the refusals a script sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHOSEN = "Thank you, your order is on its way."


def wb(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def project(store, tiny_model_dir):
    """A project with an SFT version ("Chats"), a preference version ("Pairs") and the tiny model."""
    from workbench.services import datasets, models

    chats = [{"messages": [{"role": "user", "content": f"Question {i}?"},
                           {"role": "assistant", "content": CHOSEN}], "source": {"i": i}} for i in range(8)]
    datasets.create_version_from_rows(store, dataset_name="Chats", rows=chats, kind="sft", source_name="test")
    pairs = [{**row, "rejected": [{"role": "assistant", "content": "No. Go away."}]} for row in chats]
    datasets.create_version_from_rows(store, dataset_name="Pairs", rows=pairs, kind="preference", source_name="test")
    model = models.add_local_model(store, tiny_model_dir)
    path, name = store.path, model.name
    store.close()
    return path, name


SHORT = ("--max-steps", "3", "--batch-size", "4", "--max-length", "64", "--save-steps", "0", "--lr", "0.005")


@pytest.mark.slow
def test_train_dpo_from_an_sft_run_then_chat(project):
    path, model = project
    sft = wb("train", "--project", path, "--dataset", "Chats", "--model", model, "--name", "sft", *SHORT, "--json")
    assert sft.returncode == 0, sft.stderr[-2000:]
    dpo = wb("train", "--project", path, "--dataset", "Pairs", "--model", model, "--name", "dpo", "--method", "dpo",
             "--beta", "0.2", "--from-run", "sft", *SHORT, "--json")
    assert dpo.returncode == 0, dpo.stderr[-2000:]
    run = json.loads(dpo.stdout)
    assert run["status"] == "completed" and run["init_run_id"] == json.loads(sft.stdout)["id"]
    assert run["config"]["method"] == "dpo" and run["config"]["beta"] == 0.2
    assert "reward margin" in dpo.stderr  # the progress lines show how far chosen leads
    chat = wb("chat", "--project", path, "--run", "dpo", "--temperature", "0", "--max-new-tokens", "8",
              "Where is my parcel?", "--json")
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert json.loads(chat.stdout)["run_id"] == run["id"]


def test_train_dpo_on_an_sft_version_exits_with_the_reason(project):
    path, model = project
    proc = wb("train", "--project", path, "--dataset", "Chats", "--model", model, "--method", "dpo", *SHORT)
    assert proc.returncode == 1
    assert "DPO trains on preference pairs" in proc.stderr and "preference version" in proc.stderr


@pytest.mark.parametrize("method", ["orpo", "kto"])
def test_train_takes_orpo_and_kto(project, method):
    """The flag accepts them (argparse would exit 2); on an SFT version the run is refused by name."""
    path, model = project
    proc = wb("train", "--project", path, "--dataset", "Chats", "--model", model, "--method", method, *SHORT)
    assert proc.returncode == 1, proc.stderr
    assert f"{method.upper()} trains on preference pairs" in proc.stderr


def test_train_refuses_an_unknown_method_and_a_missing_start_run(project):
    path, model = project
    proc = wb("train", "--project", path, "--dataset", "Pairs", "--model", model, "--method", "ppo")
    assert proc.returncode == 2 and "invalid choice: 'ppo'" in proc.stderr
    proc = wb("train", "--project", path, "--dataset", "Pairs", "--model", model, "--method", "dpo",
              "--from-run", "nope", *SHORT)
    assert proc.returncode == 1 and "nope" in proc.stderr
    proc = wb("train", "--project", path, "--dataset", "Pairs", "--model", model, "--method", "dpo",
              "--beta", "0", *SHORT)
    assert proc.returncode == 1 and "Beta must be above 0" in proc.stderr


@pytest.mark.slow
def test_orpo_and_kto_runs_through_the_queue_then_export(project, tmp_path):
    """What the training issue built works for the new methods too: queued, trained by
    `runs queue --run`, their rewards curves stored, and an ORPO run exported as a merged model."""
    path, model = project
    for method in ("orpo", "kto"):
        queued = wb("train", "--project", path, "--dataset", "Pairs", "--model", model, "--name", method,
                    "--method", method, "--queue", *SHORT, "--json")
        assert queued.returncode == 0, queued.stderr[-2000:]
        assert json.loads(queued.stdout)["status"] == "queued"
    ran = wb("runs", "queue", "--run", "--project", path, "--json")
    assert ran.returncode == 0, ran.stderr[-2000:]
    runs = {r["name"]: r for r in json.loads(ran.stdout)["ran"]}
    assert {n: r["status"] for n, r in runs.items()} == {"orpo": "completed", "kto": "completed"}
    from workbench.core.metric_names import REWARD_MARGIN
    from workbench.store import ProjectStore

    store = ProjectStore.open(path)
    try:
        for name, run in runs.items():
            assert store.get_run(run["id"]).train_config.method == name
            assert len(store.metric_series(run["id"], REWARD_MARGIN)) == 3  # the Runs page's margin curve
    finally:
        store.close()
    out = tmp_path / "merged"
    export = wb("runs", "export", "orpo", "--merged", str(out), "--project", path)
    assert export.returncode == 0, export.stderr[-2000:]
    assert (out / "config.json").is_file()
