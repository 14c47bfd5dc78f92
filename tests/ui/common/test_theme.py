"""The light and dark themes as a user sees them: a disabled primary button must look disabled
(grey, like any disabled button), not like a dimmer primary button."""

from __future__ import annotations

import re

import pytest
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QPushButton

from workbench.ui.common import theme


@pytest.fixture
def themed(qapp):
    """apply(name): switch the app to a theme; the app's look is put back afterwards."""
    sheet, palette, style, current = qapp.styleSheet(), qapp.palette(), qapp.style().name(), theme.current_theme()
    yield lambda name: theme.apply_theme(qapp, name)
    theme.apply_theme(qapp, current)  # the current theme's name (its look is restored below)
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)


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


@pytest.mark.parametrize("name", theme.THEMES)
def test_narrow_column_titles_elide_at_the_right(qtbot, themed, name):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTableView

    from workbench.ui.datasets.rows_model import COLUMNS, VirtualRowsModel

    themed(name)
    rows = [{"index": 0, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(VirtualRowsModel(lambda offset, limit: rows[offset:offset + limit], 1))
    header = view.horizontalHeader()
    header.resizeSection(2, 100)  # narrower than "First user message" in bold
    view.resize(500, 200)
    view.show()
    qtbot.waitExposed(view)
    assert header.textElideMode() == Qt.TextElideMode.ElideRight
    # The bold weight is the header's own font: Qt measures the elided title with it (bold set
    # on ::section only is drawn wider than measured, and a centred title is cut at both ends).
    assert header.font().weight() >= QFont.Weight.DemiBold
    tip = view.model().headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tip == COLUMNS[2] == "First user message"


def test_record_tables_carry_their_titles_as_tooltips(qtbot):
    from workbench.ui.common.page import record_table

    table = record_table(("Name", "Rows", "How it was made"), "t")
    qtbot.addWidget(table)
    assert [table.horizontalHeaderItem(i).toolTip() for i in range(3)] == ["Name", "Rows", "How it was made"]
