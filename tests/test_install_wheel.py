"""Workbench installs like a real package: a wheel built from this tree, installed into a fresh
venv outside it, finds its resources and runs `workbench demo` with nothing of the source tree
on its path. That demo run is also the suite's test of `workbench demo --json` itself (the whole
headless path: import, train, chat), so the demo trains once per suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ("workbench/resources/demo/support_chats.jsonl", "workbench/resources/icons/workbench.png",
             "workbench/resources/icons/workbench.svg", "workbench/resources/styles/light.qss",
             "workbench/resources/styles/dark.qss")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: setuptools writes build/ and an .egg-info beside the sources, and a
    # stale build/lib would put modules deleted from the tree into the wheel.
    src = tmp_path_factory.mktemp("wheel-src")
    shutil.copytree(ROOT / "workbench", src / "workbench", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation and no index: the running environment has setuptools, and the test
    # must not need the network.
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--no-index", str(src), "-w", str(out)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (path,) = out.glob("workbench-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed. The heavy dependencies (torch, Qt, ...) come from
    the test's own environment through a .pth line; a .pth line adds a folder but runs none of
    that folder's .pth files, so the source tree's editable-install finder stays out."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    ours = sysconfig.get_paths()
    Path(site, "workbench_test_dependencies.pth").write_text(
        "\n".join(dict.fromkeys((ours["purelib"], ours["platlib"]))) + "\n", encoding="utf-8")
    return root


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # nothing may point back at the source tree
    return env


def test_wheel_ships_the_resources_and_py_typed(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"workbench/py.typed", *RESOURCES} <= names
    assert not any(n.startswith(("tools/", "tests/", "resources/")) for n in names)


def test_installed_wheel_runs_the_demo_outside_the_source_tree(venv, tiny_model_dir, tmp_path):
    where = tmp_path / "elsewhere"  # the working folder of a user, not the checkout
    where.mkdir()
    probe = ("import json, sys, workbench; from workbench.services import paths; "
             "print(json.dumps({'package': workbench.__file__, 'path': sys.path, "
             "'demo': paths.demo_dataset_path(), 'style': paths.resource('styles', 'dark.qss'), "
             "'icon': paths.resource('icons', 'workbench.svg')}))")
    found = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=where, env=_env(),
                           capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr[-3000:]
    found = json.loads(found.stdout)
    assert Path(found["package"]).is_relative_to(venv)
    assert not any(Path(entry or where).resolve() == ROOT for entry in found["path"])
    for key in ("demo", "style", "icon"):
        assert Path(found[key]).is_relative_to(venv) and Path(found[key]).is_file(), found[key]

    # The session's user data folder (WORKBENCH_DATA_DIR) already holds the tiny model.
    workbench, project = str(venv / "bin" / "workbench"), str(where / "Demo.wbproj")
    demo = subprocess.run([workbench, "demo", "--project", project, "--model", "tiny", "--json"], cwd=where,
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout)  # exactly one JSON object on stdout
    for key in ("project", "dataset_id", "run_id", "status", "first_loss", "last_loss", "adapter_path", "reply"):
        assert key in result
    assert result["status"] == "completed", result
    assert result["last_loss"] < result["first_loss"]
    assert result["reply"].strip()
    assert os.path.isfile(os.path.join(result["adapter_path"], "adapter_model.safetensors"))
    assert "step" in demo.stderr  # progress went to stderr

    runs = subprocess.run([workbench, "runs", "--project", project, "--json"], cwd=where, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert runs.returncode == 0, runs.stderr
    assert json.loads(runs.stdout)[0]["id"] == result["run_id"]
