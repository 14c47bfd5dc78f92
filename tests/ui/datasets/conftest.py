"""Datasets page fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def row_reads(monkeypatch):
    """Every read of a version's rows from the store, as (offset, limit), in order: the row
    preview's paging is checked by what it reads, through the service it reads with."""
    from workbench.services import datasets

    reads: list[tuple[int, int]] = []
    read_rows = datasets.read_rows

    def recorded(store, version_id, offset, limit):
        reads.append((offset, limit))
        return read_rows(store, version_id, offset, limit)

    monkeypatch.setattr(datasets, "read_rows", recorded)
    return reads
