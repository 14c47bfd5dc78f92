"""Issue 11's "done when", through the GUI with the real children on the tiny model: the base
model and an SFT adapter side by side in a blind arena, votes on ten prompts, two replies
corrected, a preference version made from that feedback on the Feedback page, a DPO adapter
trained on it from the Train page (starting from the SFT adapter), and the new adapter then in
the arena's model list and in an eval run on the Evaluate page."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from workbench.ui.shell.main_window import ARENA, EVALUATE, FEEDBACK, RUNS, TRAIN

pytestmark = pytest.mark.slow
WAIT = 600000  # a child's start (torch) takes a minute on a busy machine

PROMPTS = ["Where is my order?", "Can I return shoes?", "Do you ship abroad?", "How do I reset my password?",
           "Is the jacket waterproof?", "Can I change my address?", "When do you open?", "Do you sell gift cards?",
           "My code is rejected.", "How long is shipping?"]


def _train(window, qtbot, name: str, **knobs) -> str:
    """Start a run from the Train page with the form as it is plus `knobs`; wait for it to end."""
    window.set_page(TRAIN)
    form = window.train_page
    form.steps_spin.setValue(knobs.get("steps", 8))
    form.batch_spin.setValue(4)
    form.length_spin.setValue(128)
    form.lr_edit.setText(knobs.get("lr", "5e-3"))
    form.name_edit.setText(name)
    assert form.validate() == [], form.validate()
    form.start_button.click()
    assert window.current_page() == RUNS
    run_id = window.runs_page.selected_run().id
    qtbot.waitUntil(lambda: window.ctx.store.get_run(run_id).status not in ("queued", "running"), timeout=WAIT)
    run = window.ctx.store.get_run(run_id)
    assert run.status == "completed", run.error
    return run_id


def test_blind_votes_and_corrections_train_a_dpo_adapter_seen_in_the_arena_and_an_eval(window, qtbot,
                                                                                      demo_store):
    from workbench.services import dataset_ops

    store = demo_store
    dataset_ops.make_split(store, store.list_versions()[0].id, seed=3)  # a test part for the eval suite
    assert window.open_project(store.path)
    sft_id = _train(window, qtbot, "sft-support")
    base_id = store.get_run(sft_id).base_model_id

    # The arena: the base model and the SFT adapter, blind.
    window.set_page(ARENA)
    arena = window.arena_page
    arena.refresh_models()
    qtbot.waitUntil(lambda: arena.pickers.select(0, (base_id, None)) and arena.pickers.select(1, (base_id, sft_id)),
                    timeout=20000)
    arena.blind_check.setChecked(True)
    arena.settings_panel.max_tokens_spin.setValue(8)
    arena.start()
    qtbot.waitUntil(lambda: arena.state == "ready", timeout=WAIT)
    session = arena.session
    corrected = []
    for i, prompt in enumerate(PROMPTS):
        arena.new_conversation()  # ten separate prompts, not one long conversation
        arena.prompt_edit.setPlainText(prompt)
        arena.send()
        qtbot.waitUntil(lambda: session.can_vote, timeout=WAIT)
        # Blind: the panes say "Model A / B"; the person prefers the adapter's reply 8 times of 10.
        assert all(sft_id not in pane.title.text() and "sft-support" not in pane.title.text() for pane in arena.panes)
        adapter_side = next(p for p in range(2) if session.side_at(p).target.run_id == sft_id)
        winner = adapter_side if i < 8 else 1 - adapter_side
        arena.vote_actions["ab"[winner]].trigger()
        qtbot.waitUntil(lambda: not session.can_vote, timeout=20000)
        assert "sft-support" in " ".join(pane.title.text() for pane in arena.panes)  # revealed after the vote
        if i in (2, 5):  # two replies corrected, as a person would: Rate / correct... on the losing side
            arena.rate(1 - winner)
            dialog = arena.feedback_dialog
            dialog.correction.setPlainText(f"The right answer to '{prompt}' is on our help page.")
            dialog.accept()
            corrected.append(session.message_id(1 - winner))
    assert len(store.votes()) == 10
    assert {f.message_id for f in store.list_feedback() if f.kind == "correction"} == set(corrected)

    # The Feedback page: the votes' pairs and the two corrections'; make a preference version.
    window.set_page(FEEDBACK)
    page = window.feedback_page
    page.set_kind("preference")
    qtbot.waitUntil(lambda: not page.busy() and page.proxy.rowCount() > 0, timeout=60000)
    # A vote pairs the two replies unless they are the same text (the pair would teach nothing:
    # eight steps of SFT leave the tiny adapter writing the base's reply now and then).
    differing = sum(1 for rnd in store.rounds()
                    if len({store.get_turn(side.message_id).content.strip() for side in rnd.sides}) == 2)
    assert differing >= 5
    pairs = differing + 2  # and each correction is a pair
    assert page.proxy.rowCount() == pairs, [(i.id, i.kind) for i in page.model.items()]
    page.table.selectAll()
    page.make_version("arena feedback", "preference")
    qtbot.waitUntil(lambda: not page.busy(), timeout=60000)
    version = next(v for v in store.list_versions() if v.kind == "preference")
    assert version.row_count == pairs

    # DPO from the SFT adapter on that version, started from the Train page.
    window.set_page(TRAIN)
    form = window.train_page
    form.dataset_combo.setCurrentIndex(form.dataset_combo.findData(version.id))
    method = form.form.widgets["method"]
    method.setCurrentIndex(method.findData("dpo"))
    qtbot.waitUntil(lambda: form.start_from.findData(sft_id) >= 0, timeout=20000)
    assert form.start_from.choose(sft_id)
    dpo_id = _train(window, qtbot, "dpo-from-arena", steps=4, lr="1e-3")
    dpo = store.get_run(dpo_id)
    assert dpo.train_config.method == "dpo" and dpo.init_run_id == sft_id
    assert store.metric_series(dpo_id, "rewards/margins")  # the reward margin curve

    # The new adapter is one of the arena's models...
    window.set_page(ARENA)
    qtbot.waitUntil(lambda: arena.pickers.select(1, (base_id, dpo_id)), timeout=20000)
    # ...and an eval run scores it on the Evaluate page.
    window.set_page(EVALUATE)
    evaluate = window.evaluate_page
    qtbot.waitUntil(lambda: not evaluate.busy() and evaluate.models.count() > 0, timeout=60000)
    evaluate.actions.new_suite.trigger()
    qtbot.waitUntil(lambda: getattr(evaluate, "suite_dialog", None) is not None and evaluate.suite_dialog.isVisible(),
                    timeout=20000)
    dialog = evaluate.suite_dialog
    dialog.name_edit.setText("support answers")
    dialog.limit_spin.setValue(4)
    dialog.max_tokens_spin.setValue(8)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: evaluate.view is not None and evaluate.view.suite.name == "support answers", timeout=60000)
    qtbot.waitUntil(lambda: any(m.run_id == dpo_id for m in evaluate.models.models()), timeout=60000)
    dpo_label = next(m.label for m in evaluate.models.models() if m.run_id == dpo_id and m.checkpoint == "final")
    evaluate.models.set_checked([dpo_label])
    evaluate.run_button.click()
    qtbot.waitUntil(lambda: evaluate.runs_model.rowCount() == 1, timeout=60000)
    eval_run = evaluate.runs_model.run_at(0)
    assert eval_run.model.run_id == dpo_id
    qtbot.waitUntil(lambda: store.get_eval_run(eval_run.id).status not in ("queued", "running"), timeout=WAIT)
    done = store.get_eval_run(eval_run.id)
    assert done.status == "completed" and done.done_items == 4
