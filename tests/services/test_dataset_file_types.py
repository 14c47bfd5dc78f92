"""Supported file types come from the reader registry: a reader registered later is offered by
the open dialog's filter, accepted by drag-and-drop, and imported."""

from __future__ import annotations

from workbench.data.ingest.readers import JsonlReader, register_reader, unregister_reader
from workbench.services import datasets


def test_a_registered_reader_is_offered_everywhere(store, tmp_path):
    data = tmp_path / "chats.wbl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, '
                    '{"role": "assistant", "content": "hello"}]}\n', encoding="utf-8")
    assert ".jsonl" in datasets.dataset_extensions() and ".markdown" in datasets.dataset_extensions()
    assert not datasets.is_dataset_path(str(data))
    assert "*.wbl" not in datasets.open_dialog_filter()

    register_reader("wbl", JsonlReader, ".wbl")
    try:
        assert datasets.is_dataset_path(str(data))
        assert datasets.is_dataset_path(str(data) + ".gz")
        assert "*.wbl" in datasets.open_dialog_filter()
        assert datasets.dataset_stem(str(data)) == "chats"
        version = datasets.import_dataset(store, str(data))
        assert version.row_count == 1
    finally:
        unregister_reader("wbl")
    assert not datasets.is_dataset_path(str(data))
    assert datasets.is_dataset_path(str(tmp_path))  # folders are always offered


def test_the_open_dialog_and_drops_use_the_registry(qtbot, tmp_path):
    from workbench.ui.datasets.page import droppable

    (tmp_path / "a.parquet").write_bytes(b"PAR1")
    (tmp_path / "notes.docx").write_bytes(b"PK")
    assert droppable(str(tmp_path / "a.parquet"))
    assert not droppable(str(tmp_path / "notes.docx"))
    register_reader("wbl", JsonlReader, ".wbl")
    try:
        assert droppable(str(tmp_path / "x.wbl"))
    finally:
        unregister_reader("wbl")
