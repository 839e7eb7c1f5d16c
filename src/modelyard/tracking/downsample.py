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
    n = len(values)
    buckets = max(1, (max_points - 2) // 2)
    edges = np.linspace(1, n - 1, buckets + 1).astype(np.int64)
    low = np.where(np.isnan(values), np.inf, values)
    high = np.where(np.isnan(values), -np.inf, values)
    picks = [np.array([0, n - 1])]
    starts, ends = edges[:-1], edges[1:]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    # argmin/argmax per bucket, vectorised with reduceat on the bucket starts; the kept
    # buckets are contiguous, so together they span starts[0]..ends[-1]
    mins = np.minimum.reduceat(low[: ends[-1]], starts)
    maxs = np.maximum.reduceat(high[: ends[-1]], starts)
    bucket_of = np.repeat(np.arange(len(starts)), ends - starts)
    span = np.arange(starts[0], ends[-1])
    is_min = low[span] == mins[bucket_of]
    is_max = high[span] == maxs[bucket_of]
    first_min = span[is_min][np.unique(bucket_of[is_min], return_index=True)[1]]
    first_max = span[is_max][np.unique(bucket_of[is_max], return_index=True)[1]]
    picks += [first_min, first_max]
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
