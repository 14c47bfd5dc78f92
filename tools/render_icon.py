"""Render workbench/resources/icons/workbench.svg to workbench.png (256x256) with Qt's SVG renderer, offscreen.

    python tools/render_icon.py [size]

Also copies both files to packaging/icons/ for the desktop entry.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "workbench" / "resources" / "icons"
PACKAGING_ICONS = ROOT / "packaging" / "icons"


def render(svg: Path, png: Path, size: int = 256) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    if not image.save(str(png), "PNG"):
        raise SystemExit(f"could not write {png}")


def main() -> int:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 (fonts, image plugins)
    svg, png = ICONS / "workbench.svg", ICONS / "workbench.png"
    render(svg, png, size)
    PACKAGING_ICONS.mkdir(parents=True, exist_ok=True)
    for path in (svg, png):
        shutil.copyfile(path, PACKAGING_ICONS / path.name)
    print(f"wrote {png} ({size}x{size}) and copies in {PACKAGING_ICONS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
