"""How the charts write numbers: axis ticks and crosshair values (pure, no Qt).

Steps and tokens run into millions, memory into billions of bytes and time into hours; the
default "%g" ticks (1e+06) are hard to read, so numbers get k/M/G suffixes, bytes get units and
elapsed time ticks fall on whole seconds, minutes and hours.
"""

from __future__ import annotations

import math
from typing import Sequence

NUMBER, BYTES, TIME = "number", "bytes", "time"

_SUFFIXES = ("", "k", "M", "G", "T", "P")
_BYTE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
# Tick spacings for elapsed time (seconds): whole seconds, minutes, hours, days.
_TIME_SPACINGS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
                  43200, 86400, 172800, 432000, 864000)


def _power(value: float, start: float = 1000.0) -> int:
    """Which thousand-power suffix a value takes (0: none): from `start` on."""
    if abs(value) < start:
        return 0
    p = 0
    while abs(value) >= 1000 ** (p + 1) and p < len(_SUFFIXES) - 1:
        p += 1
    return p


def _decimals(spacing: float, div: float) -> int:
    if spacing <= 0 or not math.isfinite(spacing):
        return 0
    return max(0, min(6, math.ceil(-math.log10(spacing / div) - 1e-9)))


def number_ticks(values: Sequence[float], spacing: float, units: Sequence[str] = _SUFFIXES,
                 sep: str = "") -> list[str]:
    """Tick labels sharing one suffix, with as many decimals as the spacing needs."""
    big = max((abs(v) for v in values), default=0.0)
    if big < 1000 and spacing < 1 and units is _SUFFIXES:
        if 0 < big < 1e-3 or 0 < spacing < 1e-4:  # learning rates: 2e-04
            return [f"{v:.1e}" if v else "0" for v in values]
    # Plain numbers up to 9999 (steps 2500, not 2.5k); bytes always with a unit.
    p = _power(big, 1.0 if units is _BYTE_UNITS else 10000.0)
    div = 1000.0 ** p
    places = _decimals(spacing, div)
    unit = units[p]
    return ["0" if v == 0 and unit else f"{v / div:.{places}f}{sep if unit else ''}{unit}" for v in values]


def time_spacing(span: float, size_px: float) -> tuple[float, float]:
    """(major, minor) tick spacing in seconds for a time axis `span` seconds long: a major
    tick about every 90 pixels, on a whole second/minute/hour."""
    want = span * 90.0 / max(1.0, size_px)
    major = next((s for s in _TIME_SPACINGS if s >= want), None)
    if major is None:
        major = _TIME_SPACINGS[-1] * math.ceil(want / _TIME_SPACINGS[-1])
    smaller = [s for s in _TIME_SPACINGS if s < major and major % s == 0]
    minor = smaller[-1] if smaller else major
    # No more than one minor tick every 6 pixels.
    while minor < major and span / minor * 6 > size_px:
        minor = next((s for s in _TIME_SPACINGS if s > minor and major % s == 0), major)
    return float(major), float(minor)


def format_duration(seconds: float) -> str:
    """0:42, 12:05, 1:02:03, 2d 03:00:00."""
    if not math.isfinite(seconds):
        return ""
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"


def tick_strings(kind: str, values: Sequence[float], spacing: float) -> list[str]:
    if kind == TIME:
        return [format_duration(v) for v in values]
    if kind == BYTES:
        return number_ticks(values, spacing, _BYTE_UNITS, sep=" ")
    return number_ticks(values, spacing)


def format_value(value: float, kind: str = NUMBER) -> str:
    """One value for the crosshair: 4 significant digits, bytes with units."""
    if not math.isfinite(value):
        return str(value)
    if kind == TIME:
        return format_duration(value)
    if kind == BYTES:
        p = _power(value)
        return f"{value / 1000.0 ** p:.3g} {_BYTE_UNITS[p]}"
    if abs(value) >= 1e5:
        p = _power(value)
        return f"{value / 1000.0 ** p:.4g}{_SUFFIXES[p]}"
    return f"{value:.4g}"
