"""A preference file through the Datasets page: the import dialog previews each pair with both
replies marked and imports a preference version; the version list names the kind; the row
detail shows the prompt, then Chosen and Rejected side by side; a split keeps the pairs."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.helpers.dataset_ui import wait_idle, write_jsonl
from workbench.ui.datasets.model_sees.panel import CONVERSATION

RECORDS = [{"conversations": [{"from": "human", "value": f"Write a poem about {topic}"}],
            "chosen": {"from": "gpt", "value": f"Soft {topic} falls on quiet streets."},
            "rejected": {"from": "gpt", "value": f"I do not like {topic}."}}
           for topic in ("rain", "snow", "fog")]


def test_import_a_pair_file_and_read_a_pair_side_by_side(open_window, qtbot, tmp_path):
    page = open_window.datasets_page
    dialog = page.open_import_dialog(write_jsonl(tmp_path / "poems.jsonl", RECORDS))
    wait_idle(qtbot, dialog)
    assert "ShareGPT preference pairs" in dialog.info_label.text()
    assert "It imports as a <b>preference</b> version" in dialog.info_label.text()
    preview = dialog.preview_step.records
    preview.table.selectRow(1)
    shown = preview.chat.toPlainText()
    assert "Soft snow falls on quiet streets." in shown and "I do not like snow." in shown
    assert "· chosen" in shown and "· rejected" in shown
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30000)  # nothing left out: it closes
    assert dialog.result_version is not None

    version = page.selected_version()
    assert version.kind == "preference" and version.row_count == 3
    table = page.versions_table
    assert table.item(0, 2).text() == "Preference"
    model = page.rows_model
    assert model.columnCount() == 5 and model.headerData(4, Qt.Orientation.Horizontal) == "Rejected reply"
    assert (model.index(2, 3).data(), model.index(2, 4).data()) == ("Soft fog falls on quiet streets.",
                                                                    "I do not like fog.")
    inspector = page.inspector
    assert inspector.tabs.tabText(CONVERSATION) == "Pair"
    assert inspector.row_stack.currentWidget() is inspector.pair_view
    pair = inspector.pair_view
    page.rows_view.selectRow(2)
    qtbot.waitUntil(lambda: "fog" in pair.prompt.toPlainText(), timeout=10000)
    assert "Write a poem about fog" in pair.prompt.toPlainText()
    assert "Soft fog falls" not in pair.prompt.toPlainText()
    assert "Soft fog falls on quiet streets." in pair.chosen.toPlainText()
    assert pair.rejected.toPlainText().strip().endswith("I do not like fog.")
    assert "I do not like" not in pair.chosen.toPlainText()
    # Side by side: the chosen reply on the left of the rejected one, both on screen.
    assert pair.chosen.isVisible() and pair.rejected.isVisible()
    assert pair.chosen.mapTo(pair, pair.chosen.rect().topLeft()).x() < pair.rejected.mapTo(
        pair, pair.rejected.rect().topLeft()).x()


def test_an_sft_version_still_shows_a_conversation(open_window, qtbot, tmp_path):
    from workbench.services import datasets

    page = open_window.datasets_page
    records = [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}]
    pairs = datasets.import_dataset(open_window.ctx.store, write_jsonl(tmp_path / "poems.jsonl", RECORDS))
    chats = datasets.import_dataset(open_window.ctx.store, write_jsonl(tmp_path / "chats.jsonl", records))
    page.refresh(select_id=pairs.id)
    assert page.inspector.row_stack.currentWidget() is page.inspector.pair_view
    page.refresh(select_id=chats.id)
    inspector = page.inspector
    assert inspector.tabs.tabText(CONVERSATION) == "Conversation"
    assert inspector.row_stack.currentWidget() is page.conversation
    assert "q" in page.conversation.toPlainText() and page.rows_model.columnCount() == 4
    kinds = {page.versions_table.item(r, 0).text(): page.versions_table.item(r, 2).text()
             for r in range(page.versions_table.rowCount())}
    assert kinds == {"poems v1": "Preference", "chats v1": "SFT"}


def test_mapping_a_rejected_column_imports_pairs(open_window, qtbot, tmp_path):
    import csv

    from workbench.ui.datasets.import_wizard.dialog import MAPPING

    path = tmp_path / "qa.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Frage", "Gute Antwort", "Schlechte Antwort"])
        for i in range(4):
            w.writerow([f"Wo ist Bestellung {i}?", f"Sie kommt morgen ({i}).", "Keine Ahnung."])
    page = open_window.datasets_page
    dialog = page.open_import_dialog(str(path))
    wait_idle(qtbot, dialog)
    assert dialog.step() == MAPPING  # no format reads these columns
    panel = dialog.mapping_panel
    panel.set_role_column("user", "Frage")
    panel.set_role_column("assistant", "Gute Antwort")
    panel.set_role_column("rejected", "Schlechte Antwort")
    dialog.refresh_mapping_preview()
    wait_idle(qtbot, dialog)
    assert "4 of the first 4 records read as preference pairs" in dialog.mapping_status.text()
    record = dialog.mapping_records.records[1]
    assert record.rejected == [{"role": "assistant", "content": "Keine Ahnung."}] and not record.problems
    dialog.import_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30000)
    version = dialog.result_version
    assert version.kind == "preference" and version.row_count == 4
    assert version.options["mapping"]["rejected"] == "Schlechte Antwort"
    page.rows_view.selectRow(1)
    qtbot.waitUntil(lambda: "Bestellung 1" in page.inspector.pair_view.prompt.toPlainText(), timeout=10000)
    assert "Keine Ahnung." in page.inspector.pair_view.rejected.toPlainText()
