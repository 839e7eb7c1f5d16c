"""The native experiments routes and checked artifact uploads, over real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelyard.server.app import ServerSettings


@pytest.fixture
def http(server_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server_url}/api/v1", timeout=30) as client:
        yield client


def names(http: httpx.Client, view: str) -> list[str]:
    r = http.get("/experiments", params={"view": view})
    assert r.status_code == 200, r.text
    return sorted(e["name"] for e in r.json())


def test_experiment_lifecycle_over_http(http: httpx.Client) -> None:
    r = http.post("/experiments", json={"name": "churn", "description": "d", "tags": {"t": "1"}})
    assert r.status_code == 201, r.text
    exp = r.json()
    assert (exp["name"], exp["description"], exp["tags"], exp["lifecycle"]) == (
        "churn", "d", {"t": "1"}, "active",
    )  # fmt: skip
    eid = exp["id"]
    again = http.post("/experiments", json={"name": "churn"})
    assert (again.status_code, again.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS")

    updated = http.patch(f"/experiments/{eid}", json={"name": "churn-v2", "description": "e"})
    assert (updated.json()["name"], updated.json()["description"]) == ("churn-v2", "e")
    assert http.get("/experiments/by-name/churn-v2").json()["id"] == eid
    gone = http.get("/experiments/by-name/churn")
    assert (gone.status_code, gone.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")

    tagged = http.put(f"/experiments/{eid}/tags/team/core", json={"value": "ml"})
    assert tagged.json()["tags"] == {"t": "1", "team/core": "ml"}
    assert http.get(f"/experiments/{eid}").json()["tags"]["team/core"] == "ml"

    deleted = http.delete(f"/experiments/{eid}")
    assert deleted.json()["lifecycle"] == "deleted"
    assert "churn-v2" not in names(http, "active")
    assert "churn-v2" in names(http, "deleted")
    assert "churn-v2" in names(http, "all")
    restored = http.post(f"/experiments/{eid}/restore")
    assert restored.json()["lifecycle"] == "active"
    assert "churn-v2" in names(http, "active")
    assert "churn-v2" not in names(http, "deleted")

    missing = http.patch("/experiments/987654", json={"name": "x"})
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def _stored_files(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


def test_a_wrong_digest_header_is_refused_and_nothing_is_kept(
    http: httpx.Client, server_settings: ServerSettings
) -> None:
    rid = http.post("/runs", json={"experiment_name": "digests"}).json()["id"]
    body = b"the real bytes " * 1000
    wrong = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()
    r = http.put(
        f"/runs/{rid}/artifacts/a.bin", content=body, headers={"X-Modelyard-Digest": wrong}
    )
    assert (r.status_code, r.json()["error_code"]) == (400, "DIGEST_MISMATCH")
    assert http.get(f"/runs/{rid}/artifacts").json() == []
    missing = http.get(f"/runs/{rid}/artifacts/a.bin")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert body not in _stored_files(Path(server_settings.artifacts_uri))

    right = "sha256:" + hashlib.sha256(body).hexdigest()
    r = http.put(
        f"/runs/{rid}/artifacts/a.bin", content=body, headers={"X-Modelyard-Digest": right}
    )
    assert r.status_code == 201, r.text
    assert http.get(f"/runs/{rid}/artifacts/a.bin").content == body
    assert body in _stored_files(Path(server_settings.artifacts_uri))
