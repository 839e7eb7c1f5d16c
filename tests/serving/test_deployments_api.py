"""The deployments REST API on a live server: create, heartbeat, controller, history, errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.server.app import ServerSettings
from modelyard.serving.entities import LATENCY_BOUNDS_MS
from modelyard.testing.server import live_server

ZERO = [0] * len(LATENCY_BOUNDS_MS)


def make_model(api: httpx.Client, name: str, versions: int) -> None:
    """A registered model with ``versions`` versions (files: none) and champion -> v1."""
    run = api.post("/api/v1/runs", json={"experiment_name": "deploy"}).json()
    assert api.post("/api/2.0/mlflow/registered-models/create", json={"name": name}).is_success
    for _ in range(versions):
        body = {"name": name, "source": f"runs:/{run['id']}/model", "run_id": run["id"]}
        assert api.post("/api/2.0/mlflow/model-versions/create", json=body).is_success
    moved = api.put(f"/api/v1/models/{name}/aliases/champion", json={"version": 1})
    assert moved.is_success, moved.text


@pytest.fixture
def api(store_uri: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with (
        live_server(ServerSettings(store_uri, str(tmp_path / "artifacts"))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        make_model(client, "churn", 3)
        yield client


def serving(api: httpx.Client, name: str) -> dict[str, str]:
    """The headers of a serving process of ``name``: a token made as a maintainer makes one."""
    made = api.post(f"/api/v1/deployments/{name}/serving-token")
    assert made.status_code == 200, made.text
    return {"X-Serving-Token": made.json()["token"]}


def report(*versions: tuple[int, str], requests: int = 0) -> dict[str, Any]:
    return {
        str(v): {"state": state, "error": None, "requests": requests, "errors": 0,
                 "latency_buckets": ZERO, "rps": 0.0}
        for v, state in versions
    }  # fmt: skip


def wait_for(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the controller did not act in time"
        time.sleep(0.05)


def test_blue_green_rollout_driven_by_heartbeats(api: httpx.Client) -> None:
    created = api.post(
        "/api/v1/deployments", json={"name": "churn-api", "model": "models:/churn@champion"}
    )
    assert created.status_code == 201, created.text
    d = created.json()
    assert (d["follow"], d["stable"], d["traffic"]) == (
        "champion",
        1,
        [{"version": 1, "weight": 100.0}],
    )
    token = serving(api, "churn-api")
    beat = {"instance": "host:1", "url": "http://127.0.0.1:9001", "versions": report((1, "ready"))}
    answer = api.post("/api/v1/deployments/churn-api/heartbeat", json=beat, headers=token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["revision"] == 2  # the new serving token was a change

    promoted = api.post(
        "/api/v1/deployments/churn-api/promote", json={"version": 2, "reason": "retrained"}
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["warm"] == [2]
    assert promoted.json()["candidate"]["phase"] == "loading"
    beat["versions"] = report((1, "ready"), (2, "ready"))
    api.post("/api/v1/deployments/churn-api/heartbeat", json=beat, headers=token).raise_for_status()

    def switched() -> bool:
        return bool(api.get("/api/v1/deployments/churn-api").json()["stable"] == 2)

    wait_for(switched)
    shown = api.get("/api/v1/deployments/churn-api").json()
    assert shown["traffic"] == [{"version": 2, "weight": 100.0}]
    assert shown["warm"] == [1]
    assert shown["instances"][0]["instance"] == "host:1"
    assert shown["instances"][0]["stale"] is False
    assert shown["stats"]["2"]["instances"] == {"ready": 1, "loading": 0, "failed": 0}
    events = api.get("/api/v1/deployments/churn-api/history").json()
    assert [(e["actor"], e["action"]) for e in events] == [
        ("anonymous", "create"),
        ("anonymous", "serving-token"),
        ("anonymous", "promote"),
        ("controller", "switch"),
    ]
    assert events[-1]["reason"] == "v2 ready on 1 instance; all traffic moved from v1"
    assert events[-1]["before"]["traffic"] == [{"version": 1, "weight": 100.0}]
    registry = api.get("/api/v1/models/churn/history").json()
    assert [e["detail"]["deployment_action"] for e in registry if e["action"] == "deployment"] == [
        "create", "promote", "switch",
    ]  # fmt: skip

    back = api.post("/api/v1/deployments/churn-api/rollback", json={"reason": "alerts"})
    assert back.status_code == 200, back.text
    assert (back.json()["stable"], back.json()["warm"]) == (1, [2])


def test_traffic_split_and_errors_with_stable_codes(api: httpx.Client) -> None:
    api.post(
        "/api/v1/deployments", json={"name": "ab", "model": "models:/churn/1"}
    ).raise_for_status()
    again = api.post("/api/v1/deployments", json={"name": "ab", "model": "models:/churn/1"})
    assert (again.status_code, again.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS")
    split = {
        "traffic": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}],
        "shadow": [3],
        "sticky_header": "X-User-Id",
        "revision": 1,
    }
    done = api.post("/api/v1/deployments/ab/traffic", json=split)
    assert done.status_code == 200, done.text
    assert (done.json()["shadow"], done.json()["sticky_header"], done.json()["revision"]) == (
        [3], "X-User-Id", 2,
    )  # fmt: skip
    stale = api.post("/api/v1/deployments/ab/traffic", json=split)  # still says revision 1
    assert (stale.status_code, stale.json()["error_code"]) == (409, "CONFLICT")
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "/deployments/ab/traffic", {"traffic": [{"version": 1, "weight": 50}]}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "/deployments/ab/traffic", {"traffic": [{"version": 9, "weight": 100}]}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "/deployments/ab/promote", {"version": 1}, 409, "INVALID_STATE"),
        ("POST", "/deployments/nope/promote", {"version": 1}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "/deployments", {"name": "x", "model": "runs:/abc/model"}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "/deployments", {"name": "x", "model": "models:/churn/7"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("POST", "/deployments/ab/heartbeat", {"instance": "h", "url": "http://127.0.0.1:1", "versions": {"1": {"state": "ready", "latency_buckets": [1]}}}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "/deployments/ab/heartbeat", {"instance": "h", "url": "ftp://h", "versions": {}}, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", "/deployments/ab/heartbeat", {"instance": "h", "url": "http://127.0.0.1:1", "versions": {"x": {"state": "ready", "latency_buckets": ZERO}}}, 400, "INVALID_PARAMETER_VALUE"),
    ]  # fmt: skip
    token = serving(api, "ab")
    for method, path, body, status, code in cases:
        answer = api.request(method, "/api/v1" + path, json=body, headers=token)
        assert (answer.status_code, answer.json()["error_code"]) == (status, code), (path, body)
    assert api.get("/api/v1/deployments/ab").json()["revision"] == 3  # nothing half-written
    assert len(api.get("/api/v1/deployments/ab/history").json()) == 3

    assert api.delete("/api/v1/deployments/ab", params={"reason": "done"}).status_code == 200
    beat = {"instance": "h", "url": "http://127.0.0.1:1"}
    gone = api.post("/api/v1/deployments/ab/heartbeat", json=beat, headers=token)
    assert (gone.status_code, gone.json()["error_code"]) == (401, "UNAUTHENTICATED")
    kept = api.get("/api/v1/deployments/ab/history").json()
    assert [e["action"] for e in kept] == ["create", "set-traffic", "serving-token", "delete"]
    assert kept[-1]["reason"] == "done"
    assert api.get("/api/v1/deployments").json() == {"deployments": []}


def test_logging_policy_set_at_create_changed_later_and_its_key_only_in_heartbeats(
    api: httpx.Client,
) -> None:
    logging = {"exclude": ["email"], "hash": ["user_id"], "sample": 0.5}
    body = {"name": "pii", "model": "models:/churn/1", "engine": "external", "logging": logging}
    created = api.post("/api/v1/deployments", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["logging"] == logging
    beat = {"instance": "h:1", "url": "http://127.0.0.1:9", "versions": {}}
    token = serving(api, "pii")
    policy = api.post("/api/v1/deployments/pii/heartbeat", json=beat, headers=token).json()[
        "logging"
    ]
    key = policy.pop("key")
    assert policy == logging
    assert len(key) == 64
    int(key, 16)
    for shown in (
        api.get("/api/v1/deployments/pii").text,
        api.get("/api/v1/deployments").text,
        api.get("/api/v1/deployments/pii/history").text,
    ):
        assert key not in shown
        assert '"key"' not in shown

    changed = api.post(
        "/api/v1/deployments/pii/logging",
        json={"exclude": ["email", "phone"], "hash": [], "sample": 1, "reason": "GDPR review"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["logging"] == {"exclude": ["email", "phone"], "hash": [], "sample": 1.0}
    assert key not in changed.text
    again = api.post("/api/v1/deployments/pii/heartbeat", json=beat, headers=token).json()[
        "logging"
    ]
    assert again["key"] == key  # hashes keep matching across the change
    assert again["exclude"] == ["email", "phone"]
    last = api.get("/api/v1/deployments/pii/history").json()[-1]
    assert (last["action"], last["reason"]) == ("set-logging", "GDPR review")
    assert last["before"]["logging"] == logging
    assert last["after"]["logging"]["exclude"] == ["email", "phone"]

    for bad, field in [
        ({"exclude": ["a"], "hash": ["a"]}, "logging.hash"),
        ({"sample": 0}, "sample"),
        ({"sample": 1.5}, "sample"),
        ({"exclude": ["x" * 257]}, "exclude"),
        ({"exclude": [""]}, "exclude"),
        ({"exclude": "email"}, "exclude"),
        ({"mask": ["a"]}, "mask"),
    ]:
        got = api.post("/api/v1/deployments/pii/logging", json=bad)
        assert got.status_code == 400, (bad, got.text)
        assert got.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert field in got.text, got.text
    assert api.post("/api/v1/deployments/nope/logging", json={}).status_code == 404
    assert (
        api.get("/api/v1/deployments/pii").json()["revision"] == 3
    )  # create, serving token, logging
