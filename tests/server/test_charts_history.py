"""POST /metrics/history for compare charts: a point budget split across runs, min/max buckets
that keep spikes, timestamps left out on request, many runs in one answer, and refused inputs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.tracking.batches import new_run_id
from modelyard.tracking.downsample import split_budget


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1", timeout=60) as client:
        yield client


def ingest(http: httpx.Client, metrics: list[dict[str, Any]], runs: int = 1) -> list[str]:
    ids = [new_run_id() for _ in range(runs)]
    batches = [
        {"run_id": rid, "create": {"experiment_name": "charts"}, "metrics": metrics} for rid in ids
    ]
    for start in range(0, runs, 250):
        answer = http.post("/ingest", json={"batches": batches[start : start + 250]})
        assert answer.status_code == 200, answer.text
    return ids


def histories(http: httpx.Client, **body: Any) -> list[dict[str, Any]]:
    answer = http.post("/metrics/history", json=body)
    assert answer.status_code == 200, answer.text
    series: list[dict[str, Any]] = answer.json()["series"]
    return series


def test_a_point_budget_is_split_across_runs_and_keeps_spikes(http: httpx.Client) -> None:
    wave = [1.0 + (s % 7) / 10 for s in range(2000)]
    wave[1234] = 100.0  # a spike between buckets' edges
    long = ingest(http, [{"key": "loss", "values": wave}], runs=6)
    short = ingest(http, [{"key": "loss", "values": [0.5] * 10}])
    once = ingest(http, [{"key": "loss", "values": [0.25]}])  # logged once, as autolog does
    series = histories(http, run_ids=long + short + once, keys=["loss"], point_budget=600)
    assert [s["run_id"] for s in series] == long + short + once  # in the order asked
    sizes = [len(s["steps"]) for s in series]
    assert sizes[-2:] == [10, 1]  # short runs keep every point and leave the rest to the others
    assert all(60 <= n <= (600 - 11) // 6 for n in sizes[:-2]), sizes
    assert sum(sizes) <= 600
    assert series[-1]["values"] == [0.25]
    for s in series[:-2]:
        assert (s["total"], s["in_window"]) == (2000, 2000)
        assert s["steps"][0] == 0
        assert s["steps"][-1] == 1999
        assert 1234 in s["steps"]
        assert max(s["values"]) == 100.0
        assert s["steps"] == sorted(s["steps"])


def test_max_points_still_bounds_each_series_under_a_budget(http: httpx.Client) -> None:
    ids = ingest(http, [{"key": "m", "values": [float(i) for i in range(5000)]}], runs=2)
    series = histories(http, run_ids=ids, keys=["m"], point_budget=100_000, max_points=300)
    assert [len(s["steps"]) for s in series] == [300, 300]
    budget_only = histories(http, run_ids=ids, keys=["m"], point_budget=100_000)
    assert [len(s["steps"]) for s in budget_only] == [5000, 5000]  # under budget: untouched


def test_a_zoom_window_splits_the_budget_over_the_points_in_it(http: httpx.Client) -> None:
    ids = ingest(http, [{"key": "m", "values": [float(i) for i in range(5000)]}], runs=3)
    series = histories(http, run_ids=ids, keys=["m"], point_budget=300, x_min=1000, x_max=1999)
    for s in series:
        assert (s["total"], s["in_window"]) == (5000, 1000)
        assert min(s["steps"]) >= 1000
        assert max(s["steps"]) <= 1999
        assert len(s["steps"]) <= 100


def test_timestamps_are_left_out_on_request(http: httpx.Client) -> None:
    (rid,) = ingest(http, [{"key": "loss", "values": [3.0, 2.0, 1.0]}])
    (with_times,) = histories(http, run_ids=[rid], keys=["loss"])
    assert len(with_times["timestamps"]) == 3
    (without,) = histories(http, run_ids=[rid], keys=["loss"], timestamps=False)
    assert "timestamps" not in without
    assert (without["steps"], without["values"]) == ([0, 1, 2], [3.0, 2.0, 1.0])


def test_many_runs_and_keys_in_one_answer(http: httpx.Client) -> None:
    """More runs than one IN list holds (500): every run's series, run by run, key by key."""
    metrics = [{"key": "a", "values": [1.0, 2.0]}, {"key": "b", "values": [5.0]}]
    ids = ingest(http, metrics, runs=520)
    missing = new_run_id()  # never created: no entry
    series = histories(http, run_ids=[*ids, missing], keys=["b", "a", "never"], timestamps=False)
    assert [(s["run_id"], s["key"]) for s in series] == [(r, k) for r in ids for k in ("b", "a")]
    assert {len(s["steps"]) for s in series if s["key"] == "a"} == {2}


def test_the_budget_split_gives_short_series_all_they_have() -> None:
    assert split_budget([10, 5000, 5000], 1000) == [10, 495, 495]
    even = split_budget([5000] * 300, 100_000)
    assert set(even) == {333, 334}
    assert sum(even) == 100_000
    assert split_budget([5000, 5000], 4) == [3, 3]  # never below a downsampled series' least
    assert split_budget([], 100) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"run_ids": ["0" * 32] * 1001, "keys": ["loss"]}, "run_ids"),
        ({"run_ids": ["0" * 32], "keys": [""]}, "key"),
        ({"run_ids": ["0" * 32], "keys": ["x" * 251]}, "key"),
        ({"run_ids": ["0" * 32], "keys": ["a\x00b"]}, "key"),
        ({"run_ids": ["0" * 32], "keys": ["a\u202eb"]}, "key"),
        ({"run_ids": ["0" * 32], "keys": [7]}, "keys"),
        ({"run_ids": ["0" * 32], "keys": ["k"] * 101}, "keys"),
        ({"run_ids": ["../etc"], "keys": ["loss"]}, "run_id"),
        ({"run_ids": ["0" * 32], "keys": ["loss"], "point_budget": 2}, "point_budget"),
        ({"run_ids": ["0" * 32], "keys": ["loss"], "point_budget": 10**8}, "point_budget"),
        ({"run_ids": ["0" * 32], "keys": ["loss"], "timestamps": "sometimes"}, "timestamps"),
        ({"run_ids": ["0" * 32], "keys": ["loss"], "points": 10}, "points"),
    ],
)
def test_bad_requests_are_400_with_a_stable_code(
    http: httpx.Client, body: dict[str, object], field: str
) -> None:
    answer = http.post("/metrics/history", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in answer.text
