"""Train page fixtures: a window on a real project with a dataset and the tiny base model
(a real folder: its layer names and memory estimate are read from it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def tiny_window(open_window, make_jsonl, tiny_model_dir):
    from workbench.services import datasets, models

    store = open_window.ctx.store
    datasets.import_dataset(store, make_jsonl(40))
    models.ensure_builtin_model(store, "tiny")  # built once per session: only registered here
    open_window.ctx.datasets_changed.emit()
    open_window.ctx.models_changed.emit()
    open_window.set_page(2)
    return open_window

