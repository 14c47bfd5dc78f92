"""The charts' pure numpy parts: series buffers, TensorBoard smoothing, min/max decimation,
x-axis mapping and tick labels (no Qt widget involved)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from workbench.core import metric_names as mn
from workbench.services.run_metrics import MetricSeries
from workbench.ui.runs.charts import ticks
from workbench.ui.runs.charts.decimate import (
    MinMaxLevels, bin_size, decimate, minmax_bins, search, visible_range,
)
from workbench.ui.runs.charts.run_data import RunData
from workbench.ui.runs.charts.series import SeriesBuffer, Smoothed, ema_continue


def tb_ema(values, weight):
    """TensorBoard's smoothing, written as its JavaScript does it (one value at a time)."""
    out, last, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight**n) if weight else v)
    return np.array(out)


def rows(name, steps, value=lambda s: 1.0 / s, seq0=0, t0=1000.0):
    return [SimpleNamespace(seq=seq0 + 10 * s, step=int(s), name=name, value=float(value(s)), t=t0 + s)
            for s in steps]


# -- buffer ---------------------------------------------------------------------------------
def test_buffer_grows_by_doubling_and_ignores_points_it_has():
    buf = SeriesBuffer(capacity=4)
    assert buf.extend([1, 2, 3], [1, 2, 3], [0.0] * 3, [1.0, 2.0, 3.0]) == 0
    capacity = len(buf._seq._data)
    assert buf.extend(range(4, 104), range(4, 104), [0.0] * 100, np.arange(4, 104.0)) == 3
    assert len(buf) == 103 and len(buf._seq._data) >= 103 > capacity
    # A repeated poll: the same seqs again change nothing.
    assert buf.extend([50, 103], [50, 103], [0.0, 0.0], [9.0, 9.0]) is None
    assert buf.value[-1] == 103.0 and len(buf) == 103
    assert list(buf.step[:5]) == [1, 2, 3, 4, 5]


def test_a_resumed_run_logging_earlier_steps_again_replaces_them():
    buf = SeriesBuffer()
    buf.extend(range(1, 11), range(1, 11), [0.0] * 10, np.ones(10))
    # Resumed from the checkpoint at step 6: steps 7.. come again with new seqs.
    first = buf.extend([20, 21], [7, 8], [0.0, 0.0], [5.0, 5.0])
    assert first == 6
    assert list(buf.step) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert list(buf.value[-2:]) == [5.0, 5.0]


# -- smoothing ------------------------------------------------------------------------------
@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99])
def test_incremental_smoothing_equals_the_batch_ema(weight):
    rng = np.random.default_rng(1)
    values = rng.normal(2.0, 0.5, 5000)
    values[[10, 999]] = np.nan  # a diverged step passes through and is not averaged in
    smoothed = Smoothed(weight)
    done = 0
    for size in rng.integers(1, 400, 60):
        done = min(len(values), done + int(size))
        smoothed.sync(values[:done])
    smoothed.sync(values)
    expected = tb_ema(values, weight)
    np.testing.assert_allclose(smoothed.view, expected, rtol=1e-9, atol=1e-12)
    assert np.isnan(smoothed.view[10]) and np.isnan(smoothed.view[999])


def test_smoothing_a_million_points_at_once_matches_and_changing_the_weight_recomputes():
    values = np.random.default_rng(2).normal(1.0, 0.2, 1_000_000)
    out, _acc, count = ema_continue(values, 0.95)
    assert count == len(values)
    np.testing.assert_allclose(out[:2000], tb_ema(values[:2000], 0.95), rtol=1e-9)
    np.testing.assert_allclose(out[-1], tb_ema(values, 0.95)[-1], rtol=1e-9)
    smoothed = Smoothed(0.95)
    smoothed.sync(values[:1000])
    smoothed.set_weight(0.5)
    smoothed.sync(values[:1000])
    np.testing.assert_allclose(smoothed.view, tb_ema(values[:1000], 0.5), rtol=1e-9)


