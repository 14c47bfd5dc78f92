"""A run's metric points as growable numpy arrays, and TensorBoard's smoothing of them.

Pure numpy (no Qt): the chart appends live points a few at a time, so a buffer grows by
doubling (amortised O(1) a point) and the smoothing continues from its last state (O(new
points)); nothing is ever rebuilt from all points on an append.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

MAX_SMOOTHING = 0.99


class GrowArray:
    """A 1-d numpy array with amortised O(1) appends; `view` is the filled part (no copy)."""

    def __init__(self, dtype, capacity: int = 256) -> None:
        self._data = np.empty(max(1, capacity), dtype)
        self.n = 0
        self._owned = True  # False: _data is someone else's array, never written to

    def adopt(self, values) -> None:
        """Hold `values` without copying them (a loaded history); the first append copies."""
        self._data = np.asarray(values, self._data.dtype)
        self.n = len(self._data)
        self._owned = False

    @property
    def view(self) -> np.ndarray:
        return self._data[:self.n]

    def __len__(self) -> int:
        return self.n

    def extend(self, values) -> None:
        values = np.asarray(values, self._data.dtype)
        need = self.n + len(values)
        if need > len(self._data) or not self._owned:
            grown = np.empty(max(need, 2 * len(self._data), 256), self._data.dtype)
            grown[:self.n] = self._data[:self.n]
            self._data = grown
            self._owned = True
        self._data[self.n:need] = values
        self.n = need

    def truncate(self, n: int) -> None:
        self.n = max(0, min(self.n, n))

    def replace(self, values) -> None:
        self.n = 0
        self.extend(values)


class SeriesBuffer:
    """One metric of one run, ordered by step: seq/step/t/value arrays of equal length.

    Points arrive at least once (a poll may repeat an event): a point whose seq is not above
    the last one seen is ignored. A point whose step is not above the last step means the run
    was resumed from an earlier checkpoint and logs those steps again: the points from that step
    on are dropped first, as the store drops them, so the curve has no duplicate.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._seq = GrowArray(np.int64, capacity)
        self._step = GrowArray(np.int64, capacity)
        self._t = GrowArray(np.float64, capacity)
        self._value = GrowArray(np.float64, capacity)
        self.last_seq = -1

    def __len__(self) -> int:
        return self._seq.n

    @property
    def seq(self) -> np.ndarray:
        return self._seq.view

    @property
    def step(self) -> np.ndarray:
        return self._step.view

    @property
    def t(self) -> np.ndarray:
        return self._t.view

    @property
    def value(self) -> np.ndarray:
        return self._value.view

    def replace(self, seq, step, t, value, copy: bool = True) -> None:
        """All points at once (a loaded history, already ordered by step then seq); copy=False
        holds the arrays as they are until the first append (they are never written to)."""
        for arr, values in ((self._seq, seq), (self._step, step), (self._t, t), (self._value, value)):
            if copy:
                arr.replace(values)
            else:
                arr.adopt(values)
        self.last_seq = int(self.seq.max()) if len(self) else -1

    def truncate(self, n: int) -> None:
        for arr in (self._seq, self._step, self._t, self._value):
            arr.truncate(n)

    def extend(self, seq, step, t, value) -> Optional[int]:
        """Append points (in event order); the index of the first point that changed, or None
        when every point was already known."""
        seq = np.asarray(seq, np.int64)
        if not len(seq):
            return None
        step, t, value = (np.asarray(step, np.int64), np.asarray(t, np.float64),
                          np.asarray(value, np.float64))
        before = np.maximum.accumulate(np.concatenate(([self.last_seq], seq[:-1])))
        keep = seq > before
        if not keep.all():
            seq, step, t, value = seq[keep], step[keep], t[keep], value[keep]
            if not len(seq):
                return None
        self.last_seq = int(seq[-1])
        changed = len(self)
        # Split where the step does not increase (a resume rewound): each piece appends after
        # dropping the points it logs again. One piece in the normal case.
        cuts = np.flatnonzero(step[1:] <= step[:-1]) + 1
        for lo, hi in zip(np.concatenate(([0], cuts)), np.concatenate((cuts, [len(seq)]))):
            if len(self) and step[lo] <= self.step[-1]:
                self.truncate(int(np.searchsorted(self.step, step[lo], "left")))
                changed = min(changed, len(self))
            for arr, values in ((self._seq, seq), (self._step, step), (self._t, t), (self._value, value)):
                arr.extend(values[lo:hi])
        return changed


