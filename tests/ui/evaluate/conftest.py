"""Evaluate page test helpers: waiting that fails at once, with the message, when the page
shows an error dialog instead of what the test waits for."""

from __future__ import annotations

import pytest

WAIT = 60000


@pytest.fixture
def wait_for(qtbot):
    from workbench.ui.common.errors import open_error_dialogs

    def wait(predicate, timeout: int = WAIT) -> None:
        def check() -> bool:
            errors = open_error_dialogs()
            if errors:
                box = errors[0]
                raise AssertionError(f"error dialog: {box.text()} | {box.informativeText()} | {box.detailedText()}")
            return bool(predicate())
        qtbot.waitUntil(check, timeout=timeout)

    return wait
