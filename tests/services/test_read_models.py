"""The read models the pages show (services.run_views for the Runs page and the job line,
services.train_form for the Train page, services.models.base_models): the real store, records
written as the services write them."""

from __future__ import annotations

import dataclasses

import pytest

from workbench.core.errors import ProjectError
from workbench.core.records import TrainConfig
from workbench.jobs.protocol import Event
from workbench.services import dataset_ops, models, run_views, train_form
from workbench.services.run_ingest import ingest


def _version(store, dataset, made_at, parent=None, **options):
    """A version record (no blob: these read models never open one) made at `made_at`."""
    return store.add_version(dataset_id=dataset.id, content_hash=f"h-{made_at}", blob_path="b", row_count=10,
                             format="openai_messages", source_name=f"{dataset.name}.jsonl", source_size=1,
                             source_hash="s", options=options, parent_id=parent.id if parent else None,
                             created_at=made_at)


def _split(store, parent, split_id, made_at, parts=("test", "train", "validation")):  # out of order on purpose
    dataset = next(d for d in store.list_datasets() if d.id == parent.dataset_id)
    return {part: _version(store, dataset, made_at, parent, operation="split", split=part, split_id=split_id, seed=1)
            for part in parts}


def _run(store, name, version, model, made_at, **fields):
    return store.add_run(id=f"{name}-id", name=name, dataset_version_id=version.id, base_model_id=model.id,
                         config=dataclasses.asdict(TrainConfig(r=4, max_steps=9)), status="running",
                         work_dir=f"runs/{name}", created_at=made_at, **fields)


@pytest.fixture
def project(store, tmp_path):
    chats = store.add_dataset("chats")
    imported = _version(store, chats, "2026-01-01T10:00:00.000")
    tiny = store.add_base_model("tiny", "tiny", str(tmp_path / "tiny"), "f1")
    smol = store.add_base_model("smol", "hf_folder", str(tmp_path / "smol"), "f2")
    return store, imported, tiny, smol


def test_run_rows_are_newest_first_with_their_base_model_and_dataset_version(project):
    store, version, tiny, smol = project
    part = _split(store, version, "s1", "2026-01-02T09:00:00.000")["train"]
    _run(store, "first", version, tiny, "2026-01-02T10:00:00.000")
    _run(store, "second", part, smol, "2026-01-03T10:00:00.000")
    rows = run_views.run_rows(store)
    assert [(r.run.name, r.model_name, r.dataset_title) for r in rows] == [
        ("second", "smol", dataset_ops.title_of(store, part)), ("first", "tiny", dataset_ops.title_of(store, version))]
    assert rows[0].dataset_title.startswith("chats v2 · train part of split of v1")
    assert rows[0].run == store.get_run("second-id")  # the core record, as stored


def test_run_details_name_the_dataset_version_and_the_model(project):
    store, version, tiny, _ = project
    _run(store, "r", version, tiny, "2026-01-02T10:00:00.000")
    details = run_views.run_details(store, "r-id")
    assert details == run_views.RunDetails("r-id", "tiny", dataset_ops.title_of(store, version))
    assert details.dataset_title.startswith("chats v1")
    with pytest.raises(ProjectError):
        run_views.run_details(store, "no-such-run")


def test_loss_series_and_current_run_follow_ingested_events(project):
    store, version, tiny, _ = project
    _run(store, "r", version, tiny, "2026-01-02T10:00:00.000")
    ingest(store, "r-id", [Event(1, "started", {"total_steps": 9}),
                           Event(2, "progress", {"step": 2, "total_steps": 9}),
                           Event(3, "log", {"step": 1, "values": {"loss": 2.5}}),
                           Event(4, "log", {"step": 2, "values": {"loss": 2.0, "learning_rate": 1e-4}})])
    assert store.metric_series("r-id") == [(1, 2.5), (2, 2.0)]
    assert store.metric_series("r-id", "learning_rate") == [(2, 1e-4)]
    run = run_views.current_run(store, "r-id")
    assert (run.step, run.total_steps, run.status) == (2, 9, "running")


def test_train_choices_order_versions_and_default_to_a_trainable_one(project):
    store, imported, tiny, smol = project
    parts = _split(store, imported, "s1", "2026-01-05T10:00:00.000")
    other = store.add_dataset("other")
    newer = _version(store, other, "2026-01-04T10:00:00.000")
    choices = train_form.train_choices(store)
    assert [m.name for m in choices.models] == ["tiny", "smol"]
    # The split is newest: its parts together (train, validation, test), then the rest newest first.
    assert [v.id for v in choices.versions] == [parts["train"].id, parts["validation"].id, parts["test"].id,
                                                newer.id, imported.id]
    assert choices.titles == dataset_ops.version_titles(store)
    assert choices.default_version_id == parts["train"].id
    assert choices.version(parts["test"].id) == parts["test"] and choices.version("nope") is None
    assert choices.train_part_of(parts["test"]) == parts["train"]
    assert choices.train_part_of(imported) is None


def test_train_choices_never_default_to_a_held_out_part(project):
    store, imported, _, _ = project
    held_out = _split(store, imported, "s1", "2026-01-05T10:00:00.000", parts=("test", "validation"))
    # Only held-out parts are newer than the import: the import is the default.
    choices = train_form.train_choices(store)
    assert [v.id for v in choices.versions] == [held_out["validation"].id, held_out["test"].id, imported.id]
    assert choices.default_version_id == imported.id
    assert choices.train_part_of(held_out["test"]) is None


def test_last_settings_are_the_newest_runs_or_the_defaults(project):
    store, version, tiny, _ = project
    assert train_form.last_settings(store) == TrainConfig()
    _run(store, "old", version, tiny, "2026-01-02T10:00:00.000")
    store.add_run(id="new-id", name="new", dataset_version_id=version.id, base_model_id=tiny.id,
                  config=dataclasses.asdict(TrainConfig(r=32, learning_rate=1e-3)), status="completed",
                  work_dir="runs/new", created_at="2026-01-03T10:00:00.000")
    assert train_form.last_settings(store) == TrainConfig(r=32, learning_rate=1e-3)


def test_base_models_in_the_order_they_were_added(project):
    store, _, tiny, smol = project
    assert models.base_models(store) == [tiny, smol]


def test_export_stem_names_the_dataset_and_the_part(project):
    store, imported, _, _ = project
    parts = _split(store, imported, "s1", "2026-01-05T10:00:00.000")
    assert dataset_ops.export_stem(store, parts["test"]) == f"chats-test-{parts['test'].id[:8]}"
    assert dataset_ops.export_stem(store, imported) == f"chats-imported-{imported.id[:8]}"
