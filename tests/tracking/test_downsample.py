"""Min/max downsampling for charts: at most the points asked, the ends, every extreme."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.tracking.downsample import downsample, split_budget
from modelyard.tracking.entities import MetricPoints

values = st.lists(
    st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=3000
)


def points(vs: list[float]) -> MetricPoints:
    n = len(vs)
    steps = np.arange(n, dtype=np.int64)
    return MetricPoints("m", steps, np.array(vs, dtype=np.float64), steps * 1000)


@settings(max_examples=300, deadline=None)
@given(vs=values, max_points=st.integers(3, 1200))
def test_minmax_keeps_the_ends_and_the_extremes_within_max_points(
    vs: list[float], max_points: int
) -> None:
    series = points(vs)
    shaped = downsample(series, max_points)
    steps = shaped.steps.tolist()
    assert len(steps) <= max_points
    assert steps == sorted(set(steps))
    assert steps[0] == 0
    assert steps[-1] == len(vs) - 1
    if len(vs) <= max_points:
        assert len(steps) == len(vs)
    values = series.values
    if max_points >= 4 and not np.isnan(values).all():
        # the first lowest and the first highest point survive (a spike is never dropped)
        assert int(np.argmin(np.where(np.isnan(values), np.inf, values))) in steps
        assert int(np.argmax(np.where(np.isnan(values), -np.inf, values))) in steps
    assert np.array_equal(shaped.values, values[shaped.steps], equal_nan=True)
    assert np.array_equal(shaped.timestamps, shaped.steps * 1000)


@given(lengths=st.lists(st.integers(1, 100_000), max_size=300), budget=st.integers(3, 1_000_000))
def test_a_budget_is_shared_evenly_and_short_series_keep_all_they_have(
    lengths: list[int], budget: int
) -> None:
    caps = split_budget(lengths, budget)
    assert all(c >= 3 or c == n for c, n in zip(caps, lengths, strict=True))
    assert all(c <= n for c, n in zip(caps, lengths, strict=True))
    if lengths and budget // len(lengths) >= 3:  # no share raised to the floor
        assert sum(caps) <= budget
    cut = [c for c, n in zip(caps, lengths, strict=True) if c < n]
    assert not cut or max(cut) - min(cut) <= 1  # the series that are cut get the same share
