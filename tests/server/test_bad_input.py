"""Client mistakes are 4xx with a stable code, never a 500 (the mlflow client retries a 500 for
minutes): numbers past 64 bits, non-ASCII digits, lone surrogates, invisible characters."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

BIG = str(1 << 63)


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


@pytest.fixture
def run_id(http: httpx.Client) -> str:
    r = http.post("/api/v1/runs", json={"experiment_name": "bad-input"})
    assert r.status_code == 201, r.text
    run = str(r.json()["id"])
    logged = http.post(f"/api/v1/runs/{run}/log", json={"metrics": [{"key": "m", "values": [1]}]})
    assert logged.status_code == 200, logged.text
    return run


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("GET", f"/api/v1/experiments/{BIG}", None, None),
        ("DELETE", f"/api/v1/experiments/{BIG}", None, None),
        ("GET", "/api/2.0/mlflow/experiments/get", {"experiment_id": BIG}, None),
        ("POST", "/api/2.0/mlflow/runs/search", None, {"experiment_ids": [BIG]}),
        ("POST", "/api/v1/runs/search", None, {"experiment_ids": [1 << 63]}),
        (
            "GET",
            "/api/2.0/mlflow/metrics/get-history",
            {"run_id": "RUN", "metric_key": "m", "max_results": "5", "page_token": "²"},
            None,
        ),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/versions/²/1/artifacts/x", None, None),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/versions/1/²/artifacts/x", None, None),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/versions/{BIG}/1/artifacts/x", None, None),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/²/RUN/artifacts/x", None, None),
        ("GET", "/api/v1/datasets/d/versions/²", None, None),
        ("GET", "/api/2.0/mlflow/model-versions/get", {"name": "m", "version": "²"}, None),
    ],
)
def test_out_of_range_and_non_ascii_numbers_are_400(
    http: httpx.Client,
    run_id: str,
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: dict[str, object] | None,
) -> None:
    if params and params.get("run_id") == "RUN":
        params = {**params, "run_id": run_id}
    path = path.replace("RUN", run_id)
    r = http.request(method, path, params=params, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert http.get("/health").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/experiments", "/api/2.0/mlflow/experiments/create"])
def test_a_lone_surrogate_in_a_body_is_400(http: httpx.Client, path: str) -> None:
    r = http.post(
        path,
        content=b'{"name": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "MALFORMED_REQUEST"


def test_a_lone_surrogate_in_a_query_is_not_a_500(http: httpx.Client) -> None:
    # %ED%A0%80 is U+D800 encoded as if it were a character: not UTF-8
    r = http.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=%ED%A0%80")
    assert r.status_code in (400, 404), r.text


@pytest.mark.parametrize(
    "name",
    [
        "invoice\u202efdp.exe",  # right-to-left override: shows as "invoiceexe.pdf"
        "churn\u200b",  # zero-width space: a second "churn"
        "\ufeffchurn",  # byte order mark
        "a\u2066b",  # left-to-right isolate
    ],
)
def test_names_with_invisible_or_direction_characters_are_refused(
    http: httpx.Client, name: str
) -> None:
    r = http.post("/api/v1/experiments", json={"name": name})
    assert r.status_code == 400
    assert "invisible" in r.json()["message"]
    r = http.post("/api/2.0/mlflow/registered-models/create", json={"name": name})
    assert r.status_code == 400
    r = http.post("/api/v1/runs", json={"experiment_name": "ok", "tags": {name: "v"}})
    assert r.status_code == 400
    assert [e["name"] for e in http.get("/api/v1/experiments").json()] == ["Default"]


def test_ordinary_unicode_names_still_work(http: httpx.Client) -> None:
    for name in ("modèle-churn", "模型", "نموذج", "🙂 run"):
        r = http.post("/api/v1/experiments", json={"name": name})
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("bound", ["1e20", "100000000000000000000", "1e400", "-1e400"])
def test_filters_with_numbers_past_64_bits_answer(http: httpx.Client, bound: str) -> None:
    r = http.post("/api/v1/runs", json={"experiment_name": "huge"})
    run = r.json()["id"]
    body = {"metrics": [{"key": "x", "values": [1e21]}]}
    assert http.post(f"/api/v1/runs/{run}/log", json=body).status_code == 200
    expected = [] if bound == "1e400" else [run]
    found = http.post("/api/v1/runs/search", json={"filter": f"metrics.x > {bound}"})
    assert found.status_code == 200, found.text
    assert [x["id"] for x in found.json()["runs"]] == expected
    exp = str(r.json()["experiment_id"])
    found = http.post(
        "/api/2.0/mlflow/runs/search",
        json={"experiment_ids": [exp], "filter": f"metrics.x > {bound}"},
    )
    assert found.status_code == 200, found.text
    assert [x["info"]["run_id"] for x in found.json().get("runs", [])] == expected
