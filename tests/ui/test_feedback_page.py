"""The rating dialog and the Feedback page, driven through their real widgets on a real project."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workbench.core.chat_records import ChatTarget
from workbench.services import feedback
from workbench.ui.feedback.dialog import FeedbackDialog
from workbench.ui.shell.context import ProjectContext


@pytest.fixture
def ctx(tmp_path):
    from workbench.services import projects

    context = ProjectContext(projects.create_project(str(tmp_path / "Fb.wbproj")))
    yield context
    context.close()


def _reply(store, text="Paris is in Spain.", prompt="Where is Paris?"):
    model = store.add_base_model("tiny", "tiny", "/nowhere", "fp").id
    conv = store.add_conversation("c", model, system_prompt="Be brief.")
    user = store.add_turn(conv.id, "user", prompt)
    return store.add_turn(conv.id, "assistant", text, parent_id=user.id, model_key=ChatTarget(model).key,
                          settings={"temperature": 0.0})


def test_the_dialog_saves_a_rating_and_a_correction_and_tells_the_pages(qtbot, ctx):
    reply = _reply(ctx.store)
    dialog = FeedbackDialog(ctx, reply.id)
    qtbot.addWidget(dialog)
    assert dialog.correction.toPlainText() == "Paris is in Spain."  # prefilled with the reply
    saved, changed = [], []
    dialog.feedback_saved.connect(saved.append)
    ctx.feedback_changed.connect(lambda: changed.append(True))
    qtbot.mouseClick(dialog.thumbs_down, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.scale_buttons[2], Qt.MouseButton.LeftButton)
    dialog.tags.setText("wrong fact, , Wrong fact, geography")
    dialog.comment.setText("Paris is in France")
    dialog.correction.setPlainText("Paris is in France.")
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert saved == [reply.id] and changed == [True]
    records = ctx.store.list_feedback(message_ids=[reply.id])
    assert sorted(r.kind for r in records) == ["correction", "scale", "thumbs"]
    assert {r.tags for r in records} == {("wrong fact", "geography")}
    rating = feedback.message_rating(ctx.store, reply.id)
    assert (rating.thumbs, rating.scale, rating.correction) == (-1, 2, "Paris is in France.")
    assert rating.comment == "Paris is in France"


def test_the_dialog_shows_existing_feedback_and_writes_only_what_changed(qtbot, ctx):
    reply = _reply(ctx.store)
    feedback.save_rating(ctx.store, reply.id, thumbs=1, scale=4, tags=("kind",), correction="Better.")
    dialog = FeedbackDialog(ctx, reply.id)
    qtbot.addWidget(dialog)
    assert dialog.thumbs_up.isChecked() and not dialog.thumbs_down.isChecked()
    assert dialog.scale_buttons[4].isChecked() and not dialog.scale_buttons[5].isChecked()
    assert dialog.tags.text() == "kind" and dialog.correction.toPlainText() == "Better."
    qtbot.mouseClick(dialog.scale_buttons[5], Qt.MouseButton.LeftButton)  # 4 -> 5: one choice at a time
    assert [v for v, b in dialog.scale_buttons.items() if b.isChecked()] == [5]
    qtbot.mouseClick(dialog.thumbs_up, Qt.MouseButton.LeftButton)  # a second click clears the thumb
    dialog.accept()
    kinds = [r.kind for r in ctx.store.list_feedback(message_ids=[reply.id])]
    assert kinds == ["thumbs", "scale", "correction", "thumbs", "scale"]
    rating = feedback.message_rating(ctx.store, reply.id)
    assert (rating.thumbs, rating.scale, rating.correction) == (None, 5, "Better.")


def test_opening_and_pressing_ok_without_changes_writes_nothing(qtbot, ctx):
    reply = _reply(ctx.store)
    dialog = FeedbackDialog(ctx, reply.id)
    qtbot.addWidget(dialog)
    saved = []
    dialog.feedback_saved.connect(saved.append)
    dialog.accept()
    assert ctx.store.list_feedback(message_ids=[reply.id]) == [] and saved == []
    # An unchanged correction box is no correction; "Reset" brings the reply back after an edit.
    dialog = FeedbackDialog(ctx, reply.id)
    qtbot.addWidget(dialog)
    dialog.correction.setPlainText("something else")
    dialog.reset_correction.click()
    assert dialog.correction.toPlainText() == reply.content


def test_an_empty_correction_is_refused_and_the_dialog_stays_open(qtbot, ctx):
    reply = _reply(ctx.store)
    dialog = FeedbackDialog(ctx, reply.id)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.correction.setPlainText("   ")
    dialog.accept()
    assert dialog.isVisible() and ctx.store.list_feedback(message_ids=[reply.id]) == []
    from PySide6.QtWidgets import QApplication

    box = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible())
    assert "cannot be empty" in box.informativeText()
    box.close()


# -- the Feedback page ------------------------------------------------------------------------
def _arena_vote(store, prompt="Capital of Peru?", winner_text="Lima.", loser_text="Rome."):
    """A blind round shown as A = tuned, B = base; the vote is for A (the tuned model)."""
    from workbench.core.chat_records import ArenaSide

    base, tuned = (ChatTarget(store.add_base_model(n, n, f"/nowhere/{n}/{prompt}", f"fp-{n}-{prompt}").id).key
                   for n in ("base", "tuned"))
    arena = store.add_arena("a", [base, tuned], blind=True)
    sessions = {k: store.add_conversation(k, ChatTarget.from_key(k).base_model_id, arena_id=arena.id).id
                for k in (base, tuned)}
    rnd = store.add_round(arena.id, prompt, [ArenaSide(0, tuned, sessions[tuned]), ArenaSide(1, base, sessions[base])],
                          blind=True)
    for pos, (key, text) in enumerate(((tuned, winner_text), (base, loser_text))):
        u = store.add_turn(sessions[key], "user", prompt)
        rnd = store.set_round_reply(rnd.id, pos, store.add_turn(sessions[key], "assistant", text,
                                                                parent_id=u.id, model_key=key).id)
    store.add_vote(rnd.id, "a", rater="ann", blind=True)
    return base, tuned


@pytest.fixture
def page(qtbot, ctx):
    from workbench.ui.common import workers
    from workbench.ui.feedback.page import FeedbackPage

    widget = FeedbackPage()
    qtbot.addWidget(widget)
    yield widget
    widget.set_context(None)
    qtbot.waitUntil(lambda: workers.active_task_count() == 0, timeout=20000)


def _loaded(qtbot, page, rows):
    qtbot.waitUntil(lambda: not page.busy() and page.model.rowCount() == rows, timeout=20000)


def test_the_page_lists_filters_and_makes_a_preference_version(qtbot, ctx, page):
    reply = _reply(ctx.store)
    feedback.save_rating(ctx.store, reply.id, correction="Paris is in France.")
    base, tuned = _arena_vote(ctx.store)
    page.set_context(ctx)
    _loaded(qtbot, page, 3)
    assert page.count.text() == "1 SFT row, 2 pairs"
    vote_row = next(r for r in range(page.model.rowCount()) if page.model.item_at(r).provenance.origin == "vote")
    cells = [page.model.index(vote_row, c).data() for c in range(8)]
    assert cells[0] == "pair · vote" and cells[1] == "Capital of Peru?" and cells[2] == "Lima."
    assert cells[3] == "Rome." and cells[4] == "tuned vs base" and cells[5] == "ann" and cells[7] == "yes"
    assert page.model.index(vote_row, 4).data(Qt.ItemDataRole.ToolTipRole) == f"{tuned}\n{base}"
    page.set_kind("preference")
    assert page.proxy.rowCount() == 2 and page.export_action.isEnabled()
    assert not page.make_action.isEnabled()  # nothing selected yet
    page.table.selectAll()
    assert page.make_action.isEnabled() and "2 items selected" in page.detail.toPlainText()
    changed = []
    ctx.datasets_changed.connect(lambda: changed.append(True))
    page.make_action.trigger()
    dialog = page.version_dialog
    assert dialog.kind.currentData() == "preference"
    dialog.name.setText("From chat")
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=20000)
    assert page.last_result.written == 2 and changed == [True]
    assert "2 rows written" in page.result_box.text() and "2 rows written" in page.status.text()
    version = ctx.store.get_version(page.last_result.version_id)
    assert version.kind == "preference" and version.row_count == 2
    page.result_box.close()


def test_the_page_exports_the_kind_shown_and_follows_new_feedback(qtbot, ctx, page, tmp_path):
    import json

    _arena_vote(ctx.store)
    page.set_context(ctx)
    page.set_current(True)
    _loaded(qtbot, page, 1)
    assert not page.export_action.isEnabled()  # "All feedback", nothing selected: which kind is unclear
    page.table.selectRow(0)
    assert "Lima." in page.detail.toPlainText() and "blind vote" in page.detail.toPlainText()
    assert "models: tuned vs base" in page.detail.toPlainText()
    out = tmp_path / "pairs.jsonl"
    page.export(str(out))
    qtbot.waitUntil(lambda: not page.busy() and out.exists(), timeout=20000)
    row = json.loads(out.read_text())
    assert row["chosen"][0]["content"] == "Lima." and row["rejected"][0]["content"] == "Rome."
    assert "Exported 1 preference row" in page.status.text()
    # A rating made elsewhere (the chat page's dialog) shows up here.
    reply = _reply(ctx.store, text="4.", prompt="2+2?")
    feedback.save_rating(ctx.store, reply.id, thumbs=1)
    ctx.feedback_changed.emit()
    _loaded(qtbot, page, 2)
    assert page.selected_ids() == [page.model.item_at(r).id for r in range(2)
                                   if page.model.item_at(r).kind == "preference"]  # the selection is kept
    # While hidden the page only notes it, and reads the items when shown again.
    page.set_current(False)
    feedback.save_rating(ctx.store, reply.id, correction="Four.")
    ctx.feedback_changed.emit()
    assert page.stale and not page.busy()
    page.set_current(True)
    _loaded(qtbot, page, 3)
