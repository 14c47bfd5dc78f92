"""Min/max decimation: what a curve of many points looks like at a given width in pixels.

Each bin of `ds` consecutive points keeps its lowest and its highest point, in their order, so a
spike of one step survives any zoom level; about two bins fall on each pixel column. The x range
outside the view is clipped first (searchsorted on the sorted x). Pure numpy: a few vectorised
calls a curve, no Python loop per point.

A curve of a million points is decimated per redraw from cached bins (MinMaxLevels): the bins of
a bin size are computed once, over the whole series, and extended as points arrive, so a redraw
costs O(pixels), not O(points).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from workbench.ui.runs.charts.series import GrowArray

# Up to this many visible points, bin them directly (O(visible)); above, use the cached bins.
DIRECT_MAX = 65536


def search(x: np.ndarray, value: float, side: str = "left") -> int:
    """np.searchsorted of a float in sorted x. On integer x (steps) the float is rounded to an
    integer first: numpy would otherwise compare in float64, converting all of x each call
    (a millisecond a million points)."""
    if x.dtype.kind in "iu" and np.isfinite(value):
        value = np.int64(min(max(np.floor(value) if side == "right" else np.ceil(value), -2.0**62), 2.0**62))
    return int(np.searchsorted(x, value, side))


def visible_range(x: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """[i0, i1): the points with lo <= x <= hi plus one on each side (so the line runs to the
    edges of the view). `x` is sorted."""
    n = len(x)
    i0 = max(0, search(x, lo, "left") - 1)
    i1 = min(n, search(x, hi, "right") + 1)
    return i0, max(i0, i1)


def bin_size(count: int, width: int) -> int:
    """A power of two >= count/width: at most one bin (two points) a pixel column, at least
    one a two columns; 1 when the points fit as they are (at most two a column)."""
    ratio = count / max(1, width)
    return 1 if ratio <= 2 else 1 << int(np.ceil(np.log2(ratio)))


def _argminmax(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if np.isnan(block).any():  # a NaN is neither the min nor the max (a bin of NaN stays a gap)
        return (np.where(np.isnan(block), np.inf, block).argmin(axis=1),
                np.where(np.isnan(block), -np.inf, block).argmax(axis=1))
    return block.argmin(axis=1), block.argmax(axis=1)


def minmax_bins(y: np.ndarray, start: int, stop: int, ds: int) -> np.ndarray:
    """Indices into y of the min and max of each bin of `ds` points of y[start:stop] (bins start
    at `start`; the last may be partial): two per bin, ascending."""
    n = stop - start
    if n <= 0:
        return np.empty(0, np.int64)
    if ds <= 1:
        return np.arange(start, stop, dtype=np.int64)
    nb, rem = divmod(n, ds)
    parts = []
    if nb:
        lo, hi = _argminmax(y[start:start + nb * ds].reshape(nb, ds))
        base = start + np.arange(nb, dtype=np.int64) * ds
        parts.append(_pairs(base + lo, base + hi))
    if rem:
        lo, hi = _argminmax(y[stop - rem:stop].reshape(1, rem))
        parts.append(_pairs(stop - rem + lo, stop - rem + hi))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack((np.minimum(a, b), np.maximum(a, b)), axis=1).ravel().astype(np.int64)


class MinMaxLevels:
    """minmax_bins over a whole growing series, per bin size, bins aligned at index 0, kept
    between redraws: appending computes only the new complete bins."""

    def __init__(self) -> None:
        self._levels: dict[int, GrowArray] = {}  # ds -> 2 indices per complete bin

    def clear(self) -> None:
        self._levels.clear()

    def invalidate(self, index: int) -> None:
        """y changed from `index` on: drop the bins that reach it."""
        for ds, pairs in self._levels.items():
            pairs.truncate(2 * (index // ds))

    def indices(self, y: np.ndarray, i0: int, i1: int, ds: int) -> np.ndarray:
        """Like minmax_bins(y, i0, i1, ds) but with bins aligned at 0 (the bins overlapping
        [i0, i1) whole)."""
        pairs = self._levels.get(ds)
        if pairs is None:
            pairs = self._levels[ds] = GrowArray(np.int64, 2 * (len(y) // ds) + 64)
        complete = len(y) // ds
        done = len(pairs) // 2
        if done < complete:
            pairs.extend(minmax_bins(y, done * ds, complete * ds, ds))
        b0, b1 = i0 // ds, min(-(-i1 // ds), complete)
        out = pairs.view[2 * b0:2 * b1]
        if i1 > complete * ds:  # the partial bin at the end, computed from its points
            out = np.concatenate((out, minmax_bins(y, max(i0, complete * ds), i1, ds)))
        return out


def decimate(x: np.ndarray, y: np.ndarray, x_range: Optional[tuple[float, float]], width: int,
             levels: Optional[MinMaxLevels] = None) -> np.ndarray:
    """Indices of the points to draw of the curve (x sorted, y) in `x_range` (None: all of it)
    at `width` pixels, ascending, the range's first and last point included."""
    i0, i1 = (0, len(x)) if x_range is None else visible_range(x, *x_range)
    return decimate_span(y, i0, i1, bin_size(i1 - i0, width), levels)


def decimate_span(y: np.ndarray, i0: int, i1: int, ds: int, levels: Optional[MinMaxLevels] = None) -> np.ndarray:
    """Indices of the points to draw of y[i0:i1] in bins of `ds`, its first and last included."""
    if ds <= 1 or i1 - i0 <= 2:
        return np.arange(i0, i1, dtype=np.int64)
    if levels is None or i1 - i0 <= DIRECT_MAX:
        idx = minmax_bins(y, i0, i1, ds)
    else:
        idx = levels.indices(y, i0, i1, ds)
    # The line starts and ends where the points do (a bin's min/max may lie inside it).
    if len(idx) and (idx[0] != i0 or idx[-1] != i1 - 1):
        idx = np.concatenate(([i0], idx[(idx > i0) & (idx < i1 - 1)], [i1 - 1]))
    return idx
