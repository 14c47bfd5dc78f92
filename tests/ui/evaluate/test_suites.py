"""The Evaluate page's suites: a probe set typed by hand in the New Suite dialog, its note when
no item has a reference, and Edit Suite making a new version (real widgets, real store and
services; no model needed)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox

from workbench.ui.shell.main_window import EVALUATE


def _evaluate_page(window, wait_for):
    window.set_page(EVALUATE)
    page = window.evaluate_page
    wait_for(lambda: not page.busy())
    return page


def _open_dialog(page, wait_for, edit: bool = False):
    before = getattr(page, "suite_dialog", None)
    (page.actions.edit_suite if edit else page.actions.new_suite).trigger()
    wait_for(lambda: getattr(page, "suite_dialog", None) not in (None, before)
                    and page.suite_dialog.isVisible())
    return page.suite_dialog


def _ok(dialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_a_hand_typed_suite_then_a_new_version(open_window, wait_for):
    page = _evaluate_page(open_window, wait_for)
    assert page.suites.count() == 0 and "No suite yet" in page.suite_title.text()
    assert not page.actions.edit_suite.isEnabled() and not page.actions.run.isEnabled()

    dialog = _open_dialog(page, wait_for)
    assert dialog.source() == "hand"  # no test split in the project: typed by hand first
    _ok(dialog)  # no name yet: the dialog says why and stays open
    assert dialog.isVisible() and "name" in dialog.error.text()
    dialog.name_edit.setText("probes")
    dialog.add_item("What is two plus two?", "4")
    dialog.add_item("Name a colour of the sky.", "blue", "colour")
    dialog.add_item("Say hello in JSON.", "")
    dialog.metrics.set_checked("chrf", False)
    dialog.max_tokens_spin.setValue(16)
    _ok(dialog)
    wait_for(lambda: page.view is not None and page.view.suite.name == "probes")
    suite = page.view.suite
    assert suite.version == 1 and suite.item_count == 3 and suite.source["kind"] == "hand"
    assert {m.name for m in suite.metrics} == {"exact_match", "token_f1", "rouge_l", "loss", "length"}
    assert suite.generation.max_new_tokens == 16
    assert page.suites.count() == 1 and "probes v1" in page.suites.item(0).text()
    assert page.actions.edit_suite.isEnabled()

    from workbench.services import eval_views

    items = eval_views.suite_items(open_window.ctx.store, suite.id)
    assert [(i.messages[-1]["content"], i.references, i.label) for i in items] == [
        ("What is two plus two?", ["4"], None), ("Name a colour of the sky.", ["blue"], "colour"),
        ("Say hello in JSON.", [], None)]

    # Edit: the items come back to edit; a changed metric list is a new version of the same suite.
    dialog = _open_dialog(page, wait_for, edit=True)
    assert dialog.hand.rowCount() == 3 and dialog.name_edit.text() == "probes"
    assert not dialog.sources.isTabEnabled(0)  # the items stay where they came from
    dialog.metrics.set_checked("valid_json", True)
    dialog.add_item("Count to three.", "1 2 3")
    _ok(dialog)
    wait_for(lambda: page.view is not None and page.view.suite.version == 2)
    v2 = page.view.suite
    assert v2.lineage_id == suite.lineage_id and v2.parent_id == suite.id and v2.item_count == 4
    assert "valid_json" in [m.name for m in v2.metrics]
    assert page.suites.count() == 1 and "probes v2" in page.suites.item(0).text()
    kept = eval_views.suite_items(open_window.ctx.store, v2.id)
    assert [i.id for i in kept[:3]] == [i.id for i in items]  # kept items keep their ids


def test_a_suite_without_references_says_which_metrics_it_drops(open_window, wait_for):
    page = _evaluate_page(open_window, wait_for)
    dialog = _open_dialog(page, wait_for)
    dialog.name_edit.setText("formats")
    dialog.add_item("Reply with a JSON object.", "")
    dialog.add_item("Reply with a list.", "")
    _ok(dialog)
    wait_for(lambda: page.view is not None and page.view.suite.name == "formats")
    assert page.suite_note.isVisibleTo(page)
    note = page.suite_note.text()
    assert "no reference" in note.lower() and "exact match" in note.lower() and "length" not in note.lower()


def test_the_page_is_busy_until_a_new_selection_is_compared(open_window, wait_for):
    """Selecting eval runs compares them after a short timer; until it has run, busy() says so
    (the comparison shown is still the previous selection's: a script or test waiting for "not
    busy" must not read it)."""
    from tests.helpers.eval_results import add_eval, make_suite

    store = open_window.ctx.store
    suite = make_suite(store, [["Paris"], ["four"]], metrics=("exact_match",))
    first = add_eval(store, suite, ["Paris", "five"], label="first")
    second = add_eval(store, suite, ["Rome", "four"], label="second")
    page = _evaluate_page(open_window, wait_for)
    wait_for(lambda: page.runs_model.find(second.id) is not None and not page.busy())
    page.select_eval_runs([first.id])
    assert page.busy()
    wait_for(lambda: not page.busy())
    assert [r.id for r in page.comparison.runs] == [first.id]
    page.select_eval_runs([first.id, second.id])
    assert page.busy()  # the one-run comparison is still the one shown
    wait_for(lambda: not page.busy())
    assert {r.id for r in page.comparison.runs} == {first.id, second.id}
