"""The chart's axes: pyqtgraph's AxisItem with readable ticks (charts.ticks). Imported only
when a chart is first built: it imports pyqtgraph."""

from __future__ import annotations

import pyqtgraph as pg

from workbench.ui.runs.charts import ticks


class ChartAxis(pg.AxisItem):
    """kind: ticks.NUMBER (1.5M), ticks.BYTES (2.1 GB) or ticks.TIME (1:05:00, on whole
    minutes and hours)."""

    def __init__(self, orientation: str, kind: str = ticks.NUMBER, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.kind = kind
        self._finest: "float | None" = None  # the finest tick spacing of the last layout
        # Ticks and grid lines at two levels, not three: the third doubles the lines each
        # paint draws across the plot.
        self.setStyle(maxTickLevel=1)
        # Ticks carry their own units (1.5 GB, 2.0e-04): no "(x1e+09)" rescaling of the axis.
        self.enableAutoSIPrefix(False)

    def set_kind(self, kind: str) -> None:
        if kind != self.kind:
            self.kind = kind
            self.picture = None  # pyqtgraph's cached drawing of the ticks
            self.update()

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        if self.kind == ticks.TIME and not self.logMode and maxVal > minVal:
            major, minor = ticks.time_spacing(maxVal - minVal, size)
            return [(major, 0), (minor, 0)]
        return super().tickSpacing(minVal, maxVal, size)

    def tickValues(self, minVal, maxVal, size):  # noqa: N802
        levels = super().tickValues(minVal, maxVal, size)
        spacings = [spacing for spacing, values in levels if values and spacing]
        self._finest = min(spacings) if spacings else None
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        if self.logMode:
            return super().tickStrings(values, scale, spacing)
        # Every level with the decimals of the finest one: 1.0 1.5 2.0, not 1 1.5 2.
        spacing = min(spacing, getattr(self, "_finest", None) or spacing)
        return ticks.tick_strings(self.kind, [v * scale for v in values], spacing * scale)
