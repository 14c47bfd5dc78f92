"""Starting engine children: the command line, and a packaged build's worker switch end to end."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from workbench.core.errors import JobError
from workbench.jobs import launch
from workbench.jobs.specs import BuildModelSpec
from workbench.services.jobs_wait import run_child_to_end


def test_engine_argv_from_source_and_when_frozen(monkeypatch):
    assert launch.engine_argv("train", "/w/train.spec.json") == [
        sys.executable, "-m", "workbench.engine", "train", "/w/train.spec.json"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/Workbench/Workbench")
    assert launch.engine_argv("chat", "/w/chat.spec.json") == [
        "/opt/Workbench/Workbench", "--engine-worker", "chat", "/w/chat.spec.json"]


# What a packaged build's launcher does: call an entry point's main() with its own argv.
FROZEN_EXE = """#!{python}
import sys
from {module} import main
sys.exit(main())
"""


@pytest.mark.parametrize("module", ["workbench.ui.app", "workbench.cli"])
def test_a_frozen_build_runs_the_engine_through_its_entry_point(module, tmp_path, monkeypatch):
    """The child is the app's own executable with the worker switch; the entry point (GUI or CLI)
    hands it to the engine, which runs the verb and reports on the protocol (here: a spec it
    refuses at once, so no model is built)."""
    exe = tmp_path / "Workbench"
    exe.write_text(FROZEN_EXE.format(python=sys.executable, module=module))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    monkeypatch.setenv("WORKBENCH_EXIT_WHEN_SHOWN", "1")  # were a window opened instead, it quits
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    work = str(tmp_path / "job")
    with pytest.raises(JobError) as err:
        run_child_to_end("build-model", BuildModelSpec(kind="nope", output_dir=work), work)
    assert err.value.user_message == "Unknown model kind 'nope'."  # the engine's own failed event
    assert err.value.advice == "Use one of: tiny, smollm2."
    with open(os.path.join(work, "build-model.log"), encoding="utf-8") as log:
        assert "Traceback" not in log.read()
