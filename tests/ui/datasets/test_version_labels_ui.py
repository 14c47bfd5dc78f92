"""Every place a dataset version is chosen or shown names it by label and parent: the Datasets
page's version list, the Clean/Split/Export dialogs, and a run's details on the Runs page
(with its error as a sentence, never a raw "[bad_data]" code)."""

from __future__ import annotations

import pytest

from tests.helpers.dataset_ui import add_version, chat, wait_idle
from workbench.services import dataset_ops

RUNS = 3


@pytest.fixture
def split(open_window):
    store = open_window.ctx.store
    whole = add_version(store, [chat(i) for i in range(30)], name="shop")
    parts = dataset_ops.make_split(store, whole.id, counts={"validation": 5, "test": 5})
    open_window.ctx.datasets_changed.emit()
    return open_window, whole, parts


def test_version_list_shows_numbers_and_labels(split):
    window, _whole, parts = split
    page = window.datasets_page
    page.refresh()
    names = [page.versions_table.item(r, 0).text().strip() for r in range(page.versions_table.rowCount())]
    assert names[0] == "shop v1"
    assert sorted(names[1:]) == ["↳ v2 train", "↳ v3 validation", "↳ v4 test"]


def test_dialogs_name_the_version_they_work_on(split, qtbot):
    window, _whole, parts = split
    page = window.datasets_page
    page.refresh(select_id=parts["test"].id)
    title = "shop v4 · test part of split of v1 · 5 rows"
    for open_dialog, word in ((page.clean_selected, "Clean"), (page.export_selected, "Export"),
                              (page.split_selected, "Split")):
        dialog = open_dialog()
        assert dialog.windowTitle() == f"{word} — {title}"
        if word == "Export":
            assert "shop-test-" in dialog.path_edit.text()  # the file says which part it holds
        dialog.close()
    page.refresh(select_id=_whole.id)
    dialog = page.split_selected()
    dialog.count_radio.setChecked(True)
    dialog.count_spins["validation"].setValue(5)
    dialog.count_spins["test"].setValue(5)
    dialog.count_spins["train"].setValue(20)
    dialog.split_button.click()
    wait_idle(qtbot, dialog)
    table = dialog.versions_table
    assert [table.item(r, 2).text() for r in range(3)] == [  # a second split of v1 (train given too)
        "shop v5 · train part of split of v1 · 20 rows", "shop v6 · validation part of split of v1 · 5 rows",
        "shop v7 · test part of split of v1 · 5 rows"]
    dialog.close()


def test_run_details_name_the_version_and_read_the_error(split):
    window, _whole, parts = split
    store = window.ctx.store
    model = store.add_base_model("m", "hf_folder", "/nonexistent/m", "f" * 64)
    run = store.add_run(id="r1", name="m-shop-1", dataset_version_id=parts["test"].id, base_model_id=model.id,
                        config={}, status="failed", work_dir="runs/r1",
                        error="No row of the dataset is left to train on. [bad_data]",
                        error_advice="Raise max length.")
    window.ctx.runs_changed.emit()
    window.set_page(RUNS)
    page = window.runs_page
    page.select_run(run.id)
    details = page.details.toPlainText()
    assert "shop v4 · test part of split of v1 · 5 rows" in details
    assert "No row of the dataset is left to train on." in details and "[bad_data]" not in details
