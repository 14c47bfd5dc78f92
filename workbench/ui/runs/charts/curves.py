"""Which curves each chart metric draws, and the words for its axes and legend (pure).

"loss" is the training loss as logged (faint), its smoothed curve and the eval loss; every other
metric is one curve. Smoothing applies to the training loss, the noisy one.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core import metric_names as mn
from workbench.ui.runs.charts import ticks

RAW, SMOOTH, EVAL, MAIN = "raw", "smoothed", "eval", "main"
RAW_LABEL = "loss at each step"
SMOOTH_LABEL = "smoothed"
EVAL_LABEL = "eval loss"

METRICS: dict[str, tuple[str, str]] = {key: (title, unit) for key, title, unit in mn.CHART_METRICS}
X_LABELS = {"step": "step", "epoch": "epoch", "tokens": "tokens trained on", "time": "time since start"}
X_TITLES = {"step": "Step", "epoch": "Epoch", "tokens": "Tokens", "time": "Time"}
# What a run lacks when it cannot be drawn on an x axis.
X_MISSING = {
    "epoch": "logged no epochs",
    "tokens": "logged no token counts",
    "time": "has no point times (logged by an older Workbench)",
}


@dataclass(frozen=True)
class CurveSpec:
    name: str  # the metric series it draws
    smoothed: bool
    role: str  # RAW, SMOOTH, EVAL or MAIN
    label: str  # its legend entry when one run is shown


def curve_specs(metric: str, smoothing: float, overlay: bool = False) -> tuple[CurveSpec, ...]:
    """The curves of `metric`, bottom to top. Without smoothing the raw loss is the line; an
    overlay draws each run's smoothed line only (ten runs' raw noise would hide them all)."""
    if metric == mn.LOSS:
        smooth = CurveSpec(mn.LOSS, True, SMOOTH, SMOOTH_LABEL)
        train = ((smooth,) if overlay else (CurveSpec(mn.LOSS, False, RAW, RAW_LABEL), smooth)
                 ) if smoothing > 0 else (CurveSpec(mn.LOSS, False, SMOOTH, RAW_LABEL),)
        return train + (CurveSpec(mn.EVAL_LOSS, False, EVAL, EVAL_LABEL),)
    return (CurveSpec(metric, False, MAIN, METRICS.get(metric, (metric, ""))[0].lower()),)


def primary(specs: tuple[CurveSpec, ...]) -> CurveSpec:
    """The curve that names the run in an overlay's legend."""
    return next((s for s in specs if s.role in (SMOOTH, MAIN)), specs[0])


def y_label(metric: str) -> str:
    return METRICS.get(metric, (metric, ""))[0].lower()


def y_kind(metric: str) -> str:
    return ticks.BYTES if METRICS.get(metric, ("", ""))[1] == "bytes" else ticks.NUMBER


def x_kind(axis: str) -> str:
    return ticks.TIME if axis == "time" else ticks.NUMBER
