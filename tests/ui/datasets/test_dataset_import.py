"""The import dialog on a real project: preview, format override, column mapping, import in a
worker, invalid rows (abort or import the valid ones, report saved), re-import reused, drops."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.helpers.dataset_ui import chat, wait_idle, write_jsonl
from workbench.ui.datasets.import_wizard.dialog import MAPPING, PREVIEW, PROBLEMS, RESULT, ImportDialog
from workbench.ui.shell.main_window import DATASETS, TRAIN


def _odd_csv(tmp_path, rows=30):
    path = tmp_path / "support export.csv"
    lines = ["Kunden Frage,Antwort des Agenten,ctx"]
    lines += [f"Wo ist Bestellung {i}?,Sie kommt morgen ({i}).,Du bist ein Shop-Bot" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _dialog(page, qtbot, path):
    dialog = page.open_import_dialog(path)
    assert isinstance(dialog, ImportDialog) and dialog.isVisible()
    wait_idle(qtbot, dialog)
    return dialog


def test_preview_override_mapping_then_import(open_window, qtbot, tmp_path):
    page = open_window.datasets_page
    store = open_window.ctx.store
    dialog = _dialog(page, qtbot, _odd_csv(tmp_path))
    preview = dialog.preview_result
    assert preview.file_kind == "csv" and preview.encoding == "utf-8" and preview.format == ""
    assert "not recognised" in dialog.info_label.text()
    assert dialog.fields_label.text() == "Fields: Kunden Frage, Antwort des Agenten, ctx"
    # Detection failed: the dialog went on to the mapping step by itself.
    assert dialog.step() == MAPPING
    wait_idle(qtbot, dialog)

    # Back on the preview step, override the format: Alpaca reads nothing from this file.
    dialog.back()
    assert dialog.step() == PREVIEW and not dialog.import_button.isEnabled()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("alpaca"))
    dialog.format_combo.activated.emit(dialog.format_combo.currentIndex())
    wait_idle(qtbot, dialog)
    assert dialog.preview_result.format == "alpaca"
    assert all(r.problems for r in dialog.records.records)
    assert "instruction" in dialog.records.table.item(0, 4).text()
    assert "30 of the first 20" not in dialog.info_label.text() and "have problems" in dialog.info_label.text()

    # "Map columns…" in the format combo opens the mapping step.
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("__map__"))
    dialog.format_combo.activated.emit(dialog.format_combo.currentIndex())
    assert dialog.step() == MAPPING
    panel = dialog.mapping_panel
    panel.set_role_column("user", "Kunden Frage")
    panel.set_role_column("assistant", "Antwort des Agenten")
    panel.set_role_column("system", "ctx")
    dialog.refresh_mapping_preview()
    wait_idle(qtbot, dialog)
    assert dialog.mapping_preview.format == "mapped"
    first = dialog.mapping_records.records[0].messages
    assert first == [{"role": "system", "content": "Du bist ein Shop-Bot"},
                     {"role": "user", "content": "Wo ist Bestellung 0?"},
                     {"role": "assistant", "content": "Sie kommt morgen (0)."}]
    assert "20 of the first 20 records read" in dialog.mapping_status.text()
    assert "Bestellung 0" in dialog.mapping_records.chat.toPlainText()

    dialog.name_edit.setText("Kundendienst")
    assert dialog.import_button.isEnabled()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    version = dialog.result_version
    assert version is not None and not dialog.reused and version.row_count == 30
    assert store.dataset_name(version.dataset_id) == "Kundendienst"
    assert page.selected_version().id == version.id
    assert page.rows_model.index(3, 2).data() == "Wo ist Bestellung 3?"
    assert "Du bist ein Shop-Bot" in page.conversation.toPlainText()


def test_invalid_rows_abort_or_import_valid_only(open_window, qtbot, tmp_path):
    page = open_window.datasets_page
    store = open_window.ctx.store
    records = [{"messages": chat(i)} for i in range(8)]
    records[2] = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}
    records[5] = {"messages": [{"role": "wizard", "content": "abracadabra"}]}
    path = write_jsonl(tmp_path / "mixed.jsonl", records)
    dialog = _dialog(page, qtbot, path)
    assert dialog.step() == PREVIEW and dialog.preview_result.format == "openai_messages"
    dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.step() == PROBLEMS and dialog.isVisible()
    assert store.list_versions() == []  # nothing imported yet
    table = dialog.problems_table
    assert table.rowCount() >= 2
    places = {table.item(r, 1).text() for r in range(table.rowCount())}
    assert {"line 3", "line 6"} <= places
    assert any("wizard" in table.item(r, 3).text() for r in range(table.rowCount()))
    assert all(table.item(r, 0).text() == "mixed.jsonl" for r in range(table.rowCount()))
    assert "2 records cannot be imported" in dialog.problems_label.text()
    assert "6 records are valid" in dialog.problems_label.text()

    report = dialog.save_report(str(tmp_path / "problems.jsonl"))
    lines = [json.loads(x) for x in open(report, encoding="utf-8")]
    assert {(x["line"], x["field"]) for x in lines} >= {(3, "messages[1].content")}
    assert all(x["file"] == "mixed.jsonl" and x["message"] and "advice" in x for x in lines)
    assert "Report saved" in dialog.report_label.text()

    # Abort: nothing is imported.
    assert dialog.close_button.text() == "Abort"
    dialog.close_button.click()
    assert not dialog.isVisible() and store.list_versions() == []

    # Again, this time importing the valid rows only.
    dialog = _dialog(page, qtbot, path)
    dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.step() == PROBLEMS
    dialog.skip_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    version = page.selected_version()
    assert version.row_count == 6 and version.options["skipped_rows"] == 2
    assert "2 invalid rows skipped" in open_window.statusBar().currentMessage()


def test_same_file_twice_reuses_the_version(open_window, qtbot, make_jsonl):
    page = open_window.datasets_page
    path = make_jsonl(12)
    dialog = _dialog(page, qtbot, path)
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    first = dialog.result_version
    dialog = _dialog(page, qtbot, path)
    dialog.import_button.click()
    wait_idle(qtbot, dialog)
    assert dialog.reused and dialog.result_version.id == first.id
    assert dialog.step() == RESULT and dialog.isVisible()
    assert "Already imported" in dialog.result_label.text() and "reused" in dialog.result_label.text()
    assert dialog.close_button.text() == "Close"
    dialog.close_button.click()
    assert page.versions_table.rowCount() == 1
    assert "imported before" in open_window.statusBar().currentMessage()


def test_cancel_a_running_import_leaves_nothing(open_window, qtbot, make_jsonl):
    page = open_window.datasets_page
    dialog = _dialog(page, qtbot, make_jsonl(150_000, name="big.jsonl"))
    dialog.import_button.click()
    assert dialog.busy and dialog.progress.isVisible()
    dialog.progress.cancel_button.click()
    wait_idle(qtbot, dialog, 30000)
    assert open_window.ctx.store.list_versions() == []
    assert dialog.isVisible() and dialog.step() == PREVIEW  # the user can try again
    dialog.close()


def test_drop_a_folder_of_text_files(open_window, qtbot, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("First paragraph about beans.\n\nSecond paragraph about grinders.\n",
                                  encoding="utf-8")
    (folder / "b.txt").write_text("Third paragraph: milk frothing.\n", encoding="utf-8")
    win = open_window
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.set_page(TRAIN)
    win.dropEvent(event)
    assert win.current_page() == DATASETS
    dialog = win.datasets_page.dialog
    assert isinstance(dialog, ImportDialog) and dialog.path == str(folder)
    wait_idle(qtbot, dialog)
    assert dialog.preview_result.file_kind == "folder"
    assert dialog.text_mode_combo.isVisible()
    assert len(dialog.preview_result.records) == 2  # by default one record per file
    dialog.text_mode_combo.setCurrentIndex(dialog.text_mode_combo.findData("paragraph"))
    dialog.text_mode_combo.activated.emit(dialog.text_mode_combo.currentIndex())
    wait_idle(qtbot, dialog)
    assert [r.messages[0]["content"] for r in dialog.records.records] == [
        "First paragraph about beans.", "Second paragraph about grinders.", "Third paragraph: milk frothing."]
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    version = win.datasets_page.selected_version()
    assert version.row_count == 3 and version.options.get("text_mode") == "paragraph"


def test_encoding_override_after_a_failed_preview(open_window, qtbot, tmp_path):
    path = tmp_path / "windows.jsonl"
    record = {"prompt": "Un café, s'il vous plaît", "completion": "Voilà"}
    path.write_bytes((json.dumps(record, ensure_ascii=False) + "\n").encode("cp1252"))
    page = open_window.datasets_page
    dialog = _dialog(page, qtbot, str(path))
    assert dialog.preview_result is None and not dialog.import_button.isEnabled()
    assert "not valid UTF-8" in dialog.info_label.text() and "cp1252" in dialog.info_label.text()
    dialog.encoding_combo.setCurrentIndex(dialog.encoding_combo.findData("cp1252"))
    dialog.encoding_combo.activated.emit(dialog.encoding_combo.currentIndex())
    wait_idle(qtbot, dialog)
    assert dialog.preview_result.encoding == "cp1252"
    assert "JSONL, cp1252" in dialog.info_label.text() and "prompt/completion" in dialog.info_label.text()
    assert dialog.records.records[0].messages[0]["content"] == "Un café, s'il vous plaît"
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=20000)
    version = page.selected_version()
    assert version.row_count == 1 and version.options.get("encoding") == "cp1252"
    assert "Un café" in page.conversation.toPlainText()


def test_mapping_a_list_of_turns_with_its_own_role_names(open_window, qtbot, tmp_path):
    records = [{"ticket": i, "dialog": [{"speaker": "customer", "text": f"Where is parcel {i}?"},
                                        {"speaker": "agent", "text": f"Parcel {i} ships today."}]}
               for i in range(12)]
    page = open_window.datasets_page
    dialog = _dialog(page, qtbot, write_jsonl(tmp_path / "tickets.jsonl", records))
    assert dialog.step() == MAPPING  # not a known format
    wait_idle(qtbot, dialog)
    panel = dialog.mapping_panel
    assert panel.mode() == "messages"  # a field holding a list of objects
    assert (panel.list_combo.currentData(), panel.role_key_combo.currentData(),
            panel.content_key_combo.currentData()) == ("dialog", "speaker", "text")
    assert "Map customer, agent to system, user or assistant" in panel.values_label.text()
    assert all(r.problems for r in dialog.mapping_records.records)  # unknown roles so far
    panel.role_values_edit.setText("customer=user, agent=assistant")
    dialog.refresh_mapping_preview()
    wait_idle(qtbot, dialog)
    assert dialog.mapping_records.records[3].messages == [
        {"role": "user", "content": "Where is parcel 3?"}, {"role": "assistant", "content": "Parcel 3 ships today."}]
    assert "ticket</b> (12 of 12 records)" in dialog.mapping_unused.text()
    dialog.import_button.click()
    wait_idle(qtbot, dialog)
    # The summary names the field the rows do not keep before the dialog closes.
    assert dialog.step() == RESULT and "ticket</b> (12 of 12 records)" in dialog.result_label.text()
    dialog.close_button.click()
    version = page.selected_version()
    assert version.row_count == 12 and version.format == "mapped"
    assert version.options["mapping"]["role_values"] == {"customer": "user", "agent": "assistant"}
