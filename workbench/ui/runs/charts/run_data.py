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
from workbench.ui.runs.charts.decimate import MinMaxLevels, decimate, decimate_span, search
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
        # Bumped when points other than new ones at the end changed (a rewind, a reload, a
        # re-mapped x axis): what the chart drew of the old points no longer holds.
        self.generations: dict[str, int] = {}
        self.smoothing = clamp_weight(smoothing)
        self._smoothed: dict[str, Smoothed] = {}
        self._x: dict[tuple[str, str], _XCache] = {}
        self._levels: dict[tuple[str, bool], MinMaxLevels] = {}
        self._t0: Optional[float] = None

    # -- input --------------------------------------------------------------------------
    def load(self, series: Mapping[str, Any], copy: bool = False) -> None:
        """A full history (name -> MetricSeries). Points appended before it arrived that it does
        not hold (seq above its last) are kept: the load and the live stream may overlap.
        copy=False holds the series' arrays as they are (free; a series copies at its first
        live append); copy=True copies them into buffers with room to grow (for a worker)."""
        for name, s in series.items():
            buf = self.buffers.get(name)
            tail = None
            if buf is not None and len(buf):
                last = int(np.max(s.seq)) if len(s.seq) else -1
                keep = buf.seq > last
                if keep.any():
                    tail = (buf.seq[keep].copy(), buf.step[keep].copy(), buf.t[keep].copy(),
                            buf.value[keep].copy())
            buf = self.buffers[name] = SeriesBuffer(max(256, len(s.seq) + 1024) if copy else 1)
            buf.replace(s.seq, s.step, s.t, s.value, copy=copy)
            if tail is not None:
                buf.extend(*tail)
            self._changed(name, 0, 0)
        self._update_t0(force=True)

    def adopt(self, older: Optional["RunData"]) -> None:
        """Take over the points this one lacks from the RunData it replaces (a history prepared
        in a worker while live points arrived)."""
        if older is None:
            return
        for name, buf in older.buffers.items():
            mine = self.buffers.get(name)
            keep = buf.seq > (mine.last_seq if mine is not None else -1)
            if keep.any():
                self._extend(name, buf.seq[keep], buf.step[keep], buf.t[keep], buf.value[keep])

    def append(self, rows: Iterable[Any]) -> set[str]:
        """Live rows (MetricRow: seq, step, name, value, t); the names whose points changed."""
        by_name: dict[str, list[Any]] = {}
        for row in rows:
            by_name.setdefault(row.name, []).append(row)
        return {name for name, mine in by_name.items()
                if self._extend(name, [r.seq for r in mine], [r.step for r in mine],
                                [getattr(r, "t", 0.0) or 0.0 for r in mine], [r.value for r in mine])}

    def _extend(self, name: str, seq, step, t, value) -> bool:
        buf = self.buffers.get(name)
        if buf is None:
            buf = self.buffers[name] = SeriesBuffer()
        before = len(buf)
        first = buf.extend(seq, step, t, value)
        if first is None:
            return False
        self._changed(name, first, before)
        if before == 0:
            self._update_t0()
        return True

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
                self._bump(name, True)

    def _bump(self, name: str, old_points_too: bool) -> None:
        self.versions[name] = self.versions.get(name, 0) + 1
        if old_points_too:
            self.generations[name] = self.generations.get(name, 0) + 1

    def _changed(self, name: str, first: int, before: int) -> None:
        self._bump(name, first < before or before == 0)
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
                    appended = first >= before > 0
                    cache.truncate(cache.exact if appended else 0)
                    self._bump(n, not appended)

    def _update_t0(self, force: bool = False) -> None:
        firsts = [float(b.t[0]) for b in self.buffers.values() if len(b)]
        t0 = min(firsts) if firsts and min(firsts) > 0 else None
        if force or t0 != self._t0:
            self._t0 = t0
            for (name, axis), cache in self._x.items():
                if axis == "time":
                    cache.truncate(0)
                    self._bump(name, True)

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

    def settled(self, name: str, axis: str) -> int:
        """How many leading points keep their x and y as points arrive (the points mapped past
        the end of the axis's reference series move when it grows)."""
        if self.x(name, axis) is None:
            return 0
        cache = self._x.get((name, axis))
        return len(self.buffers[name]) if cache is None else cache.exact

    def span(self, name: str, smoothed: bool, axis: str, i0: int, i1: int, ds: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw of the points [i0, i1) in bins of `ds` (bins aligned at 0)."""
        x = self.x(name, axis)
        y = self.y(name, smoothed)
        idx = decimate_span(y, i0, i1, ds, self._levels.setdefault((name, smoothed), MinMaxLevels()))
        return x[idx], y[idx]

    def nearest(self, name: str, smoothed: bool, axis: str, x_value: float) -> Optional[tuple[float, float, int]]:
        """(x, y, step) of the series' point nearest to x_value on `axis` (the crosshair)."""
        x = self.x(name, axis) if self.has(name) else None
        if x is None:
            return None
        i = search(x, x_value)
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


def prepare(series: Mapping[str, Any], smoothing: float) -> RunData:
    """A run's loaded history (name -> MetricSeries) as the chart holds it, its training loss
    smoothed: build it in the worker that loaded the series and hand it to MetricChart.load.
    Copying a million-point run into the chart's buffers and smoothing it takes a GUI thread
    a few hundred milliseconds; a worker, nothing the user sees."""
    data = RunData(smoothing)
    data.load(series, copy=True)
    if data.has(mn.LOSS):
        data.y(mn.LOSS, smoothed=True)
    return data
