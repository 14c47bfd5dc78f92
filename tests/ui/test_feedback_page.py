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
