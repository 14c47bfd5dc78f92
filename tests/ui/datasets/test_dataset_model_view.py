"""What the model sees: the Stats tab (counts, character/token histograms, the max length
line, rows that would be truncated) and the template view (chat template, trained tokens
highlighted), with a ChatML tokenizer folder and (slow) the built tiny model."""

from __future__ import annotations

import pytest

from tests.helpers.dataset_ui import add_version, chatml_model
from workbench.ui.datasets.model_sees.panel import STATS, TEMPLATE
from workbench.ui.datasets.model_sees.template_view import TRAINED_BG


@pytest.fixture(scope="module")
def chatml_folder(tmp_path_factory):
    return chatml_model(tmp_path_factory.mktemp("chatml"))


def _convs(n=30):
    out = []
    for i in range(n):
        reply = "It ships tomorrow with tracking." * (1 + (i % 5) * 3)
        out.append([{"role": "system", "content": "You are a helpful assistant for a coffee shop."},
                    {"role": "user", "content": f"Where is my order {i}?"},
                    {"role": "assistant", "content": reply}])
    return out


@pytest.fixture
def model_window(open_window, chatml_folder):
    store = open_window.ctx.store
    model = store.add_base_model("chatml-test", "hf_folder", str(chatml_folder), "test")
    version = add_version(store, _convs(), name="shop")
    open_window.ctx.models_changed.emit()
    page = open_window.datasets_page
    page.refresh(select_id=version.id)
    return open_window, page, version, model


