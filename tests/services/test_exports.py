"""Exporting a project's run as a merged model: its checkpoints, the export job (poll, wait,
cancel) and `workbench runs export RUN --merged OUT [--checkpoint ...]`, through a real store,
a real training child and a real export child."""

from __future__ import annotations

import json
import os

import pytest

from tests.helpers.runs import wait_until_ended
from workbench import cli
from workbench.core.errors import WorkbenchError
from workbench.core.progress import Cancelled
from workbench.core.records import TrainConfig
from workbench.services import exports
from workbench.services.runs import RunManager

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """A project with the demo data and a 6-step run with checkpoints every 2 steps, the last 2
    kept (one run for the module: training is the slow part)."""
    from workbench.services import datasets, models, paths
    from workbench.store import ProjectStore

    store = ProjectStore.create(str(tmp_path_factory.mktemp("exports") / "Export.wbproj"))
    datasets.import_dataset(store, paths.demo_dataset_path(), name="Shop support chats")
    models.ensure_builtin_model(store, "tiny")
    manager = RunManager(store)
    config = TrainConfig(r=8, alpha=16, learning_rate=5e-3, max_steps=6, batch_size=8, max_length=128,
                         save_steps=2, keep_checkpoints=2, eval_steps=0)
    run = manager.start(store.list_versions()[0].id, store.list_base_models()[0].id, config, name="ship-bot")
    run = wait_until_ended(manager, run.id)
    assert run.status == "completed", run.error
    yield store, run
    store.close()


def test_checkpoints_of_lists_final_and_each_kept_checkpoint(trained):
    store, run = trained
    found = exports.checkpoints_of(store, run.id)
    work = store.abspath(run.work_dir)
    assert [(c.label, c.step) for c in found] == [("final", 6), ("checkpoint-6", 6), ("checkpoint-4", 4)]
    assert found[0].path == store.abspath(run.adapter_path)
    assert found[2].path == os.path.join(work, "checkpoints", "checkpoint-4")
    assert found[2].title == "checkpoint-4 (step 4)"
    assert exports.pick_checkpoint(store, run.id, 4) == found[2]
    assert exports.pick_checkpoint(store, run.id, "checkpoint-4") == found[2]
    assert exports.pick_checkpoint(store, run.id, None) == found[0]
    with pytest.raises(WorkbenchError) as err:
        exports.pick_checkpoint(store, run.id, "best")  # no validation part: no best checkpoint
    assert "no best adapter" in err.value.user_message and "checkpoint-4 (step 4)" in err.value.advice


def test_cli_exports_a_checkpoint_that_plain_transformers_loads(trained, tmp_path, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    store, run = trained
    out = tmp_path / "ship-bot-merged"
    rc = cli.main(["runs", "export", "ship-bot", "--merged", str(out), "--checkpoint", "4",
                   "--project", store.path, "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    result = json.loads(captured.out)
    assert result["path"] == str(out) and result["run_id"] == run.id and result["checkpoint"] == "checkpoint-4"
    assert result["step"] == 4 and result["dtype"] == "float32" and result["device"] == "cpu"
    assert "saving" in captured.err  # progress went to stderr
    record = json.load(open(out / "workbench_export.json"))
    model = store.get_base_model(run.base_model_id)
    assert record["run_id"] == run.id and record["run_name"] == "ship-bot"
    assert record["base_model_fingerprint"] == model.fingerprint and record["step"] == 4
    assert AutoModelForCausalLM.from_pretrained(str(out)).config.model_type
    assert AutoTokenizer.from_pretrained(str(out)).chat_template

    # --project before the sub-verb works too; an unknown checkpoint names the ones there are.
    rc = cli.main(["runs", "--project", store.path, "export", run.id[:8], "--merged", str(tmp_path / "x"),
                   "--checkpoint", "99"])
    err = capsys.readouterr().err
    assert rc == 1 and "has no checkpoint-99 adapter" in err and "final (step 6)" in err
    assert not (tmp_path / "x").exists()


def test_the_job_reports_progress_and_cancel_leaves_nothing(trained, tmp_path):
    store, run = trained
    seen = []
    job = exports.export_merged(store, run.id, str(tmp_path / "a"))
    result = job.wait(progress=lambda f, m: seen.append((f, m)))
    assert result.path == str(tmp_path / "a") and result.checkpoint == "final" and job.state == "completed"
    assert seen[-1][0] == 1.0 and any("float32" in m for _, m in seen)
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)

    job = exports.export_merged(store, run.id, str(tmp_path / "b"), checkpoint="final")
    job.cancel()
    with pytest.raises(Cancelled):
        job.wait()
    assert job.state == "cancelled"
    assert sorted(os.listdir(tmp_path)) == ["a"]  # neither the folder nor a temporary one
