"""A chart as a PNG (pyqtgraph's ImageExporter) or an SVG file, written to a temporary file
beside the target and renamed over it, so a failed export leaves no half-written image and
never damages the file it replaces.

SVG goes through Qt's own QSvgGenerator: pyqtgraph 0.14's SVGExporter rewrites every path's
coordinates and fails on the closed paths ("... Z") Qt 6.11 writes for the view's frame
(pyqtgraph issue 3495)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.ui.runs.charts.metric_chart import MetricChart


def export_chart(chart: "MetricChart", path: str, suffix: str) -> None:
    import pyqtgraph.exporters as exporters

    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise WorkbenchError(f"Cannot export the chart: the folder {folder} does not exist.",
                             advice="Choose an existing folder.")
    plot = chart.plot_widget.getPlotItem()
    if plot.sceneBoundingRect().width() < 10:
        raise WorkbenchError("The chart has no size to export yet.", advice="Show the chart, then export it.")
    chart.crosshair.hide()
    tmp = os.path.join(folder, f".{os.path.basename(path)}.part{suffix}")
    try:
        if suffix == ".png":
            if not exporters.ImageExporter(plot).export(tmp):
                raise OSError(f"Qt could not write {tmp}")
        else:
            _write_svg(chart, plot, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise WorkbenchError(f"Could not write the chart to {path}.", details=str(exc),
                             advice="Choose a folder you can write to.") from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_svg(chart: "MetricChart", plot, path: str) -> None:
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QColor, QGuiApplication, QPainter
    from PySide6.QtSvg import QSvgGenerator

    from workbench.ui.common import theme

    source = plot.sceneBoundingRect()
    size = QSize(int(source.width()), int(source.height()))
    target = QRectF(0, 0, size.width(), size.height())
    generator = QSvgGenerator()
    generator.setFileName(path)
    generator.setSize(size)
    generator.setViewBox(target)
    generator.setTitle("Workbench chart")
    # The axes replay cached QPictures, which Qt scales by the device's DPI over the screen's:
    # at the screen's DPI they land where the curves do.
    generator.setResolution(int(QGuiApplication.primaryScreen().logicalDotsPerInchX()))
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"Qt could not write {path}")
    try:
        painter.fillRect(target, QColor(theme.colors().plot_background))
        plot.scene().render(painter, target, source)
    finally:
        painter.end()
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        raise OSError(f"Qt wrote nothing to {path}")
