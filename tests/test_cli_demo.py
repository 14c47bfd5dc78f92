"""The headless mirror: `workbench demo --model tiny --json` does the whole path."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_tiny_json(tmp_path, tiny_model_dir):
    project = str(tmp_path / "Demo.wbproj")
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "demo", "--project", project, "--model", "tiny", "--json"],
        capture_output=True, text=True, timeout=600, env=dict(os.environ),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)  # exactly one JSON object on stdout
    for key in ("project", "dataset_id", "run_id", "status", "first_loss", "last_loss", "adapter_path", "reply"):
        assert key in result
    assert result["status"] == "completed"
    assert result["last_loss"] < result["first_loss"]
    assert result["reply"].strip()
    assert os.path.isfile(os.path.join(result["adapter_path"], "adapter_model.safetensors"))
    assert "step" in out.stderr  # progress went to stderr

    runs = subprocess.run([sys.executable, "-m", "workbench.cli", "runs", "--project", project, "--json"],
                          capture_output=True, text=True, timeout=120)
    assert runs.returncode == 0, runs.stderr
    assert json.loads(runs.stdout)[0]["id"] == result["run_id"]