def _longer_than(folder, convs, limit):
    """Rows whose ChatML rendering is longer than `limit` tokens, counted here independently."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(f"{folder}/tokenizer.json")
    texts = ["".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in c) for c in convs]
    return sum(len(e.ids) > limit for e in tok.encode_batch(texts, add_special_tokens=False))


def _wait(qtbot, panel, attr):
    qtbot.waitUntil(lambda: getattr(panel, attr) is None, timeout=30000)


def test_stats_tab_histograms_and_truncation(model_window, qtbot):
    win, page, version, model = model_window
    panel = page.inspector
    assert panel.model_id() == model.id and panel.model_combo.currentText() == "chatml-test"
    assert not panel.stats_view.built  # pyqtgraph waits for the Stats tab
    panel.max_spin.setValue(64)
    panel.tabs.setCurrentIndex(STATS)
    assert panel.stats_task is not None
    _wait(qtbot, panel, "stats_task")
    view = panel.stats_view
    stats = view.stats
    assert view.built and stats.row_count == 30 and stats.message_count == 90
    assert stats.token_measure == "rendered" and stats.max_length == 64
    assert stats.truncated_rows == _longer_than(model.path, _convs(), 64)
    assert 0 < stats.truncated_rows < 30
    assert f"{stats.truncated_rows:,} rows would be truncated" in view.truncation_label.text()
    assert "<b>30</b> rows, <b>90</b> messages" in view.summary_label.text()
    assert view.char_bars is not None and view.token_bars is not None
    assert list(view.token_bars.opts["height"]) == stats.tokens.counts
    assert view.max_line.isVisible() and view.max_line.value() == 64
    # A longer max length: fewer rows are cut, recomputed in a worker.
    panel.max_spin.setValue(100_000)
    panel.max_spin.editingFinished.emit()
    _wait(qtbot, panel, "stats_task")
    assert view.stats.truncated_rows == 0
    assert "No row is longer than the max length of 100,000 tokens" in view.truncation_label.text()
    # Switching back and forth does not compute again.
    panel.tabs.setCurrentIndex(0)
    panel.tabs.setCurrentIndex(STATS)
    assert panel.stats_task is None


def test_template_view_highlights_trained_tokens(model_window, qtbot):
    win, page, version, model = model_window
    panel = page.inspector
    page.go_to_row(4)  # the longest reply
    panel.max_spin.setValue(40)
    panel.tabs.setCurrentIndex(TEMPLATE)
    _wait(qtbot, panel, "template_task")
    rendered = panel.template_view.rendered
    assert rendered is not None and rendered.index == 4
    assert rendered.text.startswith("<|im_start|>system\nYou are a helpful assistant")
    assert rendered.trained_token_count > 0 and rendered.truncated
    header = panel.template_view.header.text()
    assert f"Row 5: {rendered.token_count:,} tokens" in header and "cut in training" in header
    html = panel.template_view.browser.toHtml()
    assert TRAINED_BG["light"] in html  # the assistant reply is highlighted
    assert "It ships tomorrow" in panel.template_view.browser.toPlainText()
    panel.template_view.tokens_check.setChecked(True)  # every token as its own chip
    assert panel.template_view.browser.toPlainText().count("It") >= 1
    # Another row re-renders; the same row does not.
    page.go_to_row(0)
    _wait(qtbot, panel, "template_task")
    assert panel.template_view.rendered.index == 0
    assert panel.template_view.rendered.token_count < rendered.token_count
    panel.tabs.setCurrentIndex(0)
    panel.tabs.setCurrentIndex(TEMPLATE)
    assert panel.template_task is None


def test_without_a_base_model(open_window, qtbot):
    store = open_window.ctx.store
    version = add_version(store, _convs(5), name="shop")
    page = open_window.datasets_page
    page.refresh(select_id=version.id)
    panel = page.inspector
    assert not panel.model_combo.isEnabled()
    panel.tabs.setCurrentIndex(TEMPLATE)
    assert "Add a base model" in panel.template_view.header.text()
    panel.tabs.setCurrentIndex(STATS)
    _wait(qtbot, panel, "stats_task")
    assert panel.stats_view.stats.tokens is None and not panel.stats_view.token_plot.isVisible()
    assert "Choose a base model" in panel.stats_view.truncation_label.text()


@pytest.mark.slow
def test_stats_and_template_with_the_tiny_model(open_window, qtbot, tiny_model_dir):
    from workbench.services import models

    store = open_window.ctx.store
    tiny = models.ensure_builtin_model(store, "tiny")
    version = add_version(store, _convs(12), name="shop")
    open_window.ctx.models_changed.emit()
    page = open_window.datasets_page
    page.refresh(select_id=version.id)
    panel = page.inspector
    panel.set_model(tiny.id)
    panel.tabs.setCurrentIndex(TEMPLATE)
    _wait(qtbot, panel, "template_task")
    rendered = panel.template_view.rendered
    assert rendered is not None, panel.template_view.header.text()
    assert rendered.trained_token_count > 0 and "Where is my order 0?" in rendered.text
    panel.tabs.setCurrentIndex(STATS)
    _wait(qtbot, panel, "stats_task")
    stats = panel.stats_view.stats
    assert stats.tokens is not None and stats.tokens.max > 0 and stats.row_count == 12


def test_clean_by_length_in_tokens_of_a_base_model(model_window, qtbot):
    win, page, version, model = model_window
    dialog = page.clean_selected()
    dialog.set_op("length")
    dialog.unit_combo.setCurrentIndex(dialog.unit_combo.findData(model.id))
    assert dialog.measure_combo.isEnabled()
    dialog.measure_combo.setCurrentIndex(dialog.measure_combo.findData("rendered"))
    dialog.max_spin.setValue(64)
    dialog.preview_button.click()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=30000)
    report = dialog.report
    assert report.unit == "tokens" and len(report.removed) == _longer_than(model.path, _convs(), 64)
    assert "longer than 64 tokens" in dialog.examples.item(0, 2).text()
    dialog.close()


def test_one_huge_row_does_not_squash_the_token_histogram(open_window, chatml_folder, qtbot):
    store = open_window.ctx.store
    store.add_base_model("chatml-test", "hf_folder", str(chatml_folder), "test")
    huge = [{"role": "user", "content": "Tell me everything."},
            {"role": "assistant", "content": " ".join(f"w{i % 97}" for i in range(8000))}]
    version = add_version(store, _convs() + [huge], name="shop")
    open_window.ctx.models_changed.emit()
    page = open_window.datasets_page
    page.refresh(select_id=version.id)
    panel = page.inspector
    panel.max_spin.setValue(64)
    panel.tabs.setCurrentIndex(STATS)
    _wait(qtbot, panel, "stats_task")
    view = panel.stats_view
    t = view.stats.tokens
    assert t.overflow == 1 and t.max > 8000 and t.edges[-1] < 1000
    assert sum(c > 0 for c in t.counts) >= 5  # the 30 ordinary rows over several bins
    tail = view.overflow["token"]  # the grey bar right of the others
    assert list(tail.opts["height"]) == [1] and tail.opts["x0"][0] > t.edges[-1]
    axis = view.token_plot.getPlotItem().getAxis("bottom").labelText
    assert f"> {t.edges[-1]:,.0f}: 1 row (longest {t.max:,.0f})" in axis
    assert view.max_line.isVisible() and "max length 64" in view.max_line.label.toPlainText()
    # The max-length label stands above every bar: its lowest point is higher than the tallest.
    view.resize(800, 600)
    qtbot.waitUntil(lambda: view.token_plot.isVisible(), timeout=15000)
    label = view.max_line.label
    box = view.token_plot.getPlotItem().getViewBox()
    rect = box.mapSceneToView(label.mapRectToScene(label.boundingRect())).boundingRect()
    assert min(rect.top(), rect.bottom()) > max(t.counts)
