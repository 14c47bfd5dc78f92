"""Clean… (preview with before/after, then Apply makes a child version), Split… (versions
and the leakage check) and Export… on a real project."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from tests.helpers.dataset_ui import add_version, chat, wait_idle
from workbench.ui.datasets.clean_dialog import CleanDialog
from workbench.ui.datasets.export_dialog import ExportDialog
from workbench.ui.datasets.split_dialog import SplitDialog


@pytest.fixture
def shop(open_window):
    """A version with 3 exact duplicates (rows 10..12 repeat rows 0..2) and personal data."""
    convs = [chat(i) for i in range(40)]
    convs[10:13] = [chat(0), chat(1), chat(2)]
    convs[20] = [{"role": "user", "content": "Mail me at ana.lopez@example.com please"},
                 {"role": "assistant", "content": "Done, and call +1 415 555 0100 if needed."}]
    long = ("How long does shipping to Lisbon take for a box of single origin beans and a grinder "
            "ordered on a Monday morning before nine")
    convs[30] = [{"role": "user", "content": long}, {"role": "assistant", "content": "Three to five days."}]
    convs[31] = [{"role": "user", "content": long.replace("Monday", "Tuesday")},
                 {"role": "assistant", "content": "Three to five days."}]
    store = open_window.ctx.store
    version = add_version(store, convs, name="shop", sources=lambda i: {"messages": convs[i], "topic": f"t{i % 2}"})
    page = open_window.datasets_page
    page.refresh(select_id=version.id)
    return open_window, page, version


def test_clean_preview_then_apply_makes_a_child_version(shop, qtbot):
    win, page, version = shop
    dialog = page.clean_selected()
    assert isinstance(dialog, CleanDialog) and dialog.isVisible()
    assert not dialog.apply_button.isEnabled()  # nothing previewed yet
    dialog.set_op("exact_dedup")
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    report = dialog.report
    assert report.removed == [10, 11, 12] and report.kept_rows == 37
    assert "Would remove <b>3</b>" in dialog.summary.text()
    table = dialog.examples
    assert table.rowCount() == 3
    assert [table.item(r, 0).text() for r in range(3)] == ["11", "12", "13"]
    assert table.item(0, 2).text() == "exact duplicate of row 1"
    assert table.item(0, 3).text() == "q question 0" and table.item(0, 4).text() == "(removed)"
    assert "duplicate of row 1" in dialog.detail.toPlainText()
    # Changing a parameter invalidates the preview.
    dialog.case_check.setChecked(True)
    assert not dialog.apply_button.isEnabled() and "Preview again" in dialog.summary.text()
    dialog.case_check.setChecked(False)
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.apply_button.isEnabled()
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    child = dialog.result_version
    assert child.parent_id == version.id and child.row_count == 37
    assert page.selected_version().id == child.id
    names = [page.versions_table.item(r, 0).text().strip() for r in range(page.versions_table.rowCount())]
    assert names == ["shop v1", "↳ v2 cleaned"]
    assert page.rows_model.rowCount() == 37


def test_pii_preview_shows_before_and_after(shop, qtbot):
    win, page, version = shop
    dialog = page.clean_selected()
    dialog.set_op("pii")
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.report.changed == [20] and dialog.report.removed == []
    table = dialog.examples
    assert table.rowCount() == 2  # one line per replacement
    assert [table.item(r, 1).text() for r in range(2)] == ["replace", "replace"]
    before, after = table.item(0, 3).text(), table.item(0, 4).text()
    assert "ana.lopez@example.com" in before and "[EMAIL]" in after and "ana.lopez" not in after
    assert "+1 415 555 0100" in table.item(1, 3).text() and "[PHONE]" in table.item(1, 4).text()
    detail = dialog.detail.toPlainText()
    assert "before" in detail and "after" in detail and "[EMAIL]" in detail
    # Near duplicates: the one-word paraphrase (row 32 of row 31) at 0.6, not at 1.0.
    dialog.set_op("near_dedup")
    dialog.threshold_spin.setValue(0.6)
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.report.params["threshold"] == 0.6 and 31 in dialog.report.removed
    row = next(r for r in range(dialog.examples.rowCount()) if dialog.examples.item(r, 0).text() == "32")
    assert dialog.examples.item(row, 2).text().startswith("near duplicate of row 31 (0.")
    dialog.threshold_spin.setValue(1.0)
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    assert 31 not in dialog.report.removed
    dialog.close()


def test_switched_off_replacement_is_left_by_apply(shop, qtbot):
    from workbench.services import datasets

    win, page, version = shop
    dialog = page.clean_selected()
    dialog.set_op("pii")
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    table = dialog.examples
    assert table.rowCount() == 2 and "ana.lopez@example.com" in table.item(0, 3).text()
    assert all(table.item(r, 0).checkState() == Qt.CheckState.Checked for r in range(2))
    dialog.set_line_checked(0, False)  # the address is the shop's own: leave it
    assert "1</b> change(s) switched off" in dialog.summary.text() and dialog.apply_button.isEnabled()
    table.selectRow(0)
    detail = dialog.detail.toPlainText()
    assert "[PHONE]" in detail and "[EMAIL]" not in detail  # the row as Apply will write it
    dialog.set_line_checked(1, False)
    assert not dialog.apply_button.isEnabled()  # every change off: nothing to apply
    dialog.set_line_checked(1, True)
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    child = dialog.result_version
    row = datasets.read_rows(win.ctx.store, child.id, 20, 1)[0]
    assert row["messages"][0]["content"] == "Mail me at ana.lopez@example.com please"
    assert row["messages"][1]["content"] == "Done, and call [PHONE] if needed."
    spans = child.options["excluded"]["spans"]
    assert child.options["excluded"]["rows"] == [] and len(spans) == 1 and spans[0][:2] == [20, 0]


def test_switched_off_row_is_kept_by_apply(shop, qtbot):
    win, page, version = shop
    dialog = page.clean_selected()
    dialog.set_op("exact_dedup")
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    dialog.set_line_checked(1, False)  # keep row 12 (a copy of row 2)
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    child = dialog.result_version
    assert child.row_count == 38 and child.options["removed_rows"] == [10, 12]
    assert child.options["excluded"] == {"rows": [11], "spans": []}


def test_length_filter_in_characters(shop, qtbot):
    win, page, version = shop
    dialog = page.clean_selected()
    dialog.set_op("length")
    assert dialog.unit_combo.currentData() is None  # characters: no base model registered
    dialog.max_spin.setValue(70)
    dialog.preview_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.report.unit == "chars" and dialog.report.removed == [20, 30, 31]
    assert "longer than 70 chars" in dialog.examples.item(0, 2).text()
    dialog.close()


def test_split_dialog_shows_versions_and_leakage(shop, qtbot):
    win, page, version = shop
    dialog = page.split_selected()
    assert isinstance(dialog, SplitDialog)
    assert dialog.stratify_combo.findData("topic") >= 0
    dialog.ratio_spins["train"].setValue(0.5)
    assert not dialog.split_button.isEnabled() and "add up to 0.7" in dialog.check_label.text()
    dialog.ratio_spins["train"].setValue(0.6)
    dialog.ratio_spins["validation"].setValue(0.2)
    dialog.ratio_spins["test"].setValue(0.2)
    dialog.seed_spin.setValue(7)
    dialog.stratify_combo.setCurrentIndex(dialog.stratify_combo.findData("topic"))
    dialog.split_button.click()
    wait_idle(qtbot, dialog)
    versions, leaks = dialog.result
    assert {n: v.row_count for n, v in versions.items()} == {"train": 24, "validation": 8, "test": 8}
    assert all(v.parent_id == version.id for v in versions.values())
    table = dialog.versions_table
    assert [table.item(r, 0).text() for r in range(3)] == ["train", "validation", "test"]
    assert table.item(0, 1).text() == "24"
    # Rows 0..2 have copies (10..12): with this seed one copy landed in another split.
    assert (leaks.exact_pairs, leaks.near_pairs, leaks.by_splits) == (1, 0, {"train/validation": 1})
    assert "Leakage: 1 pair(s) across splits" in dialog.leak_label.text()
    pairs = dialog.pairs_table
    assert pairs.rowCount() == 1
    assert [pairs.item(0, c).text() for c in range(6)] == ["exact", "train", "1", "validation", "4", "1.00"]
    # The page lists the three new versions under the parent.
    names = [page.versions_table.item(r, 0).text().strip() for r in range(page.versions_table.rowCount())]
    assert sorted(n.split(" ", 2)[2] for n in names[1:]) == ["test", "train", "validation"]
    assert sorted(n.split(" ", 2)[1] for n in names[1:]) == ["v2", "v3", "v4"]
    dialog.close()


def test_split_by_counts(shop, qtbot):
    win, page, version = shop
    dialog = page.split_selected()
    dialog.count_radio.setChecked(True)
    for name, n in (("train", 30), ("validation", 5), ("test", 5)):
        dialog.count_spins[name].setValue(n)
    dialog.split_button.click()
    wait_idle(qtbot, dialog)
    versions, _ = dialog.result
    assert {n: v.row_count for n, v in versions.items()} == {"train": 30, "validation": 5, "test": 5}
    dialog.close()


@pytest.mark.parametrize("fmt, style", [("jsonl", "alpaca"), ("parquet", "openai")])
def test_export(shop, qtbot, tmp_path, fmt, style):
    win, page, version = shop
    dialog = page.export_selected()
    assert isinstance(dialog, ExportDialog)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(fmt))
    dialog.style_combo.setCurrentIndex(dialog.style_combo.findData(style))
    assert dialog.path_edit.text().endswith(f".{fmt}")
    out = tmp_path / f"out.{fmt}"
    dialog.path_edit.setText(str(out))
    dialog.export_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.result.rows == 40 and out.is_file()
    assert f"Exported 40 rows to {out}" in dialog.result_label.text()
    if fmt == "jsonl":
        first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        assert first == {"system": "", "instruction": "q question 0", "input": "", "output": "answer number 0",
                         "history": []}
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(out)
        assert table.num_rows == 40 and table.column("messages")[1].as_py()[0]["content"] == "q question 1"
    dialog.close()
