"""GET /metrics: real requests show up by route template, method and status; the writer moves."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.server.app import ServerSettings, create_app
from modelyard.server.metrics import install_metrics
from modelyard.tracking.batches import new_run_id
from tests.server.appserver import serving


@pytest.fixture
def http(tmp_path: Path) -> Iterator[httpx.Client]:
    app = create_app(
        ServerSettings(
            store_uri=f"sqlite:///{tmp_path / 'store.db'}",
            artifacts_uri=str(tmp_path / "artifacts"),
        )
    )
    install_metrics(app)
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text scrape (0 when absent)."""
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m is None or m[1] != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m[2] or ""))
        if got == labels:
            return float(m[3])
    return 0.0


def test_requests_are_counted_by_route_template(http: httpx.Client) -> None:
    before = http.get("/metrics").text
    assert sample(before, "modelyard_sqlite_writer_queue_depth") == 0
    jobs = sample(before, "modelyard_sqlite_writer_jobs_total")
    for _ in range(3):
        rid = new_run_id()
        batch = {"run_id": rid, "batch_id": rid, "create": {"experiment_name": "m"}}
        assert http.post("/api/v1/ingest", json={"batches": [batch]}).status_code == 200
        assert http.get(f"/api/v1/runs/{rid}").status_code == 200
    assert http.get(f"/api/v1/runs/{'0' * 32}").status_code == 404
    assert http.get("/api/v1/no/such/route").status_code == 404
    refused = http.get("/api/v1/experiments", headers={"Host": "evil.example"})
    assert refused.status_code == 400

    scrape = http.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    run = {"route": "/api/v1/runs/{run_id}", "method": "GET"}
    assert sample(text, "modelyard_http_requests_total", **run, status="200") == 3
    assert sample(text, "modelyard_http_requests_total", **run, status="404") == 1
    ingest = {"route": "/api/v1/ingest", "method": "POST", "status": "200"}
    assert sample(text, "modelyard_http_requests_total", **ingest) == 3
    assert sample(text, "modelyard_http_request_duration_seconds_count", **run) == 4
    assert sample(text, "modelyard_http_request_duration_seconds_sum", **run) > 0
    errors = "modelyard_http_errors_total"
    assert sample(text, errors, route=run["route"], code="RESOURCE_DOES_NOT_EXIST") == 1
    assert sample(text, errors, route="unmatched", code="HOST_NOT_ALLOWED") == 1
    assert sample(text, errors, route="/api/{rest}", code="ENDPOINT_NOT_FOUND") == 1
    assert "/api/v1/runs/0000" not in text  # raw paths never become labels
    # every ingest ran through the SQLite writer
    assert sample(text, "modelyard_sqlite_writer_jobs_total") >= jobs + 3
    batches = sample(text, "modelyard_sqlite_writer_batch_size_count")
    assert sample(text, "modelyard_sqlite_writer_batch_size_bucket", le="+Inf") == batches > 0
    assert sample(text, "modelyard_sqlite_writer_failed_batches_total") == 0


def test_store_errors_are_counted(http: httpx.Client, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "store.db") as conn:  # a table vanishes under the server
        conn.executescript("DROP TABLE upload_parts; DROP TABLE upload_sessions;")
    failed = http.get(f"/api/v1/uploads/{'a' * 32}")
    assert failed.status_code == 503, failed.text
    assert failed.json()["error_code"] == "STORE_UNAVAILABLE"
    text = http.get("/metrics").text
    assert sample(text, "modelyard_store_errors_total", code="STORE_UNAVAILABLE") == 1
    route = "/api/v1/uploads/{upload_id}"
    assert sample(text, "modelyard_http_errors_total", route=route, code="STORE_UNAVAILABLE") == 1
