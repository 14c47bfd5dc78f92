"""How versions are named wherever one is chosen: one typed reading of how a version was made
(core.records.Derivation) and one title ("shop v3 · test part of split of v2 · 4 rows"); and a
run's failure names the version by that title, never by its blob file."""

from __future__ import annotations

import time

import pytest

from tests.helpers.rows import chat
from workbench.core.records import Derivation, TrainConfig
from workbench.services import dataset_ops, lookup


@pytest.fixture
def lineage(store, import_records):
    rows = [chat(f"question {i}", f"answer {i}") for i in range(20)] + [chat("question 0", "answer 0")]
    v1 = import_records(rows, name="shop")
    v2 = dataset_ops.apply_clean(store, v1.id, "exact_dedup")
    parts = dataset_ops.make_split(store, v2.id, counts={"validation": 4, "test": 4})
    return v1, v2, parts


def test_derivation_reads_every_writer(lineage):
    v1, v2, parts = lineage
    assert v1.derivation == Derivation("import")
    assert (v2.derivation.operation, v2.derivation.op, v2.derivation.removed) == ("clean", "exact_dedup", 1)
    for name, v in parts.items():
        d = v.derivation
        assert (d.operation, d.part, d.label) == ("split", name, name)
        assert d.split_id == parts["train"].derivation.split_id and d.counts == {"validation": 4, "test": 4}
    assert parts["test"].derivation.is_test_part and not parts["train"].derivation.is_test_part
    # An import from a folder's "test" split is an import, not a split part.
    assert Derivation.of({"format": "alpaca", "on_invalid": "abort", "split": "test"}).label == "imported"
    assert Derivation.of({"by": "plugin"}, has_parent=True).from_parent("v1") == "derived from v1"


def test_titles_tell_every_version_apart(store, lineage):
    v1, v2, parts = lineage
    titles = dataset_ops.version_titles(store)
    assert titles[v1.id] == "shop v1 · imported · 21 rows"
    assert titles[v2.id] == "shop v2 · cleaned from v1 (exact duplicates removed) · 20 rows"
    assert titles[parts["train"].id] == "shop v3 · train part of split of v2 · 12 rows"
    assert titles[parts["validation"].id] == "shop v4 · validation part of split of v2 · 4 rows"
    assert titles[parts["test"].id] == "shop v5 · test part of split of v2 · 4 rows"
    assert dataset_ops.title_of(store, parts["test"]) == titles[parts["test"].id]
    assert dataset_ops.describe(v2) == "exact_dedup: -1 rows"
    assert dataset_ops.describe(parts["test"]).startswith("split: test (validation 4, test 4; seed 42")


def test_a_dataset_name_means_its_newest_whole_version(store, lineage):
    _v1, v2, _parts = lineage
    assert lookup.find_version(store, "shop").id == v2.id


def test_a_failed_run_names_the_version_not_its_file(store, import_records, tiny_model_dir):
    """Max length 32 with replies that start later: the run fails in seconds, and the message
    the Runs page and the CLI show names the version, with no blob path and no raw code."""
    from workbench.services import models
    from workbench.services.runs import RunManager

    late = [chat("Where is my order? " * 20, "Tomorrow.") for _ in range(4)]
    version = import_records(late, name="late")
    model = models.ensure_builtin_model(store, "tiny")
    manager = RunManager(store)
    run = manager.start(version.id, model.id, TrainConfig(max_steps=5, batch_size=2, max_length=32))
    deadline = time.monotonic() + 120
    while run.id in manager.active_run_ids() and time.monotonic() < deadline:
        manager.poll()
        time.sleep(0.1)
    manager.shutdown(kill=True)
    run = store.get_run(run.id)
    assert run.status == "failed"
    title = dataset_ops.title_of(store, version)
    assert title == "late v1 · imported · 4 rows"
    assert title in run.error_message and "max length of 32 tokens" in run.error_message
    assert "parquet" not in run.error and "blobs" not in run.error and "[bad_data]" not in run.error
    assert "Raise max length" in run.error_advice
