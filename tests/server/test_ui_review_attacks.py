"""Attacks on and edges of the server routes the web UI writes through and reads from (issue 17's
review): concurrent creates, oversized or NUL-bearing text, deletes of what is not there,
cross-site writes, the audit record of a registry edit and the statements a page costs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.access.entities import Kind, Role
from modelyard.tracking.batches import new_run_id
from tests.security._servers import AuthServer, auth_server

API = "/api/v1"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def refused(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error_code"]


@pytest.fixture
def srv(tmp_path: Path, store_uri: str) -> Iterator[AuthServer]:
    """An auth-on server on each backend."""
    with auth_server(tmp_path, store_uri=store_uri) as found:
        yield found


def _run_with_model(admin: httpx.Client, experiment: str) -> tuple[int, str]:
    eid = int(ok(admin.post(f"{API}/experiments", json={"name": experiment}), 201)["id"])
    rid = new_run_id()
    ok(admin.post(f"{API}/runs", json={"run_id": rid, "experiment_id": eid}), 201)
    mlmodel = b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
    ok(admin.put(f"{API}/runs/{rid}/artifacts/model/MLmodel", content=mlmodel), 201)
    return eid, rid


def _at_once(count: int, call: Any) -> list[httpx.Response]:
    """``call(i)`` in ``count`` threads released together; the answers in thread order."""
    start = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def one(i: int) -> None:
        start.wait()
        answers[i] = call(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# ---- 1. two users register the same new model name at once: one makes it, the other is told


@pytest.mark.parametrize("route", ["from-run", "from-logged-model"])
def test_concurrent_registers_of_a_new_name_make_one_model(srv: AuthServer, route: str) -> None:
    racers = 6
    with srv.client(srv.admin_token) as admin:
        eid, rid = _run_with_model(admin, "race")
        body: dict[str, Any] = {"run_id": rid, "path": "model"}
        if route == "from-logged-model":
            made = admin.post(
                "/api/2.0/mlflow/logged-models",
                json={"experiment_id": str(eid), "name": "m", "source_run_id": rid},
            )
            body = {"model_id": ok(made)["model"]["info"]["model_id"]}
    tokens = [srv.user(f"u{i}", [(Kind.EXPERIMENT, str(eid), Role.VIEWER)]) for i in range(racers)]
    clients = [srv.client(t) for t in tokens]
    try:
        for client in clients:  # connected and authenticated before the start
            ok(client.get(f"{API}/experiments/{eid}"))
        answers = _at_once(
            racers, lambda i: clients[i].post(f"{API}/models/race/versions/{route}", json=body)
        )
    finally:
        for client in clients:
            client.close()
    codes = sorted((r.status_code, r.json().get("error_code", "")) for r in answers)
    assert codes == [(201, "")] + [(409, "RESOURCE_ALREADY_EXISTS")] * (racers - 1), codes
    [winner] = [f"u{i}" for i, r in enumerate(answers) if r.status_code == 201]
    with srv.client(srv.admin_token) as admin:
        versions = ok(admin.get(f"{API}/models/race/versions"))["versions"]
        assert [(v["version"], v["user"]) for v in versions] == [(1, winner)]
    maintainers = {
        g.principal_name for g in srv.access.grants(Kind.MODEL, "race") if g.role is Role.MAINTAINER
    }
    assert maintainers == {f"user:{winner}"}


def test_concurrent_registers_of_an_existing_model_number_versions_apart(srv: AuthServer) -> None:
    with srv.client(srv.admin_token) as admin:
        _eid, rid = _run_with_model(admin, "busy")
        body = {"run_id": rid, "path": "model"}
        ok(admin.post(f"{API}/models/busy/versions/from-run", json=body), 201)
        clients = [srv.client(srv.admin_token) for _ in range(6)]
        try:
            answers = _at_once(
                6, lambda i: clients[i].post(f"{API}/models/busy/versions/from-run", json=body)
            )
        finally:
            for client in clients:
                client.close()
        assert sorted(r.status_code for r in answers) == [201] * 6, [r.text for r in answers]
        assert sorted(r.json()["version"] for r in answers) == [2, 3, 4, 5, 6, 7]
        versions = ok(admin.get(f"{API}/models/busy/versions"))["versions"]
        assert [v["version"] for v in versions] == [7, 6, 5, 4, 3, 2, 1]
