"""The virtual rows preview on a 200k-row version (only the blocks on screen are read and a
few are cached), text search in a worker (count, Enter / F3 / Shift+F3 jumps, cancel), and
lineage in the versions list."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers.dataset_ui import add_version, chat
from workbench.ui.datasets.rows_model import BLOCK_ROWS, CACHE_BLOCKS

BIG = 200_000


@pytest.fixture(scope="module")
def big_blob(tmp_path_factory):
    """The 200k-row version's blob, written once for this module's tests."""
    from workbench.store import ProjectStore

    store = ProjectStore.create(str(tmp_path_factory.mktemp("big") / "Big.wbproj"))
    try:
        version = add_version(store, (chat(i) for i in range(BIG)), name="big")
        return store.abspath(version.blob_path), version.content_hash
    finally:
        store.close()


@pytest.fixture
def big_window(open_window, big_blob):
    import os
    import shutil

    store = open_window.ctx.store
    path, content_hash = big_blob
    os.makedirs(store.abspath("blobs/datasets"), exist_ok=True)
    dest = shutil.copy(path, store.abspath("blobs/datasets"))
    dataset = store.add_dataset("big")
    version = store.add_version(dataset_id=dataset.id, content_hash=content_hash, blob_path=store.relpath(dest),
                                row_count=BIG, format="openai_messages", source_name="big.jsonl", source_size=0,
                                source_hash=content_hash, options={})
    page = open_window.datasets_page
    page.refresh(select_id=version.id)
    return open_window, page, version


def test_scrolling_200k_rows_reads_only_a_few_blocks(row_reads, big_window, qtbot):  # reads recorded from the start
    win, page, version = big_window
    model, view = page.rows_model, page.rows_view
    assert model.rowCount() == BIG  # the whole version, from the start
    assert page.rows_label.text() == f"Rows ({BIG:,})"
    qtbot.wait(50)
    assert row_reads == [(0, BLOCK_ROWS)] and model.cached_blocks() == [0]
    view.scrollToBottom()
    qtbot.wait(50)
    view.viewport().repaint()
    last = BIG - 1
    assert model.index(last, 2).data() == f"q question {last}"
    assert model.index(last, 3).data() == f"answer number {last}"
    assert model.index(last, 0).data() == f"{BIG:,}".replace(",", "")
    # Only the first block and the last one or two were read, whole blocks each time.
    assert len(row_reads) <= 3 and all(offset % BLOCK_ROWS == 0 for offset, _ in row_reads)
    assert (last // BLOCK_ROWS) in model.cached_blocks()
    # Jumping around keeps at most CACHE_BLOCKS blocks in memory.
    for row in range(0, BIG, BIG // 20):
        assert model.index(row, 2).data() == f"q question {row}"
    assert len(model.cached_blocks()) == CACHE_BLOCKS
    calls = len(row_reads)
    model.index(row + 3, 2).data()  # in a cached block: no read
    model.index(row + 5, 2).data()
    assert len(row_reads) == calls
    # Selecting a row far down shows its conversation from the cached block.
    page.go_to_row(123_456)
    assert "q question 123456" in page.conversation.toPlainText()
    assert view.currentIndex().row() == 123_456


def test_search_counts_and_jumps(big_window, qtbot):
    win, page, version = big_window
    search = page.search
    search.edit.setText("question 19999")  # rows 19999 and 199990..199999
    search.edit.returnPressed.emit()
    assert search.task is not None
    qtbot.waitUntil(lambda: search.task is None, timeout=20000)
    assert search.matches == [19999] + list(range(199_990, 200_000))
    assert page.current_row() == 19999
    assert search.count_label.text() == "1 of 11 matches"
    assert page.rows_model.data(page.rows_model.index(19999, 1), Qt.ItemDataRole.BackgroundRole) is not None
    assert page.rows_model.data(page.rows_model.index(20000, 1), Qt.ItemDataRole.BackgroundRole) is None
    search.edit.returnPressed.emit()  # Enter again: the next match, no new search
    assert search.task is None and page.current_row() == 199_990
    assert search.count_label.text() == "2 of 11 matches"
    search.shortcuts[0].activated.emit()  # F3
    assert page.current_row() == 199_991
    search.shortcuts[1].activated.emit()  # Shift+F3
    search.shortcuts[1].activated.emit()
    assert page.current_row() == 19999
    search.find_previous()  # wraps around to the last match
    assert page.current_row() == 199_999 and search.count_label.text() == "11 of 11 matches"
    assert "q question 199999" in page.conversation.toPlainText()

    # Role names and JSON keys are not text: "assistant" matches no row's messages.
    search.edit.setText("assistant")
    search.find_next()
    qtbot.waitUntil(lambda: search.task is None, timeout=20000)
    assert search.matches == [] and search.count_label.text() == "No matches"
    assert not search.next_button.isEnabled()


def test_search_can_be_cancelled(big_window, qtbot):
    win, page, version = big_window
    search = page.search
    search.edit.setText("answer")  # every row matches: a long search
    search.find_next()
    assert search.progress.isVisible()
    search.progress.cancel_button.click()
    qtbot.waitUntil(lambda: search.task is None, timeout=20000)
    assert search.matches == [] and search.count_label.text() == ""


def test_versions_show_lineage(open_window, qtbot):
    from workbench.services import dataset_ops

    store = open_window.ctx.store
    base = add_version(store, [chat(i % 5) for i in range(20)], name="shop")
    cleaned = dataset_ops.apply_clean(store, base.id, "exact_dedup")
    page = open_window.datasets_page
    page.refresh(select_id=cleaned.id)
    table = page.versions_table
    assert table.rowCount() == 2
    assert table.item(0, 0).text() == "shop v1"
    assert table.item(1, 0).text().strip() == "↳ v2 cleaned"
    assert table.item(1, 1).text() == "5"
    assert table.item(1, 2).text() == "SFT" and table.item(1, 3).text() == "exact_dedup: -15 rows"
    assert base.id in table.item(1, 0).toolTip()  # the parent
    assert page.selected_version().id == cleaned.id


def test_search_stops_at_the_match_limit(big_window, qtbot):
    from workbench.services.dataset_view import MAX_SEARCH_MATCHES

    win, page, version = big_window
    search = page.search
    search.edit.setText("ANSWER")  # every row: the search stops at the limit
    search.find_next()
    qtbot.waitUntil(lambda: search.task is None, timeout=20000)
    assert len(search.matches) == MAX_SEARCH_MATCHES and search.truncated
    assert search.count_label.text() == f"1 of {MAX_SEARCH_MATCHES:,}+ matches"
