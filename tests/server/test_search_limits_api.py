"""Hostile search filters over real HTTP: answered fast, as a 400, while the server stays live."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelyard.tracking.batches import new_run_id
from modelyard.tracking.search import MAX_FILTER_TERMS, MAX_ORDER_BY_KEYS

HOSTILE = "a" * 39 + "!"  # ^(a+)+$ over it: 2**39 backtracking paths, no match
TERM = "tags.t = 'x'"
DEEP = "(" * 500 + TERM + ")" * 500
MANY_TERMS = " OR ".join(["name = 'x'"] * (MAX_FILTER_TERMS + 1))
NOT_RE2 = r"tags.t ~ '(a)\1'"
POST_FILTERS = {
    "500-parens": DEEP,
    "10000-nots": "NOT " * 10_000 + TERM,
    "10000-ors": " OR ".join([TERM] * 10_000),
    "101-terms": MANY_TERMS,
    "not-re2": NOT_RE2,
}
GET_FILTERS = {"500-parens": DEEP, "101-terms": MANY_TERMS, "not-re2": NOT_RE2}  # URL-sized


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=60) as client:
        yield client


def ingest(http: httpx.Client, tags: list[dict[str, str]]) -> None:
    batches = [
        {
            "run_id": new_run_id(),
            "batch_id": f"b{i}",
            "create": {"experiment_name": "hostile", "name": str(i)},
            "tags": t,
        }
        for i, t in enumerate(tags)
    ]
    r = http.post("/api/v1/ingest", json={"batches": batches})
    assert r.status_code == 200, r.text


def timed(send: Any) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = send()
    return response, time.perf_counter() - start


def test_catastrophic_regex_answers_fast_and_health_meanwhile(http: httpx.Client) -> None:
    ingest(http, [{"t": HOSTILE}, {"t": "a" * 40}] * 50)
    answers: dict[str, tuple[httpx.Response, float]] = {}

    def search(route: str, body: dict[str, Any]) -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=60) as client:
            answers[route] = timed(lambda: client.post(route, json=body))

    regex = "tags.t ~ '^(a+)+$'"
    searches = [
        threading.Thread(target=search, args=("/api/v1/runs/search", {"filter": regex})),
        threading.Thread(target=search, args=("/api/2.0/mlflow/runs/search", {"filter": regex})),
    ]
    for thread in searches:
        thread.start()
    health: list[float] = []
    while any(t.is_alive() for t in searches) or not health:
        r, elapsed = timed(lambda: http.get("/health"))
        assert r.status_code == 200
        health.append(elapsed)
    for thread in searches:
        thread.join()
    assert max(health) < 5.0, health
    native, native_s = answers["/api/v1/runs/search"]
    mlflow, mlflow_s = answers["/api/2.0/mlflow/runs/search"]
    assert native_s < 5.0
    assert mlflow_s < 5.0
    assert native.status_code == 200, native.text
    assert len(native.json()["runs"]) == 50
    assert {run["tags"]["t"] for run in native.json()["runs"]} == {"a" * 40}
    assert mlflow.status_code == 200, mlflow.text
    assert len(mlflow.json()["runs"]) == 50


def refused_fast(response: httpx.Response, elapsed: float, code: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code
    assert elapsed < 5.0, f"took {elapsed:.2f} s"
    return body


@pytest.mark.parametrize("name", POST_FILTERS)
@pytest.mark.parametrize(
    "route",
    [
        "/api/v1/runs/search",
        "/api/2.0/mlflow/runs/search",
        "/api/2.0/mlflow/experiments/search",
        "/api/2.0/mlflow/logged-models/search",
    ],
)
def test_hostile_filters_posted_are_400_fast(http: httpx.Client, route: str, name: str) -> None:
    response, elapsed = timed(lambda: http.post(route, json={"filter": POST_FILTERS[name]}))
    # modelyard's own routes name the code; MLflow's keep MLflow's error shape
    code = "INVALID_FILTER" if route.startswith("/api/v1") else "INVALID_PARAMETER_VALUE"
    body = refused_fast(response, elapsed, code)
    if code == "INVALID_FILTER":
        assert "position" in body["details"]


@pytest.mark.parametrize("name", GET_FILTERS)
@pytest.mark.parametrize(
    "route",
    [
        "/api/v1/models",
        "/api/2.0/mlflow/registered-models/search",
        "/api/2.0/mlflow/model-versions/search",
    ],
)
def test_hostile_filters_in_a_query_are_400_fast(http: httpx.Client, route: str, name: str) -> None:
    response, elapsed = timed(lambda: http.get(route, params={"filter": GET_FILTERS[name]}))
    code = "INVALID_FILTER" if route.startswith("/api/v1") else "INVALID_PARAMETER_VALUE"
    refused_fast(response, elapsed, code)


def test_each_refusal_names_its_limit(http: httpx.Client) -> None:
    messages = {
        name: http.post("/api/v1/runs/search", json={"filter": text}).json()
        for name, text in POST_FILTERS.items()
    }
    assert "more than 32 deep" in messages["500-parens"]["message"]
    assert "more than 32 deep" in messages["10000-nots"]["message"]
    assert "the limit is 50,000" in messages["10000-ors"]["message"]
    assert "more than 100 comparisons" in messages["101-terms"]["message"]
    assert "no backreferences" in messages["not-re2"]["message"]
    assert messages["500-parens"]["details"] == {"position": 32, "limit": 32}


def test_order_by_is_bounded_over_http(http: httpx.Client) -> None:
    order_by = ["metrics.m DESC"] * (MAX_ORDER_BY_KEYS + 1)
    for route in ("/api/v1/runs/search", "/api/2.0/mlflow/runs/search"):
        response, elapsed = timed(lambda r=route: http.post(r, json={"order_by": order_by}))
        code = "INVALID_FILTER" if route.startswith("/api/v1") else "INVALID_PARAMETER_VALUE"
        body = refused_fast(response, elapsed, code)
        assert "order_by has 11 clauses" in body["message"]
