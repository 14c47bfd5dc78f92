"""`workbench` verbs as a script uses them: exit codes, stderr reasons, closed pipes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wb(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def project(tmp_path):
    """A project with a two-row dataset and a base model folder that cannot be loaded."""
    from workbench.store import ProjectStore

    data = tmp_path / "chats.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                                     {"role": "assistant", "content": f"a{i}"}]}) + "\n"
                            for i in range(2)), encoding="utf-8")
    path = str(tmp_path / "P.wbproj")
    assert wb("import", str(data), "--project", path).returncode == 0
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")  # enough to start a run; the child cannot load it
    store = ProjectStore.open(path)
    try:
        store.add_base_model("broken", "hf_folder", str(broken), "c" * 64)
    finally:
        store.close()
    return path


def test_train_exits_non_zero_with_the_reason_when_the_run_fails(project):
    done = wb("train", "--project", project, "--model", "broken", "--max-steps", "3", "--json")
    assert done.returncode == 1, done.stderr
    run = json.loads(done.stdout)  # the result is still printed for scripts
    assert run["status"] == "failed"
    assert "error: the run ended failed: Cannot load the tokenizer of" in done.stderr
    assert "what to do: The base model folder must include its tokenizer files." in done.stderr


def test_a_closed_pipe_ends_a_verb_quietly(project):
    """`workbench runs | head -1`: the reader leaves after one line; no traceback follows."""
    from workbench.store import ProjectStore

    store = ProjectStore.open(project)
    try:
        version = store.list_versions()[0]
        model = store.list_base_models()[0]
        # Far more than a pipe holds, so the writer is still writing when the reader leaves.
        for i in range(1500):
            store.add_run(id=f"run-{i:05d}", name=f"run {i} " + "x" * 150, dataset_version_id=version.id,
                          base_model_id=model.id, config={}, status="cancelled", work_dir=f"runs/run-{i}")
    finally:
        store.close()
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "runs", "--project", project], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith(b"run-0")
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert "Exception ignored" not in stderr, stderr
