"""`chat`: a long-lived child that streams tokens, survives bad requests and can be interrupted."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from tests.engine.engine_helpers import LiveChild

from workbench.jobs.specs import ChatSpec

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "The toaster from order #1234 arrived broken."}]


def _generate(child, req_id, messages=QUESTION, **options):
    child.send({"op": "generate", "id": req_id, "messages": messages, **options})
    while True:
        event = child.wait_for("token", "done", "failed", timeout=60)
        if event.kind != "token":
            return event


def _tokens(child, req_id):
    return [e.payload["text"] for e in child.events if e.kind == "token" and e.payload["id"] == req_id]


def test_chat_with_adapter_streams_and_survives_bad_requests(tmp_path, tiny_model_dir, trained_run):
    adapter = trained_run.result.last("completed").payload["adapter_path"]
    spec = ChatSpec(base_model_path=tiny_model_dir, adapter_path=adapter,
                    journal_path=str(tmp_path / "chat.jsonl"))
    child = LiveChild("chat", spec, str(tmp_path / "chat.json"))
    try:
        ready = child.wait_for("ready", "failed", timeout=120)
        assert ready.kind == "ready", ready.payload
        assert ready.payload == {"model": tiny_model_dir, "adapter": adapter, "adapters": ["default"],
                                 "device": "cpu", "context_limit": 512}

        done = _generate(child, "a", max_new_tokens=40, temperature=0)
        assert done.kind == "done", done.payload
        pieces = _tokens(child, "a")
        assert len(pieces) > 1 and done.payload["text"] == "".join(pieces)
        assert done.payload["finish_reason"] in ("stop", "length")
        assert len(pieces) <= done.payload["tokens"] <= 40 and done.payload["seconds"] >= 0
        assert "<|im_end|>" not in done.payload["text"]  # special tokens are skipped

        bad = _generate(child, "b", messages=[{"role": "wizard", "content": "x"}])
        assert bad.kind == "failed" and bad.payload["id"] == "b"
        assert bad.payload["error_kind"] == "bad_data" and "wizard" in bad.payload["message"]
        child.send("this is not json")
        garbage = child.wait_for("failed", timeout=30)
        assert garbage.payload["id"] is None and garbage.payload["error_kind"] == "bad_config"

        again = _generate(child, "c", max_new_tokens=8, temperature=0.8)  # still serving
        assert again.kind == "done" and again.payload["id"] == "c"
        child.send({"op": "quit"})
        assert child.finish() == 0
    finally:
        child.kill()


def test_stop_interrupts_a_long_generation(tmp_path, tiny_model_dir):
    # A copy of the model that can never emit end-of-turn, so only `stop` or the length
    # limit ends a generation.
    model = tmp_path / "no-eos"
    shutil.copytree(tiny_model_dir, model)
    gen_path = model / "generation_config.json"
    gen = json.loads(gen_path.read_text())
    gen["suppress_tokens"] = [gen["eos_token_id"]]
    gen_path.write_text(json.dumps(gen))

    child = LiveChild("chat", ChatSpec(base_model_path=str(model)), str(tmp_path / "chat.json"))
    try:
        assert child.wait_for("ready", "failed", timeout=120).kind == "ready"
        short = _generate(child, "short", max_new_tokens=5, temperature=0)
        assert short.payload["finish_reason"] == "length" and short.payload["tokens"] == 5

        # Far more tokens than the 512-position model can hold: clamped, not a crash.
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(model))
        prompt = tok.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
        room = 512 - len(tok(prompt, add_special_tokens=False)["input_ids"])
        full = _generate(child, "full", max_new_tokens=100_000, temperature=0.9)
        assert full.payload["finish_reason"] == "length" and full.payload["tokens"] == room

        child.send({"op": "generate", "id": "long", "messages": QUESTION,
                    "max_new_tokens": 100_000, "temperature": 0.9})
        for _ in range(3):
            child.wait_for("token", timeout=60)
        child.send({"op": "stop"})
        done = child.wait_for("done", "failed", timeout=60)
        assert done.kind == "done" and done.payload["id"] == "long"
        assert done.payload["finish_reason"] == "interrupted"
        assert 3 <= done.payload["tokens"] < room
        assert done.payload["text"] == "".join(_tokens(child, "long"))
        child.close_stdin()  # EOF ends the child cleanly
        assert child.finish() == 0
    finally:
        child.kill()
    assert os.path.isdir(tiny_model_dir)


@pytest.mark.parametrize("user_value, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_chat_child_waits_passively_on_cpu_unless_told_otherwise(tiny_model_dir, user_value, expected):
    """OpenMP reads OMP_WAIT_POLICY once, when torch loads it: the child must set it before its
    first torch import (loading the server in a fresh interpreter shows the order is right)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if user_value:
        env["OMP_WAIT_POLICY"] = user_value
    code = ("import io, os, sys\n"
            "from workbench.engine.chat import ChatServer\n"
            "from workbench.jobs.protocol import EventWriter\n"
            "from workbench.jobs.specs import ChatSpec\n"
            "assert 'torch' not in sys.modules\n"
            f"ChatServer(ChatSpec(base_model_path={str(tiny_model_dir)!r}), EventWriter(io.StringIO(), None)).load()\n"
            "print('policy=' + os.environ.get('OMP_WAIT_POLICY', ''))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"policy={expected}" in out.stdout.splitlines()
