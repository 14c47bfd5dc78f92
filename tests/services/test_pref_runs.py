"""Preference runs through the RunManager: DPO on a preference version, from the base model or an
SFT run's adapter (Run.init_run_id), the rewards curves stored, and the clear refusals."""

from __future__ import annotations

import os
import sys
import time

import pytest

from workbench.core.errors import WorkbenchError
from workbench.core.metric_names import REWARD_ACCURACY, REWARD_MARGIN
from workbench.core.records import TrainConfig
from workbench.services import datasets
from workbench.services.runs import RunManager

CHOSEN = "Thank you, your order is on its way."
REJECTED = "No. Go away."
DPO = TrainConfig(method="dpo", r=8, alpha=16, learning_rate=5e-3, max_steps=6, batch_size=4, max_length=64,
                  save_steps=3, eval_steps=0, seed=3)
SFT = TrainConfig(r=4, alpha=8, learning_rate=1e-2, max_steps=2, batch_size=4, max_length=192, save_steps=0)


def _pairs(store):
    rows = [{"messages": [{"role": "user", "content": f"Question number {i}?"},
                          {"role": "assistant", "content": CHOSEN}],
             "rejected": [{"role": "assistant", "content": REJECTED}], "source": {"i": i}} for i in range(8)]
    return datasets.create_version_from_rows(store, dataset_name="Pairs", rows=rows, kind="preference",
                                             source_name="test pairs")


def _wait(manager, run_id, timeout=300):
    deadline = time.monotonic() + timeout
    while run_id in manager.active_run_ids():
        assert time.monotonic() < deadline, "training did not finish in time"
        manager.poll()
        time.sleep(0.1)
    return manager.store.get_run(run_id)


@pytest.mark.slow
def test_dpo_run_from_an_sft_run_through_the_manager(demo_store):
    store = demo_store
    sft_version = store.list_versions()[0]
    pairs = _pairs(store)
    model = store.list_base_models()[0]
    manager = RunManager(store)
    sft = _wait(manager, manager.start(sft_version.id, model.id, SFT, name="sft").id)
    assert sft.status == "completed", sft.error
    run = manager.start(pairs.id, model.id, DPO, name="dpo", init_run_id=sft.id)
    assert run.init_run_id == sft.id
    run = _wait(manager, run.id)
    assert run.status == "completed", run.error
    assert run.train_config.method == "dpo" and run.step == 6
    accuracy = [v for _s, v in store.metric_series(run.id, REWARD_ACCURACY)]
    margins = [v for _s, v in store.metric_series(run.id, REWARD_MARGIN)]
    assert len(accuracy) == len(margins) == 6
    assert accuracy[-1] > 0.5, accuracy  # above chance
    with open(os.path.join(os.path.dirname(store.abspath(run.adapter_path)), "train.spec.json"),
              encoding="utf-8") as f:
        assert store.abspath(sft.adapter_path) in f.read()  # the child was told to start from it


def test_dpo_on_an_sft_version_is_refused(project):
    store, version_id, model_id = project
    with pytest.raises(WorkbenchError) as err:
        RunManager(store).start(version_id, model_id, DPO)
    assert "DPO trains on preference pairs" in err.value.user_message and "SFT version" in err.value.user_message
    assert "preference version" in err.value.advice
    assert store.list_runs() == []  # nothing half-made


def test_sft_on_a_preference_version_is_accepted(project):
    """SFT on pairs trains on the chosen replies (the `messages` column): the run is queued."""
    store, _version_id, model_id = project
    run = RunManager(store).enqueue(_pairs(store).id, model_id, SFT)
    assert run.status == "queued" and run.train_config.method == "sft"


