"""End to end through the real engine child: import -> LoRA train -> metrics -> adapter -> chat."""

import json
import os
import time

import psutil
import pytest

from workbench.core.records import TrainConfig
from workbench.services.runs import RunManager

pytestmark = pytest.mark.slow

FAST = TrainConfig(r=16, alpha=32, learning_rate=5e-3, max_steps=30, batch_size=8, max_length=160,
                   target_modules=["c_attn", "c_proj", "c_fc"])


def _wait(manager, run_id, timeout=300, on_poll=None):
    deadline = time.monotonic() + timeout
    while run_id in manager.active_run_ids():
        assert time.monotonic() < deadline, "training did not finish in time"
        manager.poll()
        if on_poll:
            on_poll()
        time.sleep(0.1)
    return manager.store.get_run(run_id)


def test_train_tiny_model_end_to_end(demo_store):
    store = demo_store
    version = store.list_versions()[0]
    model = store.list_base_models()[0]
    manager = RunManager(store)
    run = manager.start(version.id, model.id, FAST, name="e2e")
    assert run.status == "running" and run.pid
    run = _wait(manager, run.id)
    assert run.status == "completed", run.error
    losses = store.metric_series(run.id, "loss")
    assert [s for s, _ in losses] == list(range(1, 31))
    head = sum(v for _, v in losses[:5]) / 5
    tail = sum(v for _, v in losses[-5:]) / 5
    assert tail < head * 0.92, losses  # the loss really fell
    assert run.first_loss == losses[0][1] and run.last_loss == losses[-1][1]
    assert run.step == run.total_steps == 30 and run.progress == 1.0
    # The run records what it ran with, so results can be compared later.
    libraries = run.environment["environment"]
    assert all(libraries[name] for name in ("python", "torch", "transformers", "peft"))
    assert run.environment["device"] == libraries["device"] in ("cpu", "cuda", "mps")
    assert run.environment["usable_rows"] > 0
    # The adapter is a plain PEFT folder that peft loads outside the app.
    adapter = store.abspath(run.adapter_path)
    assert os.path.isfile(os.path.join(adapter, "adapter_model.safetensors"))
    assert os.path.isfile(os.path.join(adapter, "adapter_config.json"))
    meta = json.load(open(os.path.join(adapter, "workbench_run.json")))
    assert meta["seed"] == FAST.seed
    from peft import PeftModel  # plain peft, no Workbench code (in this process: no child start)
    from transformers import AutoModelForCausalLM

    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model.path), adapter)
    assert sum(p.numel() for n, p in tuned.named_parameters() if "lora_" in n) > 0

    # Chat with the trained adapter: tokens stream, the reply is stored.
    from workbench.services.chat import ChatClient

    client = ChatClient(store, model.id, run.id)
    client.start()
    tokens, done = [], None
    deadline = time.monotonic() + 120
    try:
        while done is None and time.monotonic() < deadline:
            for ev in client.poll():
                if ev.kind == "ready":
                    client.send("Where is my order?", max_new_tokens=24, temperature=0.0)
                elif ev.kind == "token":
                    tokens.append(ev.payload["text"])
                elif ev.kind == "done":
                    done = ev.payload
            assert client.state != "failed", client.error and client.error.details
            time.sleep(0.02)
    finally:
        client.close()
    assert done is not None and done["text"].strip()
    assert len(tokens) > 1 and "".join(tokens).strip() == done["text"].strip()
    roles = [m.role for m in store.chat_messages(client.session.id)]
    assert roles == ["user", "assistant"]


def test_cancel_stops_cleanly_and_keeps_adapter(demo_store):
    store = demo_store
    manager = RunManager(store)
    config = TrainConfig(learning_rate=1e-3, max_steps=2000, batch_size=2, max_length=96)
    run = manager.start(store.list_versions()[0].id, store.list_base_models()[0].id, config)

    def cancel_after_some_steps():
        if store.get_run(run.id).step >= 3:
            manager.cancel(run.id)

    run = _wait(manager, run.id, on_poll=cancel_after_some_steps)
    assert run.status == "cancelled"
    assert 3 <= run.step < 2000
    assert os.path.isfile(os.path.join(store.abspath(run.adapter_path), "adapter_config.json"))


def test_run_survives_the_app_and_is_reattached(demo_store, tmp_path):
    """Closing the project detaches the child; reopening ingests the journal and re-attaches."""
    from workbench.store import ProjectStore

    store = demo_store
    path = store.path
    manager = RunManager(store)
    run = manager.start(store.list_versions()[0].id, store.list_base_models()[0].id,
                        TrainConfig(learning_rate=1e-3, max_steps=25, batch_size=4, max_length=96))
    child = psutil.Process(run.pid)  # the training process the run record names
    manager.shutdown()  # detached: the child keeps training and journaling
    assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    store.close()
    reopened = ProjectStore.open(path)
    try:
        manager2 = RunManager(reopened)
        assert run.id in manager2.active_run_ids()
        final = _wait(manager2, run.id)
        child.wait(5)  # reap our own (detached) child
        assert final.status == "completed", final.error
        assert len(reopened.metric_series(run.id)) >= 20
    finally:
        if child.is_running():
            child.kill()
            child.wait(10)
        reopened.close()


def test_bad_config_is_refused_before_a_process_starts(demo_store):
    from workbench.core.errors import WorkbenchError

    manager = RunManager(demo_store)
    with pytest.raises(WorkbenchError) as err:
        manager.start(demo_store.list_versions()[0].id, demo_store.list_base_models()[0].id,
                      TrainConfig(learning_rate=5.0, batch_size=0))
    assert "Learning rate" in err.value.details
    assert demo_store.list_runs() == []
