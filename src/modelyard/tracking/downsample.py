"""Server-side downsampling of metric series for charts, keeping their shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.tracking.entities import MetricPoints

Method = Literal["minmax", "lttb"]


def window(series: MetricPoints, x_min: float | None, x_max: float | None) -> MetricPoints:
    """Points whose step lies in [x_min, x_max] (series must be ordered by step)."""
    if x_min is None and x_max is None:
        return series
    lo = 0 if x_min is None else int(np.searchsorted(series.steps, x_min, side="left"))
    hi = len(series.steps) if x_max is None else int(np.searchsorted(series.steps, x_max, "right"))
    return _take(series, np.arange(lo, hi))


def downsample(series: MetricPoints, max_points: int, method: Method = "minmax") -> MetricPoints:
    """At most ``max_points`` points: min/max envelope per bucket, or Largest-Triangle-Three-Buckets."""
    if max_points < 3:
        raise InvalidInput("max_points must be at least 3", field="max_points")
    n = len(series.values)
    if n <= max_points:
        return series
    if method == "minmax":
        return _take(series, _minmax(series.values, max_points))
    if method == "lttb":
        return _take(series, _lttb(series.steps.astype(np.float64), series.values, max_points))
    raise InvalidInput(f"unknown downsampling method {method!r}; use minmax or lttb")


def split_budget(lengths: Sequence[int], budget: int, floor: int = 3) -> list[int]:
    """Points each series may keep so that together they hold about ``budget``: an even
    share, where a series shorter than its share passes what it leaves to the longer ones
    (never fewer than ``floor``, the least a downsampled series keeps)."""
    caps = [0] * len(lengths)
    left, count = budget, len(lengths)
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        share = max(floor, left // count)
        caps[i] = min(lengths[i], share)
        left -= caps[i]
        count -= 1
    return caps


def _take(series: MetricPoints, idx: np.ndarray) -> MetricPoints:
    return MetricPoints(series.key, series.steps[idx], series.values[idx], series.timestamps[idx])


def _minmax(values: np.ndarray, max_points: int) -> np.ndarray:
    """The first and last point, and each bucket's lowest and highest (NaN never wins). The
    inner points fall in buckets of q+1 points, then of q, each group a matrix with a bucket
    per row, so that an argmin and an argmax per group do the work."""
    n = len(values)
    inner = values[1 : n - 1]
    buckets = (max_points - 2) // 2
    if buckets == 0:  # room for one inner point: the one farthest from the finite ones' mean
        finite = np.isfinite(inner)
        mean = inner[finite].mean() if finite.any() else 0.0
        far = np.where(np.isnan(inner), -1.0, np.abs(inner - mean))
        return np.array([0, 1 + int(far.argmax()), n - 1])
    nan = np.isnan(inner)
    low = np.where(nan, np.inf, inner)
    high = np.where(nan, -np.inf, inner)
    q, r = divmod(len(inner), buckets)  # n > max_points, so q >= 2
    picks = [np.array([0, n - 1])]
    for offset, rows, size in ((0, r, q + 1), (r * (q + 1), buckets - r, q)):
        if rows == 0:
            continue
        part = slice(offset, offset + rows * size)
        first = 1 + offset + np.arange(rows) * size
        picks.append(first + low[part].reshape(rows, size).argmin(axis=1))
        picks.append(first + high[part].reshape(rows, size).argmax(axis=1))
    return np.unique(np.concatenate(picks))


def _lttb(x: np.ndarray, y: np.ndarray, threshold: int) -> np.ndarray:
    n = len(y)
    y = np.where(np.isfinite(y), y, 0.0)
    edges = np.linspace(1, n - 1, threshold - 1).astype(np.int64)
    out = np.empty(threshold, dtype=np.int64)
    out[0], out[-1] = 0, n - 1
    a = 0
    for i in range(threshold - 2):
        start, end = edges[i], max(edges[i + 1], edges[i] + 1)
        nxt_start, nxt_end = end, (edges[i + 2] if i + 2 < len(edges) else n)
        nxt_end = max(nxt_end, nxt_start + 1)
        avg_x = x[nxt_start:nxt_end].mean()
        avg_y = y[nxt_start:nxt_end].mean()
        xs, ys = x[start:end], y[start:end]
        area = np.abs((x[a] - avg_x) * (ys - y[a]) - (x[a] - xs) * (avg_y - y[a]))
        a = int(start + np.argmax(area))
        out[i + 1] = a
    return np.unique(out)
