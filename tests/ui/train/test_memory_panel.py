"""The memory verdict on the Train page: estimated by services.fit for the real tiny model in a
worker, shown as a verdict, a peak-vs-available bar and the parts, and estimated again when a
knob that changes memory changes."""

from __future__ import annotations


def _same(a, b) -> bool:
    """The same estimate (the free memory it compares against moves between two calls)."""
    return (a.peak_bytes, a.parts) == (b.peak_bytes, b.parts)


def _verdict(qtbot, page):
    qtbot.waitUntil(lambda: page.memory.estimate is not None and not page.memory.pending, timeout=30000)
    return page.memory.estimate


def test_the_verdict_appears_for_the_tiny_model_and_follows_the_batch_size(tiny_window, qtbot):
    from workbench.services import fit

    page = tiny_window.train_page
    page.batch_spin.setValue(2)
    first = _verdict(qtbot, page)
    assert first.verdict in ("fits", "tight", "will not fit")
    assert page.memory.isVisibleTo(page) and page.checks.isVisibleTo(page)
    text = page.memory.verdict_label.text()
    assert f"Memory: {first.verdict}" in text and first.device_name in text
    for name, _size in first.parts:
        assert name in page.memory.verdict_label.toolTip()  # the breakdown, on hover
    model_path = tiny_window.ctx.store.list_base_models()[0].path
    config, _ = page.form.config()
    assert _same(first, fit.estimate_fit(model_path, config))  # what the service says, not a guess

    page.batch_spin.setValue(64)
    page.length_spin.setValue(1024)
    qtbot.waitUntil(lambda: page.memory.estimate is not None and not page.memory.pending
                    and page.memory.estimate.peak_bytes > first.peak_bytes, timeout=30000)
    config, _ = page.form.config()
    assert _same(page.memory.estimate, fit.estimate_fit(model_path, config))


def test_an_invalid_form_is_not_estimated_and_a_stale_result_is_dropped(tiny_window, qtbot):
    page = tiny_window.train_page
    _verdict(qtbot, page)
    page.batch_spin.setValue(0)  # invalid: nothing to estimate
    assert not page.memory.pending
    page.batch_spin.setValue(3)
    page.batch_spin.setValue(5)  # typed on: only the last settings count
    est = _verdict(qtbot, page)
    config, _ = page.form.config()
    assert config.batch_size == 5
    from workbench.services import fit

    assert _same(est, fit.estimate_fit(tiny_window.ctx.store.list_base_models()[0].path, config))
