"""One run's curves as the chart draws them: its metric buffers, their smoothing, their x
values on each x axis and their cached min/max bins, all kept up to date incrementally.

Pure numpy (no Qt). Derived arrays are computed lazily, for the curves on screen only, and
extended on append: a live point costs O(1) amortised however long the run is.

X axes: "step" is the step itself; "epoch" and "tokens" map each step through the run's own
epoch / num_input_tokens_seen series (np.interp); "time" is the point's wall time minus the
run's first point's.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

import numpy as np

from workbench.core import metric_names as mn
from workbench.ui.runs.charts.decimate import MinMaxLevels, decimate
from workbench.ui.runs.charts.series import GrowArray, SeriesBuffer, Smoothed, clamp_weight

X_AXES = ("step", "epoch", "tokens", "time")
_REFERENCE = {"epoch": mn.EPOCH, "tokens": mn.TOKENS}


class _XCache:
    """x of a series on a mapped axis; `exact` counts the leading points whose steps the
    reference covered when they were mapped (np.interp clamps beyond its last step, so the rest
    is mapped again when the reference grows)."""

    def __init__(self) -> None:
        self.x = GrowArray(np.float64)
        self.exact = 0

    def truncate(self, n: int) -> None:
        self.x.truncate(n)
        self.exact = min(self.exact, n)


class RunData:
    def __init__(self, smoothing: float = 0.6) -> None:
        self.buffers: dict[str, SeriesBuffer] = {}
        self.versions: dict[str, int] = {}  # bumped on every change of a buffer
        self.smoothing = clamp_weight(smoothing)
        self._smoothed: dict[str, Smoothed] = {}
        self._x: dict[tuple[str, str], _XCache] = {}
        self._levels: dict[tuple[str, bool], MinMaxLevels] = {}
        self._t0: Optional[float] = None

    # -- input --------------------------------------------------------------------------
    def load(self, series: Mapping[str, Any]) -> None:
        """A full history (name -> MetricSeries). Points appended before it arrived that it does
        not hold (seq above its last) are kept: the load and the live stream may overlap."""
        for name, s in series.items():
            buf = self.buffers.get(name)
            tail = None
            if buf is not None and len(buf):
                last = int(np.max(s.seq)) if len(s.seq) else -1
                keep = buf.seq > last
                if keep.any():
                    tail = (buf.seq[keep].copy(), buf.step[keep].copy(), buf.t[keep].copy(),
                            buf.value[keep].copy())
            buf = self.buffers[name] = SeriesBuffer(max(256, len(s.seq) + 1024))
            buf.replace(s.seq, s.step, s.t, s.value)
            if tail is not None:
                buf.extend(*tail)
            self._changed(name, 0, 0)
        self._update_t0(force=True)

    def append(self, rows: Iterable[Any]) -> set[str]:
        """Live rows (MetricRow: seq, step, name, value, t); the names whose points changed."""
        by_name: dict[str, list[Any]] = {}
        for row in rows:
            by_name.setdefault(row.name, []).append(row)
        changed: set[str] = set()
        for name, mine in by_name.items():
            buf = self.buffers.get(name)
            if buf is None:
                buf = self.buffers[name] = SeriesBuffer()
            before = len(buf)
            first = buf.extend([r.seq for r in mine], [r.step for r in mine],
                               [getattr(r, "t", 0.0) or 0.0 for r in mine], [r.value for r in mine])
            if first is not None:
                self._changed(name, first, before)
                changed.add(name)
                if before == 0:
                    self._update_t0()
        return changed

    def set_smoothing(self, weight: float) -> None:
        weight = clamp_weight(weight)
        if weight == self.smoothing:
            return
        self.smoothing = weight
        for smoothed in self._smoothed.values():
            smoothed.set_weight(weight)
        for (name, is_smoothed), levels in self._levels.items():
            if is_smoothed:
                levels.clear()
                self.versions[name] = self.versions.get(name, 0) + 1

    def _changed(self, name: str, first: int, before: int) -> None:
        self.versions[name] = self.versions.get(name, 0) + 1
        if name in self._smoothed:
            self._smoothed[name].invalidate(first)
        for (n, _axis), cache in self._x.items():
            if n == name:
                cache.truncate(first)
        for (n, _smoothed), levels in self._levels.items():
            if n == name:
                levels.invalidate(first)
        for axis, ref in _REFERENCE.items():
            if ref != name:
                continue
            for (n, a), cache in self._x.items():
                if a == axis:
                    # Appended reference points re-map only the clamped tail; a rewound or
                    # reloaded reference re-maps everything.
                    cache.truncate(cache.exact if first >= before > 0 else 0)
                    self.versions[n] = self.versions.get(n, 0) + 1

    def _update_t0(self, force: bool = False) -> None:
        firsts = [float(b.t[0]) for b in self.buffers.values() if len(b)]
        t0 = min(firsts) if firsts and min(firsts) > 0 else None
        if force or t0 != self._t0:
            self._t0 = t0
            for (name, axis), cache in self._x.items():
                if axis == "time":
                    cache.truncate(0)
                    self.versions[name] = self.versions.get(name, 0) + 1

    # -- output -------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return len(self.buffers.get(name, ())) > 0

    def axis_available(self, axis: str) -> bool:
        if axis == "time":
            return self._t0 is not None
        ref = _REFERENCE.get(axis)
        return ref is None or self.has(ref)

    def x(self, name: str, axis: str) -> Optional[np.ndarray]:
        """The series' x values on `axis` (sorted as its steps are); None when the run cannot be
        drawn on it (no epoch/token values, no times)."""
        buf = self.buffers.get(name)
        if buf is None or not self.axis_available(axis):
            return None
        if axis == "step":
            return buf.step
        cache = self._x.setdefault((name, axis), _XCache())
        done, n = len(cache.x), len(buf)
        if done < n:
            steps = buf.step[done:]
            if axis == "time":
                cache.x.extend(buf.t[done:] - self._t0)
                cache.exact = n
            else:
                ref = self.buffers[_REFERENCE[axis]]
                cache.x.extend(np.interp(steps, ref.step, ref.value))
                if cache.exact >= done:
                    cache.exact = done + int(np.searchsorted(steps, ref.step[-1], "right"))
        return cache.x.view

    def y(self, name: str, smoothed: bool = False) -> np.ndarray:
        buf = self.buffers[name]
        if not smoothed:
            return buf.value
        s = self._smoothed.get(name)
        if s is None:
            s = self._smoothed[name] = Smoothed(self.smoothing)
        s.sync(buf.value)
        return s.view

    def curve(self, name: str, smoothed: bool, axis: str, x_range: Optional[tuple[float, float]],
              width: int) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """The (x, y) to draw for the curve: clipped to x_range (None: all), min/max decimated
        to about two points a pixel column."""
        x = self.x(name, axis) if self.has(name) else None
        if x is None:
            return None
        y = self.y(name, smoothed)
        levels = self._levels.setdefault((name, smoothed), MinMaxLevels())
        idx = decimate(x, y, x_range, width, levels)
        return x[idx], y[idx]

    def nearest(self, name: str, smoothed: bool, axis: str, x_value: float) -> Optional[tuple[float, float, int]]:
        """(x, y, step) of the series' point nearest to x_value on `axis` (the crosshair)."""
        x = self.x(name, axis) if self.has(name) else None
        if x is None:
            return None
        i = int(np.searchsorted(x, x_value))
        if i >= len(x) or (i > 0 and x_value - x[i - 1] <= x[i] - x_value):
            i -= 1
        return float(x[i]), float(self.y(name, smoothed)[i]), int(self.buffers[name].step[i])

    def at_steps(self, name: str, smoothed: bool, axis: str, steps: np.ndarray) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """(x, y) on the series' curve at each of `steps` (checkpoint marks): x is the step's
        place on `axis`, y the curve's value there (interpolated between its points)."""
        x = self.x(name, axis) if self.has(name) else None
        if x is None or not len(steps):
            return None
        step = self.buffers[name].step
        at_x = steps.astype(np.float64) if axis == "step" else np.interp(steps, step, x)
        return at_x, np.interp(steps, step, self.y(name, smoothed))
