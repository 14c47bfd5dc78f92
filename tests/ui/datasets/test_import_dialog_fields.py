"""The import dialog never drops a field silently: the mapping step starts from the detected
format (Alpaca's input, system and history), the preview and the summary name every field not
kept, preference pairs are refused row by row; the Source box takes a typed or pasted path;
the dialog fits a small screen."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from tests.helpers.dataset_ui import wait_idle, write_jsonl
from workbench.ui.datasets.import_wizard.dialog import MAPPING, PREVIEW, PROBLEMS, RESULT, ImportDialog


def alpaca_records(n=24):
    out = []
    for i in range(n):
        r = {"instruction": f"Find the perimeter of triangle {i}.", "output": f"It is {3 * i + 12} cm."}
        if i % 3 != 2:
            r["input"] = f"The sides are {i + 3}, {i + 4} and {i + 5} cm."
        if i % 4 == 0:
            r["system"] = "You are a maths tutor."
        if i % 5 == 1:
            r["history"] = [[f"Hello {i}", "Hello! What shall we solve?"]]
        out.append(r)
    return out


def _dialog(page, qtbot, path):
    dialog = page.open_import_dialog(path)
    assert isinstance(dialog, ImportDialog) and dialog.isVisible()
    wait_idle(qtbot, dialog)
    return dialog


def test_map_columns_starts_from_the_detected_alpaca_format(open_window, qtbot, tmp_path):
    page = open_window.datasets_page
    dialog = _dialog(page, qtbot, write_jsonl(tmp_path / "alpaca.jsonl", alpaca_records()))
    assert "format: <b>Alpaca</b> (detected)" in dialog.info_label.text()
    assert not dialog.preview_step.unused_label.isVisible()  # Alpaca reads every field
    dialog.map_button.click()
    assert dialog.step() == MAPPING
    wait_idle(qtbot, dialog)
    panel = dialog.mapping_panel
    assert panel.mode() == "columns"
    assert [c.currentText() for c in (panel.user_combo, panel.user2_combo, panel.assistant_combo,
                                      panel.system_combo, panel.history_combo)] == [
        "instruction", "input", "output", "system", "history"]
    assert "detected Alpaca format" in dialog.mapping_info.text()
    assert not dialog.mapping_unused.isVisible()

    # Leaving input out is allowed, but never silently.
    panel.set_role_column("user2", None)
    dialog.refresh_mapping_preview()
    wait_idle(qtbot, dialog)
    with_input = sum(1 for r in alpaca_records() if "input" in r)
    assert dialog.mapping_unused.isVisible()
    assert (f"<b>input</b> ({with_input} of 24 records): the detected Alpaca format reads it as the second part "
            "of the user message; the column mapping leaves it out") in dialog.mapping_unused.text()
    panel.set_role_column("user2", "input")
    dialog.refresh_mapping_preview()
    wait_idle(qtbot, dialog)
    assert not dialog.mapping_unused.isVisible()

    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    version = dialog.result_version
    assert version.format == "mapped" and version.row_count == 24
    rows = page.rows_model
    from workbench.services.datasets import read_rows

    stored = read_rows(open_window.ctx.store, version.id, 0, 24)
    assert stored[0]["messages"][0] == {"role": "system", "content": "You are a maths tutor."}
    assert stored[0]["messages"][1]["content"] == "Find the perimeter of triangle 0.\n\nThe sides are 3, 4 and 5 cm."
    assert stored[1]["messages"][:2] == [{"role": "user", "content": "Hello 1"},
                                         {"role": "assistant", "content": "Hello! What shall we solve?"}]
    assert stored[6]["messages"][-2]["content"].endswith("The sides are 9, 10 and 11 cm.")
    assert rows.rowCount() == 24


def sharegpt_records(n=12):
    # ShareGPT turns with earlier turns in a `history` field, which ShareGPT does not read.
    return [{"conversations": [{"from": "human", "value": f"Weather in city {i}?"},
                               {"from": "gpt", "value": f"Sunny in city {i}."}],
             **({"history": json.dumps([["Hi", "Hello!"]])} if i % 3 == 0 else {})} for i in range(n)]


def test_fields_not_kept_are_named_in_the_preview_and_the_summary(open_window, qtbot, tmp_path):
    page = open_window.datasets_page
    dialog = _dialog(page, qtbot, write_jsonl(tmp_path / "tools.jsonl", sharegpt_records()))
    label = dialog.preview_step.unused_label
    assert label.isVisible()
    assert "<b>history</b> (4 of 12 records): earlier turns will not be kept" in label.text()
    # The mapping step starts from the detected ShareGPT turns too.
    dialog.map_button.click()
    wait_idle(qtbot, dialog)
    panel = dialog.mapping_panel
    assert panel.mode() == "messages" and "detected ShareGPT format" in dialog.mapping_info.text()
    assert (panel.list_combo.currentData(), panel.role_key_combo.currentData(),
            panel.content_key_combo.currentData()) == ("conversations", "from", "value")
    assert all(not r.problems for r in dialog.mapping_records.records)
    dialog.back()
    assert dialog.step() == PREVIEW
    dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.step() == RESULT and dialog.isVisible()
    assert "12 rows from tools.jsonl" in dialog.result_label.text()
    assert "<b>history</b> (4 of 12 records): earlier turns will not be kept" in dialog.result_label.text()
    assert dialog.close_button.text() == "Close"
    dialog.close_button.click()
    assert page.selected_version().options["unused_fields"][0]["name"] == "history"


def test_preference_pairs_are_refused_not_imported_as_half_conversations(open_window, qtbot, tmp_path):
    good = [{"conversations": [{"from": "human", "value": f"Hi {i}"}, {"from": "gpt", "value": f"Hello {i}"}]}
            for i in range(4)]
    pairs = [{"conversations": [{"from": "human", "value": f"Write a poem about {i}"}],
              "chosen": {"from": "gpt", "value": f"A fine poem {i}"}, "rejected": {"from": "gpt", "value": "no"}}
             for i in range(5)]
    page = open_window.datasets_page
    dialog = _dialog(page, qtbot, write_jsonl(tmp_path / "prefs.jsonl", good[:2] + pairs + good[2:]))
    assert "this looks like preference data: chosen/rejected will not be kept" in \
        dialog.preview_step.unused_label.text()
    dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.step() == PROBLEMS
    table = dialog.problems_table
    assert table.rowCount() == 5
    assert {table.item(r, 3).text() for r in range(5)} == {
        "A preference pair (chosen/rejected) in a file read as ShareGPT conversations."}
    assert table.item(0, 1).text() == "line 3"
    dialog.skip_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.step() == RESULT and "chosen" in dialog.result_label.text()
    dialog.close_button.click()
    version = page.selected_version()
    assert version.row_count == 4 and version.options["skipped_rows"] == 5


def test_the_source_box_takes_a_typed_path(open_window, qtbot, tmp_path):
    page = open_window.datasets_page
    store = open_window.ctx.store
    alpaca = write_jsonl(tmp_path / "alpaca-maths.jsonl", alpaca_records())
    dialog = page.open_import_dialog()
    edit = dialog.path_edit
    assert not edit.isReadOnly()
    edit.setFocus()

    # A path that does not exist: a clear message, nothing imported, Enter does not press Import.
    qtbot.keyClicks(edit, str(tmp_path / "missing.jsonl"))
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    wait_idle(qtbot, dialog)
    assert "missing.jsonl does not exist" in dialog.info_label.text()
    assert dialog.preview_result is None and not dialog.import_button.isEnabled()
    assert store.list_versions() == [] and dialog.isVisible()

    # Typed with completion from the file system: the folder's file is offered.
    edit.clear()
    qtbot.keyClicks(edit, str(tmp_path / "alpaca-m"))
    completer = edit.completer()

    def offered() -> bool:  # the file system model lists folders in its own thread: ask again
        completer.setCompletionPrefix(edit.text())
        return completer.completionCount() > 0

    qtbot.waitUntil(offered, timeout=20000)
    assert completer.currentCompletion() == alpaca
    edit.setText(f'"{alpaca}"')  # pasted with quotes, as a file manager copies it
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    wait_idle(qtbot, dialog)
    assert dialog.path == alpaca and edit.text() == alpaca
    assert dialog.preview_result.format == "alpaca" and dialog.step() == PREVIEW
    assert dialog.name_edit.text() == "alpaca-maths"
    assert store.list_versions() == []  # Enter only previewed

    # Leaving the box previews what was typed too.
    edit.setText("file://" + str(tmp_path / "other.jsonl"))
    write_jsonl(tmp_path / "other.jsonl", sharegpt_records())
    edit.editingFinished.emit()
    wait_idle(qtbot, dialog)
    assert dialog.path == str(tmp_path / "other.jsonl") and dialog.preview_result.format == "sharegpt"
    dialog.close()


def test_the_dialog_fits_a_650_pixel_screen(open_window, qtbot, tmp_path):
    from PySide6.QtCore import QRect

    from workbench.ui.datasets.import_wizard.dialog import fitted_size

    assert fitted_size(QRect(0, 0, 1000, 650)) == (960, 590)
    assert fitted_size(QRect(0, 0, 1920, 1080)) == (1000, 680)
    page = open_window.datasets_page
    pairs = [{"conversations": [{"from": "human", "value": f"Poem {i}"}], "chosen": "a", "rejected": "b",
              "tools": "[]", "id": i} for i in range(5)]
    dialog = _dialog(page, qtbot, write_jsonl(tmp_path / "prefs.jsonl", pairs))
    assert dialog.preview_step.unused_label.isVisible()  # four lines of fields not kept
    available = dialog.screen().availableGeometry()
    assert (dialog.width(), dialog.height()) == fitted_size(available)
    assert dialog.minimumSizeHint().height() <= 590
    dialog.show_mapping()
    wait_idle(qtbot, dialog)
    assert dialog.mapping_unused.isVisible()
    for step in (MAPPING, PROBLEMS, RESULT):
        dialog.steps.setCurrentIndex(step)
        assert dialog.minimumSizeHint().height() <= 590, step  # 650 less a title bar and a panel
    dialog.close()
