"""Write requests become RunBatch objects: the accepted metric values, and properties."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelyard.errors import InvalidInput, MalformedRequest
from modelyard.tracking import batches
from modelyard.tracking.entities import json_float

RUN = "0" * 32


def values_of(raw: list[Any]) -> list[float]:
    (series,) = batches.parse_metrics([{"key": "m", "values": raw}], now=0)
    return [float(v) for v in series.values]


def test_metric_values_are_numbers_or_the_three_strings() -> None:
    got = values_of([1, 2.5, "NaN", "Infinity", "-Infinity", -0.0, 2**70])
    assert got[:2] == [1.0, 2.5]
    assert math.isnan(got[2])
    assert got[3:5] == [math.inf, -math.inf]
    assert got[5:] == [0.0, float(2**70)]


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ([True, "1.5", " 2 ", "inf"], r"\[0\] is a bool"),
        ([True, "x"], r"\[0\] is a bool"),
        ([1.0, False], r"\[1\] is a bool"),
        ([1.0, None], r"\[1\] is null"),
        (["1.5"], r"\[0\] = '1.5' is not a number"),
        ([" 2 "], r"\[0\] = ' 2 ' is not a number"),
        (["inf"], r"\[0\] = 'inf' is not a number"),
        (["nan"], r"\[0\] = 'nan' is not a number"),
        ([1, [2]], r"\[1\] = \[2\] is not a number"),
        ([10**400], r"\[0\] = 1000.* is not a number"),
    ],
)
def test_other_metric_values_are_refused(raw: list[Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        values_of(raw)


def test_values_must_be_an_array() -> None:
    with pytest.raises(MalformedRequest, match="must be a JSON array"):
        values_of("1.0")  # type: ignore[arg-type]


def test_the_mlflow_wire_also_takes_decimal_strings() -> None:
    """proto3 JSON writes a double as a number or a string; the mlflow client sends numbers
    and "NaN"/"Infinity"/"-Infinity", other proto3 writers may quote a decimal."""
    number = batches.metric_value
    assert number("1.5", "v", decimal_strings=True) == 1.5
    assert number("-2e3", "v", decimal_strings=True) == -2000.0
    assert number(".5", "v", decimal_strings=True) == 0.5
    assert math.isnan(number("NaN", "v", decimal_strings=True))
    for bad in [" 2 ", "inf", "1.5x", "0x10", "", True, None]:
        with pytest.raises(InvalidInput, match="v"):
            number(bad, "v", decimal_strings=True)


floats = st.floats(allow_nan=True, allow_infinity=True)


@given(st.lists(floats, min_size=1, max_size=50))
def test_what_the_sdk_sends_parses_to_the_same_floats(values: list[float]) -> None:
    got = values_of([json_float(v) for v in values])
    assert np.array_equal(np.array(got), np.array(values, dtype=np.float64), equal_nan=True)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=5),
        ),
        max_size=6,
    )
)
def test_series_of_one_key_merge_in_order(items: list[tuple[str, list[float]]]) -> None:
    raw = [{"key": key, "values": values} for key, values in items]
    batch = batches.parse_batch({"run_id": RUN, "metrics": raw}, now=7)
    expected: dict[str, list[float]] = {}
    for key, values in items:
        expected.setdefault(key, []).extend(values)
    got = {m.key: m.values.tolist() for m in batch.metrics}
    assert got == expected
    assert [m.key for m in batch.metrics] == list(expected)
    for m in batch.metrics:
        assert m.timestamps.tolist() == [7] * len(m.values)


@given(st.one_of(st.booleans(), st.none(), st.text(), st.dictionaries(st.text(), st.integers())))
def test_a_bad_value_anywhere_rejects_the_whole_request(bad: Any) -> None:
    if isinstance(bad, str) and bad in batches.SPECIAL:
        return
    good = {"run_id": RUN, "metrics": [{"key": "m", "values": [1.0]}]}
    broken = {"run_id": RUN, "metrics": [{"key": "m", "values": [1.0, bad]}]}
    with pytest.raises(InvalidInput, match=r"metrics\[0\]\.values\[1\]"):
        batches.parse_batches({"batches": [good, broken]}, now=0)
