"""The REST API over real HTTP: shapes, error codes, limits, artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import httpx
import orjson
import pytest

from modelyard.tracking.batches import new_run_id


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


def create_run(http: httpx.Client, **extra: object) -> str:
    r = http.post("/api/v1/runs", json={"experiment_name": "api", **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_health_ready_and_openapi(http: httpx.Client) -> None:
    assert http.get("/health").json()["status"] == "ok"
    assert http.get("/ready").json() == {"status": "ready"}
    spec = http.get("/openapi.json").json()
    assert "/api/v1/ingest" in spec["paths"]
    assert "/api/v1/runs/search" in spec["paths"]
    # the experiments list documents the counts it answers with
    listed = spec["paths"]["/api/v1/experiments"]["get"]["responses"]["200"]["content"]
    ref = listed["application/json"]["schema"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert {"runs", "last_run_at"} <= set(spec["components"]["schemas"][ref]["properties"])
    root = http.get("/")
    assert root.status_code == 200
    ui = resources.files("modelyard.server") / "ui" / "index.html"
    if ui.is_file():  # the built UI is served as it is
        assert root.text == ui.read_text()
    else:
        assert "UI is not built" in root.text


def test_ingest_round_trip_with_nan(http: httpx.Client) -> None:
    rid = new_run_id()
    body = {
        "batches": [
            {
                "run_id": rid,
                "batch_id": "one",
                "create": {"experiment_name": "api", "name": "r"},
                "params": {"lr": "0.1"},
                "metrics": [
                    {"key": "loss", "steps": [0, 1, 2], "values": [1.0, "NaN", "-Infinity"]}
                ],
                "update": {"status": "FINISHED"},
            }
        ]
    }
    assert http.post("/api/v1/ingest", json=body).json() == {
        "applied": 1,
        "duplicates": 0,
        "points": 3,
    }
    assert http.post("/api/v1/ingest", json=body).json()["duplicates"] == 1
    hist = http.get(f"/api/v1/runs/{rid}/metrics/history", params={"key": "loss"}).json()
    assert hist["values"] == [1.0, "NaN", "-Infinity"]
    run = http.get(f"/api/v1/runs/{rid}").json()
    assert run["status"] == "FINISHED"
    assert run["metrics"]["loss"]["last"] == "-Infinity"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/v1/ingest", b"{not json", 400, "MALFORMED_REQUEST"),
        ("POST", "/api/v1/ingest", b"[]", 400, "MALFORMED_REQUEST"),
        ("POST", "/api/v1/runs", b'{"experiment_name": 5}', 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "/api/v1/runs", b"{oops", 400, "MALFORMED_REQUEST"),
        ("GET", "/api/v1/runs/" + "0" * 32, None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", "/api/v1/runs/not-an-id", None, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "/api/v1/nope", None, 404, "ENDPOINT_NOT_FOUND"),
        ("DELETE", "/api/v1/ingest", None, 405, "METHOD_NOT_ALLOWED"),
        ("POST", "/api/v1/runs/search", b'{"filter": "metrics.a >"}', 400, "INVALID_FILTER"),
        ("POST", "/api/v1/experiments", b'{"name": ""}', 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_error_shapes(
    http: httpx.Client, method: str, path: str, body: bytes | None, status: int, code: str
) -> None:
    r = http.request(method, path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    payload = r.json()
    assert payload["error_code"] == code
    assert isinstance(payload["message"], str)
    assert payload["message"]


def test_bad_filter_position_is_reported(http: httpx.Client) -> None:
    r = http.post("/api/v1/runs/search", json={"filter": "metrics.acc > 1 and bogus = 2"})
    assert r.status_code == 400
    assert r.json()["details"]["position"] == 20


def test_huge_body_is_413_and_big_param_is_400(http: httpx.Client) -> None:
    rid = create_run(http)
    huge = b'{"batches": [' + b" " * (17 << 20) + b"]}"
    r = http.post("/api/v1/ingest", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    big = {"params": {"blob": "x" * (10 << 20)}}
    r = http.post(f"/api/v1/runs/{rid}/log", json=big)
    assert r.status_code == 400
    assert "MODELYARD_MAX_PARAM_BYTES" in r.json()["message"]
    assert http.get(f"/api/v1/runs/{rid}").json()["params"] == {}


def test_param_conflict_is_409_and_nothing_is_written(http: httpx.Client) -> None:
    rid = create_run(http)
    assert http.post(f"/api/v1/runs/{rid}/log", json={"params": {"a": "1"}}).status_code == 200
    r = http.post(
        f"/api/v1/runs/{rid}/log",
        json={"params": {"a": "2"}, "metrics": [{"key": "m", "values": [1.0]}]},
    )
    assert r.status_code == 409
    assert r.json()["error_code"] == "PARAM_CONFLICT"
    assert http.get(f"/api/v1/runs/{rid}").json()["metrics"] == {}


def test_mismatched_metric_columns_are_rejected(http: httpx.Client) -> None:
    rid = create_run(http)
    body = {"metrics": [{"key": "m", "values": [1.0, 2.0], "steps": [0]}]}
    r = http.post(f"/api/v1/runs/{rid}/log", json=body)
    assert r.status_code == 400
    assert "same length" in r.json()["message"]
    body = {"metrics": [{"key": "m", "values": [None]}]}
    assert http.post(f"/api/v1/runs/{rid}/log", json=body).status_code == 400


def test_artifacts_upload_list_download_and_traversal(http: httpx.Client) -> None:
    rid = create_run(http)
    r = http.put(f"/api/v1/runs/{rid}/artifacts/plots/a.txt", content=b"hello")
    assert r.status_code == 201
    listing = http.get(f"/api/v1/runs/{rid}/artifacts").json()
    assert listing == [{"path": "plots", "is_dir": True, "size": None}]
    assert http.get(f"/api/v1/runs/{rid}/artifacts/plots/a.txt").content == b"hello"
    for bad in ["..%2F..%2Fetc%2Fpasswd", "%252e%252e/secret", "a%5Cb"]:
        for method in ("PUT", "GET"):
            r = http.request(method, f"/api/v1/runs/{rid}/artifacts/{bad}", content=b"x")
            assert (r.status_code, r.json()["error_code"]) == (400, "PATH_NOT_ALLOWED"), bad
    assert http.get(f"/api/v1/runs/{rid}/artifacts", params={"path": "plots"}).json() == [
        {"path": "a.txt", "is_dir": False, "size": 5}
    ]
    r = http.get(f"/api/v1/runs/{rid}/artifacts", params={"path": "../.."})
    assert (r.status_code, r.json()["error_code"]) == (400, "PATH_NOT_ALLOWED")


def test_history_downsampling_over_http(http: httpx.Client) -> None:
    rid = create_run(http)
    values = [float(i % 100) for i in range(5000)]
    http.post(f"/api/v1/runs/{rid}/log", json={"metrics": [{"key": "m", "values": values}]})
    hist = http.get(
        f"/api/v1/runs/{rid}/metrics/history", params={"key": "m", "max_points": 100}
    ).json()
    assert hist["total"] == 5000
    assert len(hist["steps"]) <= 100
    assert max(hist["values"]) == 99.0
    assert min(hist["values"]) == 0.0


def test_search_over_http_pages(http: httpx.Client) -> None:
    for i in range(5):
        rid = create_run(http, name=f"run-{i}")
        http.post(f"/api/v1/runs/{rid}/log", json={"metrics": [{"key": "acc", "values": [i]}]})
    body = {"filter": "metrics.acc >= 1", "order_by": ["metrics.acc DESC"], "max_results": 2}
    page = http.post("/api/v1/runs/search", json=body).json()
    assert [r["name"] for r in page["runs"]] == ["run-4", "run-3"]
    body["page_token"] = page["next_page_token"]
    page = http.post("/api/v1/runs/search", json=body).json()
    assert [r["name"] for r in page["runs"]] == ["run-2", "run-1"]
    # search serves the stored read copies; they are exactly what GET /runs/{id} says
    for found in page["runs"]:
        assert found == http.get(f"/api/v1/runs/{found['id']}").json()
        assert found["metrics"]["acc"]["count"] == 1


def test_responses_are_rendered_by_orjson(http: httpx.Client) -> None:
    """The store's numpy columns go out as JSON arrays (the standard json module raises
    TypeError on an ndarray) and NaN/Infinity as the API's strings, never bare NaN."""
    rid = create_run(http)
    values = [0.5, "NaN", "Infinity", "-Infinity"]
    http.post(f"/api/v1/runs/{rid}/log", json={"metrics": [{"key": "m", "values": values}]})
    r = http.get(f"/api/v1/runs/{rid}/metrics/history", params={"key": "m"})
    assert r.headers["content-type"] == "application/json"
    assert b"NaN," not in r.content
    assert orjson.loads(r.content)["values"] == values
