"""The audit log on a live server with auth on: every write recorded (who, what, from where,
the answer), denials of signed-in callers too, reads and anonymous attempts not; the admin-only
REST API (query, verify, export); the registry's and deployments' history name the caller."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from modelyard.access.entities import Identity, Kind, Role, Scope
from modelyard.access.service import AccessService
from modelyard.server.app import ServerSettings, create_app
from modelyard.server.audit import UNRECORDED, reads
from modelyard.server.background import serve_app
from modelyard.server.guard import WRITES
from modelyard.server.permissions import endpoint_key, walk

PASSWORD = "audit-admin-password"


@dataclass
class Server:
    url: str
    access: AccessService
    admin: httpx.Client  # an admin token
    alice: httpx.Client  # a write token of a user with no grants
    admin_token_id: str
    alice_token_id: str

    def records(self, **params: Any) -> list[dict[str, Any]]:
        answer = self.admin.get("/api/v1/audit", params={"limit": 1000, **params})
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["records"]
        return found

    def last_seq(self) -> int:
        newest = self.admin.get("/api/v1/audit", params={"order": "desc", "limit": 1}).json()
        return int(newest["records"][0]["seq"]) if newest["records"] else 0

    def since(self, seq: int) -> list[dict[str, Any]]:
        return self.records(after_seq=seq)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("audit-server")
    settings = ServerSettings(
        store_uri=f"sqlite:///{folder / 'server.db'}",
        artifacts_uri=str(folder / "artifacts"),
        auth=True,
        admin_password=PASSWORD,
    )
    app = create_app(settings)
    with serve_app(app) as url:
        access: AccessService = app.state.services["access"]
        admin = access.authenticate_password("admin", PASSWORD)
        admin_token, admin_secret = access.create_token("tests", scope=Scope.ADMIN, by=admin)
        access.create_user("alice", "alice-password", by=admin)
        alice_token, alice_secret = access.create_token(
            "alice's", scope=Scope.WRITE, by=admin, owner="alice"
        )
        with (
            httpx.Client(base_url=url, headers=_bearer(admin_secret), timeout=30) as one,
            httpx.Client(base_url=url, headers=_bearer(alice_secret), timeout=30) as two,
        ):
            yield Server(url, access, one, two, admin_token.id, alice_token.id)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def new_run(http: httpx.Client, experiment: str = "audited") -> dict[str, Any]:
    made = http.post("/api/v1/runs", json={"experiment_name": experiment})
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def test_each_write_is_one_record_naming_who_what_and_where(server: Server) -> None:
    start = server.last_seq()
    run = new_run(server.admin)
    rid = run["id"]
    logged = server.admin.post(f"/api/v1/runs/{rid}/log", json={"params": {"lr": "0.1"}})
    assert logged.status_code == 200, logged.text
    points = [{"key": f"m{k}", "values": list(range(500))} for k in range(4)]
    ingested = server.admin.post(
        "/api/v1/ingest", json={"batches": [{"run_id": rid, "metrics": points}]}
    )
    assert ingested.json()["points"] == 2000
    made = server.admin.post("/api/2.0/mlflow/registered-models/create", json={"name": "churn"})
    assert made.status_code == 200, made.text
    records = server.since(start)
    assert [(r["action"], r["object_kind"], r["object_id"], r["status"]) for r in records] == [
        ("POST /api/v1/runs", "", "", 201),
        ("POST /api/v1/runs/{run_id}/log", "run", rid, 200),
        ("POST /api/v1/ingest", "", "", 200),  # one record for 2,000 points
        ("POST /api/2.0/mlflow/registered-models/create", "model", "churn", 200),
    ]
    for record in records:
        assert record["actor"] == "admin"
        assert record["actor_kind"] == "token"
        assert record["token_id"] == server.admin_token_id
        assert record["address"] == "127.0.0.1"
    assert [r["seq"] for r in records] == list(range(start + 1, start + 5))


def test_reads_and_anonymous_or_failed_writes_are_not_recorded(server: Server) -> None:
    rid = new_run(server.admin)["id"]
    start = server.last_seq()
    assert server.admin.get(f"/api/v1/runs/{rid}").status_code == 200
    assert server.admin.post("/api/v1/runs/search", json={}).status_code == 200
    assert server.admin.get("/api/v1/audit/verify").status_code == 200
    assert server.admin.get("/api/v1/audit/export").status_code == 200
    nobody = httpx.post(f"{server.url}/api/v1/runs", json={"experiment_name": "x"})
    assert nobody.status_code == 401
    forged = httpx.delete(f"{server.url}/api/v1/runs/{rid}", headers=_bearer("myt_" + "a" * 60))
    assert forged.status_code == 401
    bad = server.admin.post(f"/api/v1/runs/{rid}/log", json={"params": "not an object"})
    assert bad.status_code == 400
    missing = server.admin.delete("/api/v1/runs/" + "0" * 32)
    assert missing.status_code == 404
    assert server.since(start) == []


def test_a_signed_in_callers_denied_write_is_recorded_with_403(server: Server) -> None:
    rid = new_run(server.admin)["id"]
    start = server.last_seq()
    denied = server.alice.delete(f"/api/v1/runs/{rid}")
    assert denied.status_code == 403
    assert denied.json()["error_code"] == "PERMISSION_DENIED"
    assert server.alice.post("/api/v1/users", json={"name": "bob"}).status_code == 403
    records = server.since(start)
    assert [(r["actor"], r["action"], r["object_id"], r["status"]) for r in records] == [
        ("alice", "DELETE /api/v1/runs/{run_id}", rid, 403),
        ("alice", "POST /api/v1/users", "", 403),
    ]
    assert {r["token_id"] for r in records} == {server.alice_token_id}
    assert server.admin.get(f"/api/v1/runs/{rid}").json()["lifecycle"] == "active"


def test_the_audit_api_is_for_admins(server: Server) -> None:
    for path in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/audit/export"):
        assert server.alice.get(path).status_code == 403, path
        assert httpx.get(server.url + path).status_code == 401, path


def test_grant_changes_carry_before_and_after(server: Server) -> None:
    experiment = new_run(server.admin, "granted")["experiment_id"]
    start = server.last_seq()
    body = {"principal": "user:alice", "kind": "experiment", "resource": str(experiment)}
    first = server.admin.post("/api/v1/grants", json={**body, "role": "viewer"})
    assert first.status_code == 201, first.text
    second = server.admin.post("/api/v1/grants", json={**body, "role": "editor"})
    records = server.records(after_seq=start, action="/grants")
    assert [r["changes"]["before"] for r in records] == [None, first.json()]
    assert [r["changes"]["after"] for r in records] == [first.json(), second.json()]
    assert server.since(start) == records


def test_query_filters_and_bad_parameters(server: Server) -> None:
    server.alice.delete("/api/v1/models/none")  # denied: recorded
    by_alice = server.records(actor="alice")
    assert by_alice
    assert {r["actor"] for r in by_alice} == {"alice"}
    assert all(r["status"] == 403 for r in by_alice)
    everything = server.records()
    at = everything[len(everything) // 2]["at"]
    assert all(r["at"] >= at for r in server.records(since=at))
    assert all(r["at"] < at for r in server.records(until=at))
    for params in (
        {"limit": 0},
        {"limit": 5000},
        {"order": "sideways"},
        {"since": -1},
        {"after_seq": "x"},
    ):
        answer = server.admin.get("/api/v1/audit", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST")
    wrong = server.admin.get("/api/v1/audit/export", params={"format": "xml"})
    assert wrong.status_code == 400


def test_verify_and_export_over_rest(server: Server) -> None:
    new_run(server.admin)
    verified = server.admin.get("/api/v1/audit/verify").json()
    assert verified["ok"] is True
    assert verified["problems"] == []
    assert verified["records"] == verified["head_seq"] == server.last_seq()
    lines = server.admin.get("/api/v1/audit/export").content.splitlines()
    assert len(lines) == verified["records"]
    docs = [orjson.loads(line) for line in lines]
    assert docs[-1]["hash"] == verified["head_hash"]
    for doc in docs:
        claimed = doc.pop("hash")
        assert hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest() == claimed
    exported = server.admin.get("/api/v1/audit/export", params={"format": "csv", "actor": "alice"})
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == 'attachment; filename="audit.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows
    assert [int(r["seq"]) for r in rows] == [r["seq"] for r in server.records(actor="alice")]


def test_registry_and_deployment_history_name_the_caller(server: Server) -> None:
    carol = server.access.create_user("carol", "carol-password", by=_admin(server))
    server.access.grant("user:carol", Kind.SERVER, "", Role.MAINTAINER, by=_admin(server))
    _t, secret = server.access.create_token(
        "carol's", scope=Scope.WRITE, by=_admin(server), owner=carol.name
    )
    with httpx.Client(base_url=server.url, headers=_bearer(secret), timeout=30) as http:
        run = new_run(http, "carol-exp")
        assert run["user"] == "carol"
        made = http.post("/api/2.0/mlflow/registered-models/create", json={"name": "scorer"})
        assert made.status_code == 200, made.text
        body = {"name": "scorer", "source": f"runs:/{run['id']}/model", "run_id": run["id"]}
        assert http.post("/api/2.0/mlflow/model-versions/create", json=body).is_success
        moved = http.put("/api/v1/models/scorer/aliases/champion", json={"version": 1})
        assert moved.status_code == 200, moved.text
        deployed = http.post(
            "/api/v1/deployments", json={"name": "scorer-api", "model": "models:/scorer@champion"}
        )
        assert deployed.status_code == 201, deployed.text
        history = http.get("/api/v1/models/scorer/history").json()
        events = http.get("/api/v1/deployments/scorer-api/history").json()
    assert [e["action"] for e in history][:3] == ["created", "version_created", "alias_set"]
    assert {e["user"] for e in history} == {"carol"}
    assert events
    assert {e["actor"] for e in events} == {"carol"}
    recorded = server.records(actor="carol")
    assert [r["action"] for r in recorded] == [
        "POST /api/v1/runs",
        "POST /api/2.0/mlflow/registered-models/create",
        "POST /api/2.0/mlflow/model-versions/create",
        "PUT /api/v1/models/{name}/aliases/{alias}",
        "POST /api/v1/deployments",
    ]


def _admin(server: Server) -> Identity:
    return server.access.authenticate_password("admin", PASSWORD)


def test_the_chain_holds_after_everything(server: Server) -> None:
    verified = server.admin.get("/api/v1/audit/verify").json()
    assert verified["ok"], verified["problems"]


def test_searches_by_post_are_reads_and_every_unrecorded_route_exists(tmp_path: Path) -> None:
    app = create_app(ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "a")))
    keys, unrecorded = set(), []
    for route in walk(app):
        endpoint = getattr(route, "endpoint", None)
        methods = getattr(route, "methods", None) or set()
        if endpoint is None or not methods & WRITES:
            continue
        keys.add(endpoint_key(endpoint))
        if reads({"route": route}):
            unrecorded.append(endpoint.__name__)
        elif "search" in endpoint.__name__ or "latest" in endpoint.__name__:
            raise AssertionError(f"{endpoint_key(endpoint)} reads but would be recorded")
    assert keys >= UNRECORDED
    assert "heartbeat" in unrecorded
    assert "latest_versions" in unrecorded  # a viewer's route
    assert "ingest" not in unrecorded
