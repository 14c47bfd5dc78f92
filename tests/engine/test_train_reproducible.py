"""`train` is reproducible and self-contained: the same seed gives the same loss curve, the
adapter folder keeps the tokenizer and chat template it was trained with, and a tokenizer
without character offsets is refused before training starts."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from tests.engine.demo_corpus import ticket_conversations, write_parquet
from tests.engine.engine_helpers import run_engine, short_spec

pytestmark = pytest.mark.slow


def _losses(result) -> list[tuple[int, float]]:
    return [(e.payload["step"], e.payload["values"]["loss"]) for e in result.events
            if e.kind == "log" and "loss" in e.payload["values"]]


def test_the_same_seed_gives_the_same_loss_curve(short_runs):
    """The session's short runs (tests/engine/conftest.py): seed 11 twice, then seed 12."""
    same = [_losses(short_runs.results[name]) for name in ("a", "b")]
    assert len(same[0]) == 3 and same[0] == same[1]  # exactly, step by step
    assert _losses(short_runs.results["c"]) != same[0]


def test_the_adapter_keeps_its_tokenizer_and_chat_template(short_runs, tiny_model_dir):
    adapter = short_runs.results["a"].last("completed").payload["adapter_path"]
    names = set(os.listdir(adapter))
    assert {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"} <= names
    with open(os.path.join(tiny_model_dir, "chat_template.jinja"), encoding="utf-8") as f:
        base_template = f.read()
    with open(os.path.join(adapter, "chat_template.jinja"), encoding="utf-8") as f:
        assert f.read() == base_template
    with open(os.path.join(adapter, "tokenizer.json"), encoding="utf-8") as f, \
            open(os.path.join(tiny_model_dir, "tokenizer.json"), encoding="utf-8") as g:
        assert json.load(f)["model"] == json.load(g)["model"]


def test_a_slow_tokenizer_is_refused_before_training(tmp_path, tiny_model_dir):
    """A slow (pure Python) tokenizer gives no character offsets: the run fails as bad_config
    with advice, not with an unexpected error halfway through tokenizing."""
    folder = tmp_path / "slow-model"
    folder.mkdir()
    shutil.copy(os.path.join(tiny_model_dir, "config.json"), folder / "config.json")
    # ByT5Tokenizer needs no vocabulary file and has no fast version: a slow tokenizer offline.
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "ByT5Tokenizer", "eos_token": "</s>", "pad_token": "<pad>",
        "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}{% endfor %}",
    }))
    dataset = write_parquet(ticket_conversations(4), str(tmp_path / "t.parquet"))
    spec = short_spec(str(tmp_path), str(folder), dataset, "slow", 1)
    result = run_engine("train", spec, str(tmp_path / "slow.json"))
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_config"
    assert "slow tokenizer" in failed["message"] and "ByT5Tokenizer" in failed["message"]
    assert "tokenizer.json" in failed["advice"]
    assert "started" not in result.kinds()


def test_chat_with_the_adapter_renders_with_the_training_template(short_runs, tiny_model_dir, tmp_path):
    """The base folder's template changes after training: chat with the adapter still renders
    prompts with the template the adapter was trained with; the bare base model uses the new one."""
    import io

    from workbench.engine.chat import ChatServer, GenerateRequest
    from workbench.jobs.protocol import EventWriter, parse_line
    from workbench.jobs.specs import ChatSpec

    adapter = short_runs.results["a"].last("completed").payload["adapter_path"]
    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    (base / "chat_template.jinja").write_text("{{ raise_exception('the base template changed') }}",
                                              encoding="utf-8")
    question = [{"role": "user", "content": "Where is order #1234?"}]

    stream = io.StringIO()
    server = ChatServer(ChatSpec(base_model_path=str(base), adapter_path=adapter), EventWriter(stream, None))
    server.load()
    server.generate(GenerateRequest("a", question, max_new_tokens=4, temperature=0.0))
    events = [parse_line(line) for line in stream.getvalue().splitlines()]
    assert [e.kind for e in events if e.kind in ("ready", "done")] == ["ready", "done"]

    bare = ChatServer(ChatSpec(base_model_path=str(base)), EventWriter(io.StringIO(), None))
    bare.load()
    with pytest.raises(Exception, match="the base template changed"):
        bare.generate(GenerateRequest("b", question, max_new_tokens=4, temperature=0.0))
