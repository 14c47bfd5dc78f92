"""`workbench chat` with the sampling settings and a system prompt: they reach the real chat
child (stored with the reply), and settings that cannot be used are refused before a model loads."""

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
def project(store, tiny_model_dir):
    from workbench.services import models

    model = models.add_local_model(store, tiny_model_dir)
    path, name = store.path, model.name
    store.close()
    return path, name


@pytest.mark.slow
def test_chat_takes_the_sampling_settings_and_a_system_prompt(project):
    from workbench.store import ProjectStore

    path, name = project
    done = wb("chat", "--project", path, "--model", name, "--system", "You are terse.", "--temperature", "0.9",
              "--top-p", "0.8", "--top-k", "20", "--repetition-penalty", "1.2", "--max-new-tokens", "3",
              "--stop", "###", "--stop", "\nUser:", "--seed", "11", "--json", "Where is my order?")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reply"] is not None
    store = ProjectStore.open(path)
    try:
        conversation = store.list_conversations()[0]
        assert conversation.system_prompt == "You are terse."
        user, reply = store.branch(conversation.id)
        assert user.content == "Where is my order?" and reply.role == "assistant"
        assert reply.settings == {"temperature": 0.9, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.2,
                                  "max_new_tokens": 3, "stop": ["###", "\nUser:"], "seed": 11}
        assert 1 <= reply.tokens <= 3
    finally:
        store.close()


def test_chat_refuses_settings_it_cannot_use(project):
    path, name = project
    done = wb("chat", "--project", path, "--model", name, "--top-p", "0", "Hi")
    assert done.returncode != 0
    assert "Top-p must be in (0, 1]" in done.stderr
