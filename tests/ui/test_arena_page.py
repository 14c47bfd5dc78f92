"""The Arena page driven through its real widgets on a real project and a real tiny-model child:
pick a base model and its adapter, blind, send one prompt, both panes stream, vote with the
vote action, the names are revealed, the vote is stored, the leaderboard table ranks the
models, "Rate / correct…" opens the rating dialog on that pane's reply, Esc stops."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers.arena_models import base_and_adapter
from workbench.services import feedback
from workbench.ui.arena.page import ArenaPage
from workbench.ui.shell.context import ProjectContext

LOAD_TIMEOUT = 120000


@pytest.fixture
def ctx(tmp_path):
    from workbench.services import projects

    context = ProjectContext(projects.create_project(str(tmp_path / "Arena.wbproj")))
    yield context
    context.close()


def test_pickers_hold_two_to_four_models_and_the_same_model_twice_is_refused(qtbot, ctx):
    from PySide6.QtWidgets import QApplication

    for name in "pqrst":
        ctx.store.add_base_model(name, name, f"/nowhere/{name}", f"fp-{name}")
    page = ArenaPage()
    qtbot.addWidget(page)
    page.set_context(ctx)
    assert [c.currentIndex() for c in page.side_combos] == [0, 1]
    assert not any(b.isEnabled() for b in page.pickers.remove_buttons)  # never fewer than two
    for _ in range(3):
        qtbot.mouseClick(page.pickers.add_button, Qt.MouseButton.LeftButton)
    assert len(page.side_combos) == 4 and len(page.panes) == 4 and not page.pickers.add_button.isEnabled()
    assert [c.currentIndex() for c in page.side_combos] == [0, 1, 2, 3]
    assert page.vote_buttons["d"].isVisibleTo(page) and not page.vote_actions["d"].isEnabled()
    page.side_combos[3].setCurrentIndex(0)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog" and w.isVisible()]
    assert page.session is None and any("picked twice" in b.text() for b in boxes)
    assert ctx.store.list_arenas() == []


@pytest.mark.slow
def test_the_arena_page_streams_two_models_blind_and_the_vote_ranks_them(qtbot, ctx, tiny_model_dir, tmp_path):
    base, tuned = base_and_adapter(ctx.store, tiny_model_dir, tmp_path)
    page = ArenaPage()
    qtbot.addWidget(page)
    page.set_context(ctx)
    page.show()
    page.set_current(True)  # as the window shows it: the leaderboard follows feedback_changed
    try:
        _drive(qtbot, page, ctx, base, tuned)
    finally:
        page.shutdown()
    assert page.session is None


def _drive(qtbot, page, ctx, base, tuned):
    assert len(page.side_combos) == 2 and page.start_action.isEnabled()
    # The pickers list the base model and the run; the second picks another model by default.
    assert page.side_combos[0].count() == 2 and page.side_combos[0].currentIndex() == 0
    assert page.side_combos[1].currentIndex() == 1
    # Add a side, then remove it again: the arena has two sides.
    qtbot.mouseClick(page.pickers.add_button, Qt.MouseButton.LeftButton)
    assert len(page.side_combos) == 3 and len(page.panes) == 3
    qtbot.mouseClick(page.pickers.remove_buttons[2], Qt.MouseButton.LeftButton)
    assert len(page.side_combos) == 2 and len(page.panes) == 2
    page.settings_panel.temperature_spin.setValue(0)
    page.settings_panel.max_tokens_spin.setValue(8)
    assert page.blind_check.isChecked()
    assert not any(a.isEnabled() for a in page.vote_actions.values())
    assert not page.vote_buttons["c"].isVisibleTo(page)  # two sides: no C or D

    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    session = page.session
    assert session is not None and len(session.children) == 1
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    qtbot.waitUntil(lambda: page.send_action.isEnabled(), timeout=5000)

    qtbot.keyClicks(page.prompt_edit, "Where is my order?")
    qtbot.mouseClick(page.send_button, Qt.MouseButton.LeftButton)
    assert page.state == "generating" and page.stop_action.isEnabled()
    renders = [pane.view.full_renders for pane in page.panes]
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    # Each pane streamed its 8 tokens by appending: one more render when the reply was stored.
    assert [pane.view.full_renders for pane in page.panes] == [n + 1 for n in renders]
    assert all("typing" not in pane.view.toPlainText() and "8 tokens" in pane.view.toPlainText()
               for pane in page.panes)
    rnd = ctx.store.get_round(session.round.id)
    for pane in page.panes:
        reply = ctx.store.get_turn(session.message_id(pane.position))
        assert pane.text == reply.content and reply.tokens == 8
        assert pane.title.text() == f"Model {'AB'[pane.position]}"  # blind: no names yet
        assert pane.rate_button.isEnabled()
    assert page.vote_actions["a"].isEnabled() and page.vote_actions["both_bad"].isEnabled()
    assert page.vote_actions["c"].isEnabled() is False

    # Vote "B is better" with its shortcut's action; the names are revealed on the panes.
    winner = next(s for s in rnd.sides if s.position == 1)
    changed = []
    ctx.feedback_changed.connect(lambda: changed.append(True))
    page.vote_actions["b"].trigger()
    votes = ctx.store.votes(session.arena.id)
    assert [(v.outcome, v.blind) for v in votes] == [("b", True)] and changed
    assert not any(a.isEnabled() for a in page.vote_actions.values())
    names = {base.key: ctx.store.get_base_model(base.base_model_id).name, tuned.key: "tuned-lora"}
    for side in rnd.sides:
        assert page.panes[side.position].title.text().endswith(names[side.target])
    qtbot.waitUntil(lambda: page.leaderboard_model.rowCount() == 2, timeout=30000)
    rows = page.leaderboard_model.rows()
    assert rows[0].key == winner.target and (rows[0].wins, rows[1].losses) == (1, 1)
    assert page.leaderboard_model.index(0, 1).data() == names[winner.target]
    texts = [ctx.store.get_turn(s.message_id).content for s in rnd.sides]
    assert texts[0] != texts[1], texts
    pair = feedback.feedback_items(ctx.store, kind="preference")[0]
    assert pair.provenance.models[0] == winner.target

    # "Rate / correct…" on pane A opens the rating dialog on A's reply.
    qtbot.mouseClick(page.panes[0].rate_button, Qt.MouseButton.LeftButton)
    assert page.feedback_dialog is not None and page.feedback_dialog.message_id == session.message_id(0)
    page.feedback_dialog.reject()

    # Esc stops a long reply; both replies are kept.
    page.settings_panel.max_tokens_spin.setValue(page.settings_panel.max_tokens_spin.maximum())
    qtbot.keyClicks(page.prompt_edit, "Tell me a long story.")
    page.send_action.trigger()
    qtbot.waitUntil(lambda: all(len(pane.text) > 3 for pane in page.panes), timeout=LOAD_TIMEOUT)
    stops = []
    page.stop_action.triggered.connect(lambda *_: stops.append(page.state))
    page.activateWindow()
    page.prompt_edit.setFocus()
    qtbot.waitUntil(lambda: page.isActiveWindow(), timeout=10000)  # shortcuts go to the active window
    qtbot.keyClick(page.prompt_edit, Qt.Key.Key_Escape)
    assert stops == ["generating"]
    # Blind: a pane shows this round only (the revealed first round would name its model).
    assert all("Where is my order?" not in pane.view.toPlainText() for pane in page.panes)
    assert all("Tell me a long story." in pane.view.toPlainText() for pane in page.panes)
    qtbot.waitUntil(lambda: page.state == "ready", timeout=LOAD_TIMEOUT)
    assert all(session.message_id(p.position) for p in page.panes)
    assert all("stopped" in pane.status.text() for pane in page.panes)
    assert page.vote_actions["tie"].isEnabled()
    assert ctx.store.get_turn(session.message_id(0)).finish_reason == "interrupted"