def test_the_start_run_must_have_an_adapter_of_the_same_model(project, tmp_path):
    store, version_id, model_id = project
    pairs = _pairs(store)
    manager = RunManager(store)
    waiting = manager.enqueue(version_id, model_id, SFT, name="never-ran")
    with pytest.raises(WorkbenchError) as err:
        manager.enqueue(pairs.id, model_id, DPO, init_run_id=waiting.id)
    assert "never-ran has no saved adapter" in err.value.user_message
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    (other_dir / "config.json").write_text("{}")
    other = store.add_base_model("other", "hf_folder", str(other_dir), "c" * 64)
    with pytest.raises(WorkbenchError) as err:
        manager.enqueue(pairs.id, other.id, DPO, init_run_id=waiting.id)
    assert "trained another base model" in err.value.user_message
    with pytest.raises(WorkbenchError) as err:
        manager.enqueue(pairs.id, model_id, DPO, init_run_id="f" * 32)
    assert "not in this project" in err.value.user_message


def test_method_and_beta_are_validated():
    assert TrainConfig(method="dpo", beta=0.5).problems() == []
    fields = {p.field: p.message for p in TrainConfig(method="ppo", beta=0.0).problems()}
    assert "Method must be one of sft, dpo" in fields["method"] and "Beta must be above 0" in fields["beta"]
    assert TrainConfig(method="orpo").problems() == [] and TrainConfig(method="kto").problems() == []
    # KTO estimates its KL term from the other rows of a batch: one row alone cannot.
    assert [(p.field, "at least 2" in p.message) for p in TrainConfig(method="kto", batch_size=1).problems()] == [
        ("batch_size", True)]
    assert TrainConfig(method="dpo", batch_size=1).problems() == []
    assert [p.field for p in TrainConfig(method="dpo", packing=True).problems()] == ["packing"]
    assert TrainConfig(method="dpo", beta=0.0).validate() == [
        "Beta: Beta must be above 0 and at most 10 (typical: 0.1; higher keeps the adapter closer to the "
        "reference model)."]


def test_method_and_beta_round_trip_through_a_config_file(tmp_path):
    from workbench.core.train_config import load_config_file, save_config_file

    path = save_config_file(str(tmp_path / "dpo.yaml"), TrainConfig(method="dpo", beta=0.25))
    config = load_config_file(path).config
    assert config.method == "dpo" and config.beta == 0.25
    (tmp_path / "bad.yaml").write_text("method: dpo\nbeta: strong\n")
    with pytest.raises(WorkbenchError) as err:
        load_config_file(str(tmp_path / "bad.yaml"))
    assert "`beta` (Beta)" in err.value.user_message


def test_a_kto_run_out_of_memory_is_not_halved_below_two_rows(project, monkeypatch):
    """KTO needs 2 rows in a batch: the auto-retry stops at batch 2 and a manual retry says why
    (batch 1 would only fail again in TRL with a message about the KL term)."""
    from tests.helpers.runs import wait_until_ended
    from tests.services.test_run_failures import STAND_IN
    from workbench.jobs import launch

    store, _version_id, model_id = project
    monkeypatch.setattr(launch, "engine_argv",  # a stand-in child that always runs out of memory
                        lambda verb, spec, *_: [sys.executable, "-c", STAND_IN, spec, "0"])
    manager = RunManager(store)
    config = TrainConfig(method="kto", batch_size=4, max_steps=6, auto_retry_oom=True)
    done = wait_until_ended(manager, manager.start(_pairs(store).id, model_id, config).id)
    assert (done.status, done.failure_kind, done.train_config.batch_size) == ("failed", "oom", 2)
    with pytest.raises(WorkbenchError) as err:
        manager.retry_smaller(done.id)
    assert "batch size 2: half of it is below the 2 rows KTO needs" in err.value.user_message


def test_the_fit_check_does_not_suggest_a_kto_batch_below_two():
    from tests.core.test_memory_estimate import LLAMA
    from workbench.core.memory_estimate import DeviceMemory, estimate_memory
    from workbench.core.model_shape import shape_from_config
    from workbench.services import fit

    shape = shape_from_config(LLAMA)
    device = DeviceMemory("cuda", "Small GPU", 2**20, 8 * 2**30)
    for batch, offered in ((4, True), (2, False), (3, False)):
        config = TrainConfig(method="kto", batch_size=batch, max_length=1024)
        texts = fit._suggestions(shape, config, device, estimate_memory(shape, config, "cuda"))
        assert any(t.startswith(f"batch {batch} -> ") for t in texts) is offered, texts
