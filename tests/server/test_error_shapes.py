"""Pinned error shapes: native {"error_code", "message"[, "details"]}; MLflow's routes keep
MLflow's {"error_code", "message"} with MLflow's codes and statuses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def client(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server_url) as c:
        yield c


def test_native_domain_error_has_details(client: httpx.Client) -> None:
    r = client.get("/api/v1/models/nope")
    assert r.status_code == 404
    assert r.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "registered model 'nope' does not exist",
        "details": {"name": "nope"},
    }


def test_native_errors_without_details(client: httpx.Client) -> None:
    r = client.get("/api/v1/no-such-thing")
    assert (r.status_code, r.json()) == (
        404,
        {"error_code": "ENDPOINT_NOT_FOUND", "message": "no endpoint at /api/v1/no-such-thing"},
    )
    r = client.post(
        "/api/v1/experiments", content=b"{", headers={"content-type": "application/json"}
    )
    assert (r.status_code, set(r.json()), r.json()["error_code"]) == (
        400,
        {"error_code", "message"},
        "MALFORMED_REQUEST",
    )


def test_native_validation_error_lists_fields(client: httpx.Client) -> None:
    r = client.put("/api/v1/models/m/aliases/a", json={"version": "x"})
    body = r.json()
    assert r.status_code == 400
    assert set(body) == {"error_code", "message", "details"}
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert [e["field"] for e in body["details"]["errors"]] == ["body.version"]


def test_guard_refusal_has_the_native_shape(client: httpx.Client) -> None:
    r = client.get("/api/v1/experiments", headers={"host": "evil.example"})
    body = r.json()
    assert r.status_code == 400
    assert body["error_code"] == "HOST_NOT_ALLOWED"
    assert set(body) <= {"error_code", "message", "details"}
    assert isinstance(body["message"], str)


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "code"),
    [
        ("GET", "/registered-models/get?name=nope", None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "/registered-models/create", {"name": "dup"}, 400, "RESOURCE_ALREADY_EXISTS"),
        ("POST", "/registered-models/create", {"name": ""}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", "/runs/get?run_id=zz", None, 400, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_mlflow_routes_keep_mlflows_shape(
    client: httpx.Client,
    method: str,
    path: str,
    payload: dict[str, str] | None,
    status: int,
    code: str,
) -> None:
    if code == "RESOURCE_ALREADY_EXISTS":
        assert client.post("/api/2.0/mlflow/registered-models/create", json=payload).is_success
    r = client.request(method, "/api/2.0/mlflow" + path, json=payload)
    body = r.json()
    assert (r.status_code, body["error_code"]) == (status, code)
    assert set(body) == {"error_code", "message"}
    assert isinstance(body["message"], str)
    assert body["message"]