def _block_size(weight: float) -> int:
    # Within a block the EMA is a cumulative sum of v_k * w**-k: w**-(block-1) stays <= 1e8,
    # which keeps the float error near 1e-8 * eps relative after scaling back by w**j.
    return max(1, min(4096, int(math.log(1e8) / -math.log(weight))))


def _ema_raw(values: np.ndarray, weight: float, acc: float) -> np.ndarray:
    """acc_i = w * acc_{i-1} + (1 - w) * v_i for every i, from `acc`, vectorised in blocks."""
    n = len(values)
    c = _block_size(weight)
    nb = -(-n // c)
    block = np.zeros(nb * c)
    block[:n] = values
    block = block.reshape(nb, c)
    j = np.arange(c)
    local = (1 - weight) * weight**j * np.cumsum(block * weight**-j.astype(np.float64), axis=1)
    # Each block's end carries into the next with w**c, a tiny factor (about 1e-8): the carry
    # recurrence converges within a few terms, so it is a few shifted adds, not a loop.
    big = weight**c
    ends = local[:, -1]
    carry = ends.copy()
    term, m = ends, 1
    while big**m > 1e-18 and m < nb:
        term = big * np.concatenate((np.zeros(1), term[:-1]))
        carry += term
        m += 1
    carry += acc * big ** (np.arange(nb) + 1.0)
    prev = np.concatenate(([acc], carry[:-1]))
    out = local + weight ** (j + 1.0) * prev[:, None]
    return out.ravel()[:n]


def ema_continue(values, weight: float, acc: float = 0.0, count: int = 0) -> tuple[np.ndarray, float, int]:
    """TensorBoard's bias-corrected exponential moving average of `values`, continuing the state
    (acc, count) of the values before them: returns (smoothed, acc, count) for the next call.
    A non-finite value (a diverged step) is passed through and does not enter the average."""
    weight = clamp_weight(weight)
    v = np.asarray(values, np.float64)
    if not len(v):
        return v.copy(), acc, count
    finite = np.isfinite(v)
    out = v if finite.all() else v.copy()
    f = v if out is v else v[finite]
    if not len(f):
        return out, acc, count
    if weight <= 0:
        return v.copy(), float(f[-1]), count + len(f)
    smoothed = _ema_raw(f, weight, acc)  # its own array: corrected in place
    last = float(smoothed[-1])
    # Bias correction 1 - w**k is 1.0 in float64 once w**k < 1e-17: only the first points need it.
    k = max(0, min(len(f), int(math.ceil(-17 * math.log(10) / math.log(weight))) - count))
    if k:
        smoothed[:k] /= 1.0 - weight ** (count + 1.0 + np.arange(k))
    if finite.all():
        out = smoothed
    else:
        out[finite] = smoothed
    return out, last, count + len(f)


class Smoothed:
    """The smoothed values of a growing series: extend() with the new values only; set_weight()
    marks it for one full recompute."""

    def __init__(self, weight: float) -> None:
        self.weight = clamp_weight(weight)
        self._out = GrowArray(np.float64)
        self._acc, self._count = 0.0, 0

    @property
    def view(self) -> np.ndarray:
        return self._out.view

    def __len__(self) -> int:
        return len(self._out)

    def reset(self) -> None:
        self._out.truncate(0)
        self._acc, self._count = 0.0, 0

    def set_weight(self, weight: float) -> None:
        weight = clamp_weight(weight)
        if weight != self.weight:
            self.weight = weight
            self.reset()

    def invalidate(self, index: int) -> None:
        """The raw values changed from `index` on (a resume rewound): recompute once."""
        if index < len(self._out):
            self.reset()

    def sync(self, values: np.ndarray) -> None:
        """Smooth what `values` (the whole raw series) holds beyond what is already smoothed."""
        if len(values) < len(self._out):
            self.reset()
        new = values[len(self._out):]
        if len(new):
            out, self._acc, self._count = ema_continue(new, self.weight, self._acc, self._count)
            self._out.extend(out)


def clamp_weight(weight: float) -> float:
    try:
        weight = float(weight)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if not math.isfinite(weight) else min(MAX_SMOOTHING, max(0.0, weight))
