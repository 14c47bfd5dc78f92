"""`build-model`: what the child reports while it builds the tiny model, the folder it writes,
and failure reporting. The tiny model the other tests use is built once per session
(tests/conftest.py); the protocol checks here run on a short build of their own."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest

from tests.engine.demo_corpus import shop_conversations, write_jsonl
from tests.engine.engine_helpers import ChildResult, engine_argv, events_key, journal_events, run_engine
from workbench.core.hashing import model_fingerprint
from workbench.jobs.specs import BuildModelSpec

SHORT_STEPS = 12  # pretraining steps: enough to see several progress reports


@dataclass
class Build:
    path: str
    result: ChildResult
    journal_path: str


@pytest.fixture(scope="module")
def short_build(tmp_path_factory) -> Build:
    """A real `build-model` child on a generated corpus, with a short pretraining."""
    root = str(tmp_path_factory.mktemp("build"))
    corpus = write_jsonl(shop_conversations(60), os.path.join(root, "corpus.jsonl"))
    journal = os.path.join(root, "journal.jsonl")
    spec = BuildModelSpec(kind="tiny", output_dir=os.path.join(root, "models", "tiny"),
                          journal_path=journal, corpus_path=corpus, pretrain_steps=SHORT_STEPS)
    result = run_engine("build-model", spec, os.path.join(root, "spec.json"))
    assert result.rc == 0, result.stderr[-3000:]
    return Build(result.last("completed").payload["path"], result, journal)


def test_tiny_build_reports_progress_and_completes(short_build):
    result = short_build.result
    kinds = result.kinds()
    assert kinds[-1] == "completed" and set(kinds[:-1]) == {"progress"}
    fractions = [e.payload["fraction"] for e in result.events[:-1]]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(e.payload["message"], str) and e.payload["message"] for e in result.events[:-1])
    assert any(f"Pretraining step {SHORT_STEPS}/{SHORT_STEPS}" in e.payload["message"] for e in result.events)
    assert [e.seq for e in result.events] == list(range(1, len(result.events) + 1))


def test_tiny_build_writes_a_fingerprinted_folder_atomically(short_build):
    done = short_build.result.last("completed").payload
    path = done["path"]
    assert done["name"] == "workbench-tiny-gpt2"
    assert done["fingerprint"] == model_fingerprint(path) and done["fingerprint"].startswith("sha256:")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json"):
        assert os.path.isfile(os.path.join(path, name)), name
    parent = os.path.dirname(path)
    assert not [n for n in os.listdir(parent) if ".tmp-" in n or ".old-" in n]
    config = json.load(open(os.path.join(path, "config.json")))
    assert config["model_type"] == "gpt2" and config["n_positions"] == 512
    assert 2 <= config["n_layer"] <= 4 and 128 <= config["n_embd"] <= 256


def test_tiny_build_journal_matches_stdout(short_build):
    assert events_key(journal_events(short_build.journal_path)) == events_key(short_build.result.events)


def test_tiny_tokenizer_speaks_chatml(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|pad|>"
    assert tok.pad_token_id != tok.eos_token_id
    text = tok.apply_chat_template([{"role": "user", "content": "Where is my desk lamp?"}],
                                   tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nWhere is my desk lamp?<|im_end|>\n<|im_start|>assistant\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tok.convert_tokens_to_ids("<|im_start|>")) == 2
    assert tok.decode(ids) == text  # byte-level BPE round-trips


def test_build_reports_the_bad_corpus_line(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    corpus.write_text(good + "\n" + good + "\n{not json\n")
    spec = BuildModelSpec(kind="tiny", output_dir=str(tmp_path / "model"), corpus_path=str(corpus))
    result = run_engine("build-model", spec, str(tmp_path / "spec.json"))
    assert result.rc == 1
    failed = result.last("failed").payload
    assert failed["error_kind"] == "bad_data"
    assert "line 3" in failed["message"] and failed["advice"] and "Traceback" in failed["details"]
    assert not (tmp_path / "model").exists()


def test_unknown_model_kind_is_a_bad_config(tmp_path):
    spec = BuildModelSpec(kind="gpt-5", output_dir=str(tmp_path / "model"))
    result = run_engine("build-model", spec, str(tmp_path / "spec.json"))
    assert result.rc == 1 and result.kinds() == ["failed"]
    assert result.last("failed").payload["error_kind"] == "bad_config"


def test_bad_usage_exits_2_and_keeps_stdout_clean(tmp_path):
    import subprocess

    from tests.engine.engine_helpers import REPO, child_env, parse_stdout

    proc = subprocess.run(engine_argv("dance", str(tmp_path / "x.json")), capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=child_env())
    assert proc.returncode == 2 and proc.stdout == "" and "usage" in proc.stderr
    proc = subprocess.run(engine_argv("train", str(tmp_path / "missing.json")), capture_output=True,
                          text=True, timeout=60, cwd=REPO, env=child_env())
    assert proc.returncode == 2
    events = parse_stdout(proc.stdout)
    assert [e.kind for e in events] == ["failed"] and events[0].payload["error_kind"] == "bad_config"
