"""Light/dark themes: Fusion style + a palette, plus workbench/resources/styles/<theme>.qss (packaged) when present.

Also the app icon and the colours the plot and the chat view use, so every widget follows the
theme from one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from workbench.services import paths

THEMES = ("light", "dark")


def resource_path(*parts: str) -> Path:
    """A file under workbench/resources/ (packaged; WORKBENCH_RESOURCES overrides, as everywhere in the app)."""
    return Path(paths.resource(*parts))


def app_icon() -> QIcon:
    icon = QIcon()
    for name in ("workbench.svg", "workbench.png"):
        path = resource_path("icons", name)
        if path.is_file():
            icon.addFile(str(path))
    return icon


@dataclass(frozen=True)
class Colors:
    plot_background: str
    plot_foreground: str
    plot_line: str
    plot_grid_alpha: float
    user_bubble: str
    assistant_bubble: str
    system_bubble: str
    bubble_text: str
    muted_text: str
    error_text: str


LIGHT = Colors("#ffffff", "#404040", "#1f77b4", 0.25, "#dbeafe", "#f1f5f9", "#fef3c7",
               "#111827", "#6b7280", "#b91c1c")
DARK = Colors("#1e1f22", "#c8c8c8", "#4ea1ff", 0.2, "#1e3a5f", "#2b2d31", "#4a3b12",
              "#e5e7eb", "#9ca3af", "#f87171")

# Curve colours in order, one per run of an overlay (Tableau 10 on white; lighter tints on dark
# grey), and the colour that marks the best checkpoint.
PLOT_PALETTE = {
    "light": ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf"),
    "dark": ("#4ea1ff", "#ffa94d", "#69db7c", "#ff6b6b", "#b197fc", "#d8a47f", "#f783ac",
             "#ced4da", "#e5dd5c", "#66d9e8"),
}
PLOT_HIGHLIGHT = {"light": "#d97706", "dark": "#fcc419"}

_current = "light"


def current_theme() -> str:
    return _current


def colors() -> Colors:
    return DARK if _current == "dark" else LIGHT


def style_plot(plot_widget) -> None:
    """A pyqtgraph PlotWidget in the current theme's plot colours: background, the bottom and
    left axes, the grid (pyqtgraph imported here: only a page that shows a plot gets here)."""
    import pyqtgraph as pg

    c = colors()
    plot_widget.setBackground(c.plot_background)
    for name in ("bottom", "left"):
        axis = plot_widget.getPlotItem().getAxis(name)
        axis.setPen(pg.mkPen(c.plot_foreground))
        axis.setTextPen(pg.mkPen(c.plot_foreground))
    plot_widget.showGrid(x=True, y=True, alpha=c.plot_grid_alpha)


def plot_palette() -> tuple[str, ...]:
    return PLOT_PALETTE[_current]


def plot_highlight() -> str:
    return PLOT_HIGHLIGHT[_current]


def _palette(name: str) -> QPalette:
    pal = QPalette()
    if name == "dark":
        base, window, text = QColor("#1e1f22"), QColor("#2b2d31"), QColor("#e5e7eb")
        pal.setColor(QPalette.ColorRole.Window, window)
        pal.setColor(QPalette.ColorRole.WindowText, text)
        pal.setColor(QPalette.ColorRole.Base, base)
        pal.setColor(QPalette.ColorRole.AlternateBase, QColor("#26282c"))
        pal.setColor(QPalette.ColorRole.Text, text)
        pal.setColor(QPalette.ColorRole.Button, window)
        pal.setColor(QPalette.ColorRole.ButtonText, text)
        pal.setColor(QPalette.ColorRole.ToolTipBase, window)
        pal.setColor(QPalette.ColorRole.ToolTipText, text)
        pal.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8b8f96"))
        pal.setColor(QPalette.ColorRole.Highlight, QColor("#3b82f6"))
        pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
        pal.setColor(QPalette.ColorRole.Link, QColor("#60a5fa"))
        for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText,
                     QPalette.ColorRole.WindowText):
            pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    else:
        pal = QApplication.style().standardPalette() if QApplication.instance() else pal
        pal.setColor(QPalette.ColorRole.Highlight, QColor("#2563eb"))
        pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    return pal


def apply_theme(app: QApplication, name: str) -> None:
    """Switch the whole application to `name` ("light" or "dark")."""
    global _current
    if name not in THEMES:
        name = "light"
    _current = name
    app.setStyle("Fusion")
    app.setPalette(_palette(name))
    qss = resource_path("styles", f"{name}.qss")
    try:
        app.setStyleSheet(qss.read_text(encoding="utf-8") if qss.is_file() else "")
    except OSError:
        app.setStyleSheet("")
