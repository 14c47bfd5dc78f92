"""The light and dark themes as a user sees them: a disabled primary button must look disabled
(grey, like any disabled button), not like a dimmer primary button."""

from __future__ import annotations

import re

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QPushButton

from workbench.ui import theme


@pytest.fixture
def themed(qapp):
    """apply(name): switch the app to a theme; the app's look is put back afterwards."""
    sheet, palette, style, current = qapp.styleSheet(), qapp.palette(), qapp.style().name(), theme.current_theme()
    yield lambda name: theme.apply_theme(qapp, name)
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)
    theme._current = current


def _background(qtbot, primary: bool, enabled: bool) -> QColor:
    button = QPushButton("")  # no text: every pixel inside the border is the background
    if primary:
        button.setObjectName("primary")
    button.setEnabled(enabled)
    qtbot.addWidget(button)
    button.resize(120, 32)
    image = button.grab().toImage()
    return image.pixelColor(image.width() // 2, image.height() // 2)


@pytest.mark.parametrize("name", theme.THEMES)
def test_stylesheet_has_a_disabled_rule_for_primary_buttons(name):
    qss = theme.resource_path("styles", f"{name}.qss").read_text(encoding="utf-8")
    assert re.search(r"QPushButton#primary:disabled[^{]*\{[^}]*background", qss)


@pytest.mark.parametrize("name", theme.THEMES)
def test_disabled_primary_button_looks_disabled(qtbot, themed, name):
    themed(name)
    on = _background(qtbot, primary=True, enabled=True)
    off = _background(qtbot, primary=True, enabled=False)
    plain_off = _background(qtbot, primary=False, enabled=False)
    assert off.name() != on.name()
    # Grey like a disabled ordinary button: no primary colour left in it.
    assert off.hsvSaturationF() < 0.2, (name, off.name())
    assert abs(off.lightnessF() - plain_off.lightnessF()) < 0.08, (name, off.name(), plain_off.name())
    assert on.hsvSaturationF() > 0.5  # the enabled one stays the primary colour
