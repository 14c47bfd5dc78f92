"""Datasets page: import through a worker, version list, rows read block by block, preview."""

from __future__ import annotations

import gzip

from workbench.ui.common.errors import open_error_dialogs
from workbench.ui.datasets.rows_model import BLOCK_ROWS


def _import(page, qtbot, path):
    page.import_files([path])
    assert page.import_task is not None
    qtbot.waitUntil(lambda: page.import_task is None, timeout=30000)


def test_import_lists_the_version_and_reads_rows_in_blocks(open_window, qtbot, make_jsonl, row_reads):
    page = open_window.datasets_page
    rows = 2 * BLOCK_ROWS + 37
    _import(page, qtbot, make_jsonl(rows))
    table = page.versions_table
    assert table.rowCount() == 1
    cells = [table.item(0, c).text() for c in range(table.columnCount())]
    assert cells[0] == "chats v1" and cells[1] == f"{rows:,}" and cells[2] == "SFT" and cells[4] == "openai_messages"
    assert cells[3] == "imported from chats.jsonl (openai_messages)" and cells[5] == "tester"

    model = page.rows_model
    assert model.rowCount() == rows  # every row at once; only the first block was read
    assert row_reads == [(0, BLOCK_ROWS)] and model.cached_blocks() == [0]
    assert model.index(BLOCK_ROWS + 1, 2).data() == f"q question {BLOCK_ROWS + 1}"
    assert row_reads[1:] == [(BLOCK_ROWS, BLOCK_ROWS)]
    page.rows_view.scrollToBottom()
    assert model.index(rows - 1, 0).data() == str(rows)
    assert model.index(rows - 1, 3).data() == f"answer number {rows - 1}"
    assert row_reads[2:] == [(2 * BLOCK_ROWS, 37)] and model.cached_blocks() == [0, 1, 2]
    assert model.index(5, 1).data() == "S U A"
    assert model.index(5, 2).data() == "q question 5"
    assert model.index(5, 3).data() == "answer number 5"


def test_selecting_a_row_shows_the_conversation(open_window, qtbot, make_jsonl, row_reads):
    page = open_window.datasets_page
    _import(page, qtbot, make_jsonl(BLOCK_ROWS + 50))
    text = page.conversation.toPlainText()
    assert "q question 0" in text and "answer number 0" in text  # row 0 selected at once
    page.rows_view.selectRow(3)
    assert "q question 3" in page.conversation.toPlainText()
    calls = len(row_reads)
    page.rows_view.selectRow(4)  # served from the cached block
    assert len(row_reads) == calls
    page.rows_view.selectRow(BLOCK_ROWS + 2)  # the next block is read on demand
    assert f"q question {BLOCK_ROWS + 2}" in page.conversation.toPlainText()
    assert row_reads[calls:] == [(BLOCK_ROWS, 50)]


def test_gzip_and_second_dataset(open_window, qtbot, make_jsonl, tmp_path):
    page = open_window.datasets_page
    _import(page, qtbot, make_jsonl(5, name="a.jsonl"))
    plain = make_jsonl(7, name="b.jsonl", prefix="b")
    gz = tmp_path / "b2.jsonl.gz"
    with open(plain, "rb") as src, gzip.open(gz, "wb") as dst:
        dst.write(src.read())
    _import(page, qtbot, str(gz))
    assert page.versions_table.rowCount() == 2
    assert page.selected_version().row_count == 7  # the new version is selected
    assert "b question 0" in page.conversation.toPlainText()


def test_bad_file_shows_an_error_dialog(open_window, qtbot, tmp_path):
    page = open_window.datasets_page
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{not json\n', encoding="utf-8")
    _import(page, qtbot, str(bad))
    boxes = open_error_dialogs()
    assert boxes, "no error dialog"
    assert "broken.jsonl" in boxes[0].text() + boxes[0].informativeText() + boxes[0].detailedText()
    assert page.versions_table.rowCount() == 0
    assert page.import_button.isEnabled()


def test_train_page_sees_new_datasets(open_window, qtbot, make_jsonl):
    _import(open_window.datasets_page, qtbot, make_jsonl(3))
    assert open_window.train_page.dataset_combo.count() == 1


def test_invalid_rows_can_be_skipped_from_the_error_dialog(open_window, qtbot, tmp_path, make_jsonl):
    from PySide6.QtWidgets import QPushButton

    page = open_window.datasets_page
    good = open(make_jsonl(6)).read()
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(good + '{"messages": [{"role": "user", "content": ""}]}\n', encoding="utf-8")
    _import(page, qtbot, str(mixed))
    boxes = open_error_dialogs()
    assert boxes and "nothing was imported" in boxes[0].text()
    assert page.versions_table.rowCount() == 0
    skip = next(b for b in boxes[0].findChildren(QPushButton) if b.text() == "Import Skipping Invalid Rows")
    skip.click()
    qtbot.waitUntil(lambda: page.import_task is None and page.versions_table.rowCount() == 1, timeout=20000)
    version = page.selected_version()
    assert version.row_count == 6 and version.options["skipped_rows"] == 1
    assert "1 invalid row skipped" in open_window.statusBar().currentMessage()
