"""Shared fixtures: an isolated user data folder, a real project store, the tiny model built
once per session through the real engine child, and a check that no test leaks a child
process or a thread."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from workbench.services import paths

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["WORKBENCH_USER"] = "tester"

DEMO_DATA = paths.demo_dataset_path()


@pytest.fixture(scope="session", autouse=True)
def _user_data_dir(tmp_path_factory):
    """Models built by the tests are cached per test session, never in the real user folder."""
    path = os.environ.get("WORKBENCH_TEST_DATA_DIR") or str(tmp_path_factory.mktemp("userdata"))
    os.environ["WORKBENCH_DATA_DIR"] = path
    return path


@pytest.fixture
def store(tmp_path):
    from workbench.store import ProjectStore

    s = ProjectStore.create(str(tmp_path / "Test.wbproj"))
    yield s
    s.close()


@pytest.fixture(scope="session")
def tiny_model_dir(_user_data_dir, tmp_path_factory):
    """The tiny demo model, built the way the app builds it (a real `build-model` child), once
    per session (or reused from WORKBENCH_TEST_DATA_DIR): every test that needs a model uses
    this one, the engine tests included."""
    from workbench.services import models
    from workbench.store import ProjectStore

    s = ProjectStore.create(str(tmp_path_factory.mktemp("build") / "Build.wbproj"))
    try:
        return models.ensure_builtin_model(s, "tiny").path
    finally:
        s.close()


@pytest.fixture
def demo_store(store, tiny_model_dir):
    """A project with the demo dataset imported and the tiny model registered."""
    from workbench.services import datasets, models

    datasets.import_dataset(store, DEMO_DATA, name="Shop support chats")
    models.ensure_builtin_model(store, "tiny")
    return store


def _is_resource_tracker(proc) -> bool:
    """multiprocessing's one resource tracker of this process (started by the first spawn pool,
    e.g. parallel tokenising in-process): it lives as long as pytest, by design."""
    try:
        return "multiprocessing.resource_tracker" in " ".join(proc.cmdline())
    except Exception:
        return False


def _our_children():
    import psutil

    try:
        return [c for c in psutil.Process().children(recursive=True)
                if c.status() != psutil.STATUS_ZOMBIE and not _is_resource_tracker(c)]
    except psutil.Error:
        return []


@pytest.fixture(autouse=True)
def _no_leaks():
    threads_before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _our_children():
        time.sleep(0.1)
    children = _our_children()
    for c in children:
        c.kill()
    assert not children, f"test left child processes running: {[c.cmdline() for c in children]}"
    deadline = time.monotonic() + 5
    leaked = []
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate()
                  if t.ident not in threads_before and t.is_alive() and not t.daemon]
        if not leaked:
            break
        time.sleep(0.05)
    assert not leaked, f"test left threads running: {[t.name for t in leaked]}"


from tests.helpers.chatml_folder import build_chatml_folder  # noqa: E402
from tests.helpers.rows import write_jsonl  # noqa: E402


# Dataset fixtures: JSONL files imported through the real import service, a tokenizer-only
# ChatML model folder, and rows written the way a plugin transform would.
@pytest.fixture
def import_records(store, tmp_path):
    """import_records(records, name) -> DatasetVersion, through services.datasets.import_dataset."""
    from workbench.services import datasets

    def _import(records: list[dict], name: str = "data"):
        return datasets.import_dataset(store, str(write_jsonl(tmp_path / f"{name}.jsonl", records)), name=name)

    return _import


@pytest.fixture(scope="session")
def chatml_model(tmp_path_factory) -> Path:
    """A model folder holding only a tokenizer: byte-level BPE with ChatML special tokens."""
    return build_chatml_folder(
        tmp_path_factory.mktemp("chatml-model"),
        eos_token={"content": "<|im_end|>", "special": True},  # the older AddedToken form
        tokenizer_class="PreTrainedTokenizerFast",
    )


@pytest.fixture
def add_raw_version(store):
    """add_raw_version(conversations) -> DatasetVersion: rows the importer would refuse (empty
    messages), written through the data layer's writer and recorded like a plugin transform's."""
    from workbench.data.storage.parquet_io import DatasetWriter, dumps

    def _add(conversations: list[list[dict]], name: str = "raw"):
        writer = DatasetWriter(store.abspath("blobs/datasets"))
        for i, msgs in enumerate(conversations):
            writer.add(dumps(msgs), dumps({"messages": msgs}), i + 1)
        path, content_hash = writer.commit()
        dataset = store.add_dataset(name)
        return store.add_version(dataset_id=dataset.id, content_hash=content_hash, blob_path=store.relpath(str(path)),
                                 row_count=len(conversations), format="openai_messages", source_name=f"{name}.parquet",
                                 source_size=0, source_hash="sha256:test", options={"by": "test"})

    return _add