# -- decimation -----------------------------------------------------------------------------
def test_decimation_keeps_the_min_and_max_of_every_bin_in_order():
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, 100_000)
    y[31_337] = 50.0  # a one-step spike survives any zoom
    y[77_777] = -50.0
    ds = bin_size(len(y), 800)
    assert ds == 128
    idx = minmax_bins(y, 0, len(y), ds)
    assert np.all(np.diff(idx) >= 0)
    bins = -(-len(y) // ds)
    assert len(idx) == 2 * bins
    for b in range(bins):
        chunk = y[b * ds:(b + 1) * ds]
        kept = y[idx[2 * b:2 * b + 2]]
        assert kept.min() == chunk.min() and kept.max() == chunk.max()
    assert 50.0 in y[idx] and -50.0 in y[idx]


def test_decimation_clips_to_the_visible_x_range():
    x = np.arange(0, 1_000_000, dtype=np.float64)
    y = np.sin(x / 1000)
    i0, i1 = visible_range(x, 250_000.5, 260_000.5)
    assert (i0, i1) == (250_000, 260_002)  # one point beyond each edge
    idx = decimate(x, y, (250_000.5, 260_000.5), 500)
    assert idx.min() >= 250_000 and idx.max() < 260_002
    assert len(idx) <= 2 * 500 + 4
    few = decimate(x, y, (10.0, 20.0), 500)
    assert list(few) == list(range(9, 22))  # few enough to draw as they are


def test_searching_float_positions_in_integer_steps_matches_numpy():
    steps = np.array([1, 3, 3, 7, 10], dtype=np.int64)
    for value in (-5.0, 0.5, 1.0, 2.9, 3.0, 3.2, 9.99, 10.0, 12.5):
        for side in ("left", "right"):
            assert search(steps, value, side) == np.searchsorted(steps.astype(float), value, side), (value, side)


def test_cached_bins_equal_fresh_bins_as_points_arrive():
    rng = np.random.default_rng(4)
    y = rng.normal(0, 1, 400_000)
    y[5] = np.nan
    levels = MinMaxLevels()
    n = 300_000
    first = levels.indices(y[:n], 0, n, 256)
    np.testing.assert_array_equal(first, minmax_bins(y[:n], 0, n, 256))
    n = 300_020  # live points: only the new complete bins and the partial one are computed
    after = levels.indices(y[:n], 1000, n, 256)
    fresh = minmax_bins(y[:n], 768, n, 256)  # bins aligned at 0, the one holding 1000 whole
    np.testing.assert_array_equal(after, fresh)
    levels.invalidate(299_000)  # a rewind drops the bins that reach it
    y2 = y.copy()
    y2[299_500] = 99.0
    again = levels.indices(y2[:n], 0, n, 256)
    np.testing.assert_array_equal(again, minmax_bins(y2[:n], 0, n, 256))


# -- x axes ---------------------------------------------------------------------------------
def test_x_axes_map_steps_through_the_runs_own_epoch_tokens_and_time():
    data = RunData()
    steps = np.arange(1, 11)
    series = {
        mn.LOSS: MetricSeries(mn.LOSS, steps * 10, steps, 1000.0 + 2 * steps, 1.0 / steps),
        mn.EPOCH: MetricSeries(mn.EPOCH, steps * 10 + 1, steps, 1000.0 + 2 * steps, steps / 5.0),
    }
    data.load(series)
    np.testing.assert_allclose(data.x(mn.LOSS, "epoch"), steps / 5.0)
    np.testing.assert_allclose(data.x(mn.LOSS, "time"), 2.0 * steps - 2.0)
    assert data.x(mn.LOSS, "tokens") is None and not data.axis_available("tokens")
    # Live: the loss point of step 11 may come before its epoch (mapped clamped), then the epoch
    # arrives and the clamped point is mapped again.
    data.append(rows(mn.LOSS, [11], seq0=0))
    assert data.x(mn.LOSS, "epoch")[-1] == pytest.approx(2.0)
    data.append(rows(mn.EPOCH, [11], value=lambda s: s / 5.0, seq0=1))
    assert data.x(mn.LOSS, "epoch")[-1] == pytest.approx(2.2)
    data.append(rows(mn.TOKENS, [1, 11], value=lambda s: 100.0 * s, seq0=2))
    np.testing.assert_allclose(data.x(mn.LOSS, "tokens"), 100.0 * np.arange(1, 12))


def test_a_load_keeps_live_points_that_arrived_before_it():
    data = RunData()
    data.append(rows(mn.LOSS, [9, 10, 11]))  # live, while the history loads
    steps = np.arange(1, 11)
    data.load({mn.LOSS: MetricSeries(mn.LOSS, steps * 10, steps, 1000.0 + steps, 1.0 / steps)})
    assert list(data.buffers[mn.LOSS].step) == list(range(1, 12))


def test_curve_is_decimated_to_the_width():
    data = RunData()
    steps = np.arange(1, 1_000_001)
    data.load({mn.LOSS: MetricSeries(mn.LOSS, steps, steps, 1000.0 + steps, np.cos(steps / 5000.0))})
    x, y = data.curve(mn.LOSS, True, "step", None, 1000)
    assert 1000 <= len(x) <= 2 * 1000 + 2
    assert x[0] == 1 and x[-1] == 1_000_000


# -- ticks ----------------------------------------------------------------------------------
def test_ticks_are_readable():
    assert ticks.number_ticks([0, 500_000, 1_000_000], 500_000) == ["0", "0.5M", "1.0M"]
    assert ticks.number_ticks([0, 2500, 5000], 2500) == ["0", "2500", "5000"]  # plain below 10000
    assert ticks.number_ticks([0.5, 1.0, 1.5], 0.5) == ["0.5", "1.0", "1.5"]
    assert ticks.number_ticks([1e-4, 2e-4], 1e-4) == ["1.0e-04", "2.0e-04"]
    assert ticks.tick_strings(ticks.BYTES, [1e9, 1.5e9], 5e8) == ["1.0 GB", "1.5 GB"]
    assert ticks.format_duration(3723) == "1:02:03" and ticks.format_duration(42) == "0:42"
    major, minor = ticks.time_spacing(3 * 3600, 900)  # three hours on 900 px
    assert major in (1800.0, 3600.0) and major % minor == 0
    assert ticks.format_value(2.5e9, ticks.BYTES) == "2.5 GB"


def test_a_loaded_history_is_held_without_a_copy_and_never_written_to():
    steps = np.arange(1, 101)
    loss = MetricSeries(mn.LOSS, steps * 10, steps, 1000.0 + steps, 1.0 / steps)
    data = RunData()
    data.load({mn.LOSS: loss})
    assert np.shares_memory(data.buffers[mn.LOSS].value, loss.value)  # a million points load free
    before = loss.value.copy()
    data.append(rows(mn.LOSS, [50, 51], value=lambda s: 99.0, seq0=5000))  # a resume rewinds to 50
    assert list(data.buffers[mn.LOSS].value[-2:]) == [99.0, 99.0]
    np.testing.assert_array_equal(loss.value, before)  # the loaded series is untouched
    assert not np.shares_memory(data.buffers[mn.LOSS].value, loss.value)
