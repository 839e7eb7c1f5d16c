"""The API routes the web UI relies on, and how the server serves the built UI."""

from __future__ import annotations

import io
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from modelyard.registry.client import ModelRegistry
from modelyard.tracking.batches import new_run_id


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1", timeout=30) as client:
        yield client


def logged_run(http: httpx.Client, points: int) -> str:
    rid = new_run_id()
    batch = {
        "run_id": rid,
        "create": {"experiment_name": "ui"},
        "metrics": [
            {"key": "loss", "values": [1.0 / (i + 1) for i in range(points)]},
            {"key": "acc", "values": [i / points for i in range(points)]},
        ],
    }
    assert http.post("/ingest", json={"batches": [batch]}).status_code == 200
    return rid


def test_bulk_history_downsamples_windows_and_skips_missing(http: httpx.Client) -> None:
    a, b = logged_run(http, 5000), logged_run(http, 10)
    body = {"run_ids": [a, b], "keys": ["loss", "nope"], "max_points": 100}
    answer = http.post("/metrics/history", json=body)
    assert answer.status_code == 200, answer.text
    series = answer.json()["series"]
    assert [(s["run_id"], s["key"], s["total"]) for s in series] == [
        (a, "loss", 5000),
        (b, "loss", 10),
    ]
    assert len(series[0]["steps"]) <= 100
    assert series[0]["steps"][0] == 0
    assert series[0]["steps"][-1] == 4999  # ends kept
    assert len(series[1]["steps"]) == 10
    window = {**body, "keys": ["acc"], "x_min": 1000, "x_max": 1099, "max_points": None}
    (full, _) = http.post("/metrics/history", json=window).json()["series"]
    assert full["steps"] == list(range(1000, 1100))  # every point of the window
    assert (full["total"], full["in_window"]) == (5000, 100)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"run_ids": [], "keys": ["loss"]}, "run_ids"),
        ({"run_ids": ["x"] * 1001, "keys": ["loss"]}, "run_ids"),
        ({"run_ids": ["a"], "keys": ["loss"], "max_points": 2}, "max_points"),
    ],
)
def test_bulk_history_rejects_bad_requests(
    http: httpx.Client, body: dict[str, object], field: str
) -> None:
    r = http.post("/metrics/history", json=body)
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in r.text


def put(http: httpx.Client, rid: str, path: str, data: bytes) -> None:
    assert http.put(f"/runs/{rid}/artifacts/{path}", content=data).status_code == 201


def test_table_previews_of_csv_tsv_parquet(http: httpx.Client) -> None:
    rid = logged_run(http, 1)
    put(http, rid, "data/p.csv", b"a,b\n" + b"".join(b"%d,x%d\n" % (i, i) for i in range(1000)))
    put(http, rid, "t.tsv", "name\tscore\n\u00e9t\u00e9\t1.5\nnan\tNaN\n".encode())
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": list(range(50)), "y": [float(i) for i in range(50)]}), buf)
    put(http, rid, "t.parquet", buf.getvalue())

    csv = http.get(f"/runs/{rid}/previews/table/data/p.csv", params={"limit": 10}).json()
    assert csv["columns"] == ["a", "b"]
    assert csv["rows"][0] == [0, "x0"]
    assert len(csv["rows"]) == 10
    assert csv["truncated"]
    assert csv["total_rows"] is None
    tsv = http.get(f"/runs/{rid}/previews/table/t.tsv").json()
    assert tsv["rows"] == [
        ["\u00e9t\u00e9", 1.5],
        ["nan", None],
    ]  # pyarrow reads NaN in a number column as null
    feather_buf = io.BytesIO()
    feather.write_feather(pa.table({"n": list(range(100))}), feather_buf, chunksize=30)
    put(http, rid, "t.feather", feather_buf.getvalue())
    put(http, rid, "t.jsonl", b"".join(b'{"n": %d}\n' % i for i in range(50)))
    fea = http.get(f"/runs/{rid}/previews/table/t.feather", params={"limit": 40}).json()
    assert fea["rows"][-1] == [39]
    assert fea["truncated"]
    jsl = http.get(f"/runs/{rid}/previews/table/t.jsonl", params={"limit": 50}).json()
    assert (len(jsl["rows"]), jsl["total_rows"], jsl["truncated"]) == (50, 50, False)
    par = http.get(f"/runs/{rid}/previews/table/t.parquet", params={"limit": 20}).json()
    assert par["total_rows"] == 50
    assert par["truncated"]
    assert par["rows"][19] == [19, 19.0]


def test_table_preview_errors(http: httpx.Client) -> None:
    rid = logged_run(http, 1)
    put(http, rid, "model.bin", b"\x00\x01")
    put(http, rid, "broken.parquet", b"not parquet at all")
    r = http.get(f"/runs/{rid}/previews/table/model.bin")
    assert r.status_code == 400
    assert "not a table" in r.json()["message"]
    r = http.get(f"/runs/{rid}/previews/table/broken.parquet")
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert http.get(f"/runs/{rid}/previews/table/missing.csv").status_code == 404
    assert http.get(f"/runs/{rid}/previews/table/..%2F..%2Fetc%2Fpasswd.csv").status_code == 400
    assert http.get(f"/runs/{rid}/previews/table/x.csv", params={"limit": 0}).status_code == 400


def test_html_artifacts_are_sandboxed(http: httpx.Client, server_url: str) -> None:
    rid = logged_run(http, 1)
    put(http, rid, "report.html", b"<script>fetch('/api/v1/runs/search')</script>")
    r = http.get(f"/runs/{rid}/artifacts/report.html")
    assert r.headers["content-type"].startswith("text/html")
    assert "sandbox" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    # the same file through the MLflow proxied-artifact route is sandboxed too
    exp_id = http.get(f"/runs/{rid}").json()["experiment_id"]
    proxied = httpx.get(
        f"{server_url}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/{rid}/artifacts/report.html"
    )
    assert proxied.status_code == 200
    assert "sandbox" in proxied.headers["content-security-policy"]


def test_model_versions_list(http: httpx.Client, server_url: str, modelyard_home: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    with ModelRegistry(server_url) as reg:
        for c in (0.1, 1.0, 10.0):
            reg.log(LogisticRegression(C=c).fit(x, y), "m")
    versions = http.get("/models/m/versions").json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    r = http.get("/models/nope/versions")
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


UI_BUILT = (resources.files("modelyard.server") / "ui" / "index.html").is_file()


@pytest.mark.skipif(not UI_BUILT, reason="the UI is not built (cd ui && npm ci && npm run build)")
def test_single_page_app_routes(server_url: str) -> None:
    with httpx.Client(base_url=server_url) as http:
        for path in ("/", "/experiments/3", "/runs/abc", "/models/a%20b/versions/2"):
            r = http.get(path)
            assert r.status_code == 200, path
            assert '<div id="root">' in r.text, path
            assert r.headers["cache-control"] == "no-cache"
        asset = next(p for p in r.text.split('"') if p.startswith("/assets/"))
        assert "immutable" in http.get(asset).headers["cache-control"]
        for method in ("PUT", "POST", "DELETE"):
            wrong = http.request(method, "/api/v1/blobs/..%2F..%2Fetc")
            assert wrong.status_code == 404
            assert wrong.json()["error_code"] == "ENDPOINT_NOT_FOUND"
        assert http.put("/api/v1/runs/search").json()["error_code"] == "METHOD_NOT_ALLOWED"
        missing = http.get("/api/v1/nope")
        assert missing.status_code == 404
        assert "root" not in missing.text
