"""Attacks on and edges of the server routes the web UI writes through and reads from (issue 17's
review): concurrent creates, oversized or NUL-bearing text, deletes of what is not there,
cross-site writes, the audit record of a registry edit and the statements a page costs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import event

from modelyard.access.entities import Kind, Role
from modelyard.errors import InvalidInput, NotFound
from modelyard.registry.checks import clean_reason
from modelyard.server.responses import error_response
from modelyard.store.metadata import database
from modelyard.tracking.batches import new_run_id
from tests.security._servers import ADMIN_PASSWORD, AuthServer, auth_server

API = "/api/v1"
JSON = {"content-type": "application/json"}


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


@pytest.fixture
def http(tmp_path: Path, store_uri: str) -> Iterator[httpx.Client]:
    """A client of an auth-off server on each backend, at /api/v1."""
    with (
        auth_server(tmp_path, auth=False, store_uri=store_uri) as found,
        httpx.Client(base_url=f"{found.url}{API}", timeout=30) as client,
    ):
        yield client


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


# ---- 2. reasons and descriptions: bounded text without NUL, refused whole


def _model_with_two_versions(http: httpx.Client) -> str:
    eid = int(ok(http.post("/experiments", json={"name": "texts"}), 201)["id"])
    rid = new_run_id()
    ok(http.post("/runs", json={"run_id": rid, "experiment_id": eid}), 201)
    ok(http.put(f"/runs/{rid}/artifacts/model/MLmodel", content=b"flavors: {}\n"), 201)
    for _ in range(2):
        ok(http.post("/models/clf/versions/from-run", json={"run_id": rid, "path": "model"}), 201)
    ok(http.put("/models/clf/aliases/champion", json={"version": 1, "reason": "first"}))
    ok(http.put("/models/clf/aliases/champion", json={"version": 2, "reason": "better"}))
    ok(http.put("/models/clf/tags/team", json={"value": "core", "reason": "owner"}))
    ok(http.put("/models/clf/versions/1/tags/split", json={"value": "v1", "reason": "data"}))
    return rid


def _edits(reason: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every registry write of the UI that carries a reason, as (method, path, request args)."""
    body = {"reason": reason}
    query = {"params": {"reason": reason}}
    return [
        ("PUT", "/models/clf/aliases/champion", {"json": {"version": 1, **body}}),
        ("DELETE", "/models/clf/aliases/champion", query),
        ("POST", "/models/clf/aliases/champion/rollback", {"json": body}),
        ("PATCH", "/models/clf/versions/1", {"json": {"stage": "Staging", **body}}),
        ("PATCH", "/models/clf/versions/1", {"json": {"description": "d", **body}}),
        ("PATCH", "/models/clf", {"json": {"description": "d", **body}}),
        ("PUT", "/models/clf/tags/team", {"json": {"value": "x", **body}}),
        ("DELETE", "/models/clf/tags/team", query),
        ("PUT", "/models/clf/versions/1/tags/split", {"json": {"value": "x", **body}}),
        ("DELETE", "/models/clf/versions/1/tags/split", query),
        ("DELETE", "/models/clf/versions/2", query),
    ]


def _registry_state(http: httpx.Client) -> Any:
    return (
        ok(http.get("/models/clf")),
        ok(http.get("/models/clf/versions")),
        ok(http.get("/models/clf/history")),
    )


def test_reasons_and_descriptions_are_bounded_text_and_refused_whole(http: httpx.Client) -> None:
    rid = _model_with_two_versions(http)
    before = _registry_state(http)
    too_long = "r" * 1_001
    for reason in (too_long, "why\x00not"):
        for method, path, args in _edits(reason):
            answer = http.request(method, path, **args)
            assert refused(answer) == (400, "INVALID_PARAMETER_VALUE"), (method, path, answer.text)
            assert answer.json()["details"]["field"] == "reason"
    big = "d" * 100_001
    for text in (big, "a\x00b"):
        for path in ("/models/clf", "/models/clf/versions/1"):
            answer = http.patch(path, json={"description": text, "reason": "ok"})
            assert refused(answer) == (400, "INVALID_PARAMETER_VALUE"), answer.text
            assert answer.json()["details"]["field"] == "description"
        register = {"run_id": rid, "path": "model", "description": text}
        assert refused(http.post("/models/clf/versions/from-run", json=register))[0] == 400
        assert refused(http.post("/models/new/versions/from-run", json=register))[0] == 400
    lone = '{"version": 1, "description": "\\ud800", "reason": "\\udfff"}'  # JSON escapes
    for path in ("/models/clf/aliases/champion", "/models/clf"):
        method = "PUT" if "aliases" in path else "PATCH"
        assert http.request(method, path, content=lone, headers=JSON).status_code == 400
    assert _registry_state(http) == before  # nothing half-written, no history event
    assert http.get("/models/new").status_code == 404
    # the limits themselves are allowed
    ok(http.patch("/models/clf", json={"description": "d" * 100_000, "reason": "r" * 1_000}))
    [*_, last] = ok(http.get("/models/clf/history"))
    assert (last["action"], last["detail"]["reason"]) == ("description_changed", "r" * 1_000)


@pytest.mark.parametrize("text", ["\ud800", "a\x00", "r" * 1_001])
def test_a_reason_a_local_store_gets_is_checked_too(text: str) -> None:
    with pytest.raises(InvalidInput, match="reason"):
        clean_reason(text)
    assert clean_reason("  why  ") == "why"


# ---- 3. deleting a tag that is not there is a 404, and changes nothing


def test_deleting_a_missing_tag_is_not_found(http: httpx.Client) -> None:
    rid = _model_with_two_versions(http)
    ok(http.post(f"/runs/{rid}/log", json={"tags": {"kept": "yes"}}))
    before = _registry_state(http), ok(http.get(f"/runs/{rid}"))["tags"]
    for path in (
        f"/runs/{rid}/tags/nope",
        "/models/clf/tags/nope",
        "/models/clf/versions/1/tags/nope",
        "/models/clf/versions/2/tags/split",  # version 1's tag, not version 2's
    ):
        answer = http.delete(path, params={"reason": "tidy"})
        assert refused(answer) == (404, "RESOURCE_DOES_NOT_EXIST"), (path, answer.text)
    assert (_registry_state(http), ok(http.get(f"/runs/{rid}"))["tags"]) == before
    assert http.delete(f"/runs/{rid}/tags/kept").status_code == 204
    assert refused(http.delete(f"/runs/{rid}/tags/kept")) == (404, "RESOURCE_DOES_NOT_EXIST")


# ---- 4. a version archived by another's promotion keeps the reason in the history


def test_archived_versions_keep_the_stage_change_reason(http: httpx.Client) -> None:
    _model_with_two_versions(http)
    ok(http.patch("/models/clf/versions/1", json={"stage": "Production", "reason": "launch"}))
    promote = {"stage": "Production", "archive_others": True, "reason": "v2 beats v1 by 3%"}
    ok(http.patch("/models/clf/versions/2", json=promote))
    assert ok(http.get("/models/clf/versions/1"))["stage"] == "Archived"
    changes = [
        (e["version"], e["detail"]["new"], e["detail"]["reason"])
        for e in ok(http.get("/models/clf/history"))
        if e["action"] == "stage_changed"
    ]
    assert changes == [
        (1, "Production", "launch"),
        (2, "Production", "v2 beats v1 by 3%"),
        (1, "Archived", "v2 beats v1 by 3%"),
    ]


# ---- 5. the audit log keeps a registry edit's reason and where it came from


def test_registry_edits_are_audited_with_reason_and_source(srv: AuthServer) -> None:
    browser = {"Origin": srv.url, "Sec-Fetch-Site": "same-origin"}
    token = {"Authorization": f"Bearer {srv.admin_token}"}
    with httpx.Client(base_url=f"{srv.url}{API}", headers=token, timeout=30) as api:
        _model_with_two_versions(api)
        edits: list[tuple[str, str, dict[str, Any]]] = [
            ("PUT", "/models/clf/aliases/prod", {"json": {"version": 1, "reason": "go"}}),
            ("PATCH", "/models/clf/versions/2", {"json": {"stage": "Staging", "reason": "qa"}}),
            ("DELETE", "/models/clf/tags/team", {"params": {"reason": "no owner"}}),
        ]
        for method, path, args in edits:
            ok(api.request(method, path, headers=browser, **args))
        ok(api.patch("/models/clf", json={"description": "d", "reason": "by script"}))
        refused_edit = api.patch("/models/clf", json={"description": "d", "reason": "r" * 1_001})
        assert refused_edit.status_code == 400
        records = ok(api.get("/audit", params={"limit": 100}))["records"]
    noted = [
        (r["action"].split(" ", 1)[0], r["object_id"], r["changes"])
        for r in records
        if r["object_kind"] == "model" and "reason" in r["changes"]
    ]
    assert noted[-4:] == [
        ("PUT", "clf", {"alias": "prod", "version": 1, "reason": "go", "source": "ui"}),
        ("PATCH", "clf", {"version": 2, "stage": "Staging", "reason": "qa", "source": "ui"}),
        ("DELETE", "clf", {"key": "team", "reason": "no owner", "source": "ui"}),
        ("PATCH", "clf", {"reason": "by script", "source": "api"}),
    ]


# ---- 6, 12. the pages that name runs and list a run's models cost the same for 1 row or 12


@pytest.fixture
def quiet(tmp_path: Path, store_uri: str) -> Iterator[AuthServer]:
    """An auth-off server without its periodic sweep, so every statement is a request's."""
    env = {"MODELYARD_HEARTBEAT_TIMEOUT": "0"}
    with auth_server(tmp_path, env, auth=False, store_uri=store_uri) as found:
        yield found


@contextmanager
def statements(srv: AuthServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement the server's store runs meanwhile: through SQLAlchemy (its cursor
    event) and on the driver's cursor (``database.Prepared``)."""
    seen: list[str] = []
    engine = srv.app.state.services["tracking"].db.engine

    def executed(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    real = database._on_cursor

    def on_cursor(conn: Any, sql: str, args: Any, *, many: bool) -> list[Any]:
        seen.append(sql)
        return real(conn, sql, args, many=many)

    event.listen(engine, "before_cursor_execute", executed)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(database, "_on_cursor", on_cursor)
            yield seen
    finally:
        event.remove(engine, "before_cursor_execute", executed)


def _logged_model(http: httpx.Client, eid: int, rid: str, name: str) -> str:
    body = {"experiment_id": str(eid), "name": name, "source_run_id": rid}
    made = ok(http.post("/api/2.0/mlflow/logged-models", json=body))
    model_id = str(made["model"]["info"]["model_id"])
    metric = {"run_id": rid, "key": "acc", "value": 0.9, "timestamp": 1, "model_id": model_id}
    ok(http.post("/api/2.0/mlflow/runs/log-metric", json=metric))
    return model_id


def _world(http: httpx.Client, experiment: str, runs: int, models_per_run: int) -> dict[str, Any]:
    """An experiment of ``runs`` runs, each with logged models, every model registered as a
    version of one model, and the first run reading every other run's models."""
    eid = int(ok(http.post(f"{API}/experiments", json={"name": experiment}), 201)["id"])
    rids, models = [], []
    for i in range(runs):
        rid = new_run_id()
        ok(
            http.post(f"{API}/runs", json={"run_id": rid, "experiment_id": eid, "name": f"r{i}"}),
            201,
        )
        rids.append(rid)
        models += [_logged_model(http, eid, rid, f"m{i}-{j}") for j in range(models_per_run)]
    read = [{"model_id": m} for m in models[models_per_run:]]
    ok(http.post("/api/2.0/mlflow/runs/log-inputs", json={"run_id": rids[0], "models": read}))
    for model_id in models:
        body = {"model_id": model_id}
        ok(http.post(f"{API}/models/{experiment}/versions/from-logged-model", json=body), 201)
    return {"experiment": eid, "runs": rids, "models": models}


def test_pages_naming_runs_cost_a_constant_number_of_statements(
    quiet: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    costs: dict[str, list[int]] = {}
    with httpx.Client(base_url=quiet.url, timeout=30) as http:
        for size in (1, 12):
            w = _world(http, f"w{size}", runs=size, models_per_run=2)
            pages = {
                "run's models": f"{API}/runs/{w['runs'][0]}/logged-models",
                "experiment's models": f"{API}/experiments/{w['experiment']}/logged-models",
                "model's versions": f"{API}/models/w{size}/versions",
            }
            for page, path in pages.items():
                counts = []
                for _ in range(3):  # the fewest: a request on a pooled connection opened
                    with statements(quiet, monkeypatch) as seen:  # for it also sets it up
                        answer = ok(http.get(path))
                    counts.append(len(seen))
                costs.setdefault(page, []).append(min(counts))
            mine = answer["versions"]
            assert {v["run_name"] for v in mine} == {f"r{i}" for i in range(size)}
            found = ok(http.get(pages["run's models"]))
            assert sorted(m["id"] for m in found["outputs"]) == sorted(w["models"][:2])
            assert sorted(m["id"] for m in found["inputs"]) == sorted(w["models"][2:])
            assert {m["run_name"] for m in found["inputs"]} == {f"r{i}" for i in range(1, size)}
            assert all(m["metrics"][0]["value"] == 0.9 for m in found["outputs"] + found["inputs"])
    for page, (small, big) in costs.items():
        assert small == big, (page, costs)
        assert big <= 10, (page, costs)


def test_a_versions_run_name_shows_only_to_readers_of_its_experiment(srv: AuthServer) -> None:
    with srv.client(srv.admin_token) as admin:
        eid, rid = _run_with_model(admin, "secret-exp")
        ok(admin.patch(f"{API}/runs/{rid}", json={"name": "secret-run"}))
        body = {"run_id": rid, "path": "model"}
        ok(admin.post(f"{API}/models/shown/versions/from-run", json=body), 201)
    model_only = srv.user("model-only", [(Kind.MODEL, "shown", Role.VIEWER)])
    both = srv.user(
        "both", [(Kind.MODEL, "shown", Role.VIEWER), (Kind.EXPERIMENT, str(eid), Role.VIEWER)]
    )
    with srv.client(model_only) as client:
        [version] = ok(client.get(f"{API}/models/shown/versions"))["versions"]
    assert (version["run_id"], version["run_name"]) == (rid, None)
    with srv.client(both) as client:
        [version] = ok(client.get(f"{API}/models/shown/versions"))["versions"]
    assert version["run_name"] == "secret-run"


# ---- 7. saved views: at most 200 an experiment, names and query strings checked


def test_an_experiment_holds_at_most_200_saved_views(http: httpx.Client) -> None:
    eid = int(ok(http.post("/experiments", json={"name": "views"}), 201)["id"])
    other = int(ok(http.post("/experiments", json={"name": "other"}), 201)["id"])
    base = f"/experiments/{eid}/views"
    made = [
        ok(http.post(base, json={"name": f"v{i}", "query": f"sort=m{i}"}), 201) for i in range(200)
    ]
    over = http.post(base, json={"name": "one more", "query": "sort=x"})
    assert refused(over) == (409, "CONFLICT"), over.text
    assert "200" in over.json()["message"]
    assert len(ok(http.get(base))) == 200
    ok(http.post(f"/experiments/{other}/views", json={"name": "v0"}), 201)  # per experiment
    assert http.delete(f"{base}/{made[0]['id']}").status_code == 204
    ok(http.post(base, json={"name": "one more", "query": "sort=x"}), 201)
    for body in (
        {"name": "nul\x00name", "query": ""},
        {"name": "ok", "query": "filter=a\x00b"},
        {"name": "x" * 201, "query": ""},
        {"name": "ok", "query": 3},
    ):
        answer = http.post(f"/experiments/{other}/views", json=body)
        assert refused(answer) == (400, "INVALID_PARAMETER_VALUE"), (body, answer.text)
    assert [v["name"] for v in ok(http.get(f"/experiments/{other}/views"))] == ["v0"]


# ---- 8. NUL in a name or value: the same 400 on both stores (PostgreSQL's text cannot hold it)

NUL = "a\x00b"


def _nul_writes(rid: str, eid: int) -> dict[str, tuple[str, str, Any]]:
    mlflow = "/api/2.0/mlflow"
    return {
        "param value": ("POST", f"{API}/runs/{rid}/log", {"params": {"p": NUL}}),
        "param key": ("POST", f"{API}/runs/{rid}/log", {"params": {NUL: "v"}}),
        "tag value": ("POST", f"{API}/runs/{rid}/log", {"tags": {"t": NUL}}),
        "tag key": ("POST", f"{API}/runs/{rid}/log", {"tags": {NUL: "v"}}),
        "run name": ("PATCH", f"{API}/runs/{rid}", {"name": NUL}),
        "run notes": ("PATCH", f"{API}/runs/{rid}", {"notes": NUL}),
        "experiment description": ("PATCH", f"{API}/experiments/{eid}", {"description": NUL}),
        "experiment tag": ("PUT", f"{API}/experiments/{eid}/tags/k", {"value": NUL}),
        "model card": ("PUT", f"{API}/models/clf/card", {"card": NUL}),
        "mlflow param": (
            "POST",
            f"{mlflow}/runs/log-parameter",
            {"run_id": rid, "key": NUL, "value": "v"},
        ),
        "mlflow tag": ("POST", f"{mlflow}/runs/set-tag", {"run_id": rid, "key": "k", "value": NUL}),
        "mlflow dataset source": (
            "POST",
            f"{mlflow}/runs/log-inputs",
            {"run_id": rid, "datasets": [{"dataset": {"name": "d", "digest": "x", "source": NUL}}]},
        ),
        "mlflow input tag": (
            "POST",
            f"{mlflow}/runs/log-inputs",
            {
                "run_id": rid,
                "datasets": [
                    {"dataset": {"name": "d", "digest": "x"}, "tags": [{"key": "t", "value": NUL}]}
                ],
            },
        ),
    }


def test_nul_in_a_name_or_value_is_refused_alike_on_both_stores(quiet: AuthServer) -> None:
    with (
        httpx.Client(base_url=quiet.url, timeout=30) as http,
        httpx.Client(base_url=f"{quiet.url}{API}", timeout=30) as api,
    ):
        rid = _model_with_two_versions(api)
        run = ok(api.get(f"/runs/{rid}"))
        state = [f"/runs/{rid}", "/experiments", "/models/clf", "/models/clf/history", "/datasets"]
        before = [ok(api.get(path)) for path in state]
        for write, (method, path, body) in _nul_writes(rid, run["experiment_id"]).items():
            answer = http.request(method, path, json=body)
            assert refused(answer) == (400, "INVALID_PARAMETER_VALUE"), (write, answer.text)
            message = answer.json()["message"]
            assert "NUL" in message or "control characters" in message, (write, message)
        assert [ok(api.get(path)) for path in state] == before  # nothing written


# ---- 9. an error naming undecodable bytes is still a valid JSON answer


def test_the_servers_error_answer_is_valid_json_whatever_the_message_names() -> None:
    name = b"caf\xe9.csv".decode("utf-8", "surrogateescape")  # an undecodable file name
    error = NotFound(f"no file {name}", path=name, lone="\ud800")
    body = error_response(error.status, error.code, error.message, error.details).body
    assert orjson.loads(body) == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "no file caf\\xe9.csv",
        "details": {"path": "caf\\xe9.csv", "lone": "\\ud800"},
    }


# ---- 10. the UI's write routes refuse what another site's page sends with the user's cookie


def _ui_writes(rid: str, eid: int, view: int) -> list[tuple[str, str, Any]]:
    model = {"run_id": rid, "path": "model"}
    return [
        ("PATCH", f"/runs/{rid}", {"name": "renamed"}),
        ("PATCH", f"/runs/{rid}", {"notes": "owned"}),
        ("POST", f"/runs/{rid}/log", {"tags": {"evil": "1"}}),
        ("DELETE", f"/runs/{rid}/tags/keep", None),
        ("DELETE", f"/runs/{rid}", None),
        ("POST", f"/runs/{rid}/restore", None),
        ("POST", "/experiments", {"name": "evil"}),
        ("PATCH", f"/experiments/{eid}", {"name": "evil"}),
        ("DELETE", f"/experiments/{eid}", None),
        ("PATCH", "/models/clf", {"description": "evil", "reason": "r"}),
        ("PUT", "/models/clf/tags/evil", {"value": "1", "reason": "r"}),
        ("DELETE", "/models/clf/tags/team", None),
        ("PATCH", "/models/clf/versions/1", {"stage": "Production", "reason": "r"}),
        ("PUT", "/models/clf/versions/1/tags/evil", {"value": "1", "reason": "r"}),
        ("PUT", "/models/clf/aliases/champion", {"version": 1, "reason": "r"}),
        ("DELETE", "/models/clf/aliases/champion", None),
        ("POST", "/models/clf/versions/from-run", model),
        ("PUT", "/models/clf/card", {"card": "evil"}),
        ("POST", f"/experiments/{eid}/views", {"name": "evil"}),
        ("PATCH", f"/experiments/{eid}/views/{view}", {"name": "evil"}),
        ("DELETE", f"/experiments/{eid}/views/{view}", None),
    ]


def test_the_ui_write_routes_refuse_cross_site_requests(tmp_path: Path) -> None:
    with (
        auth_server(tmp_path) as srv,
        httpx.Client(base_url=f"{srv.url}{API}", timeout=30) as browser,
        httpx.Client(base_url=f"{srv.url}{API}", timeout=30) as admin,
    ):
        admin.headers["Authorization"] = f"Bearer {srv.admin_token}"
        rid = _model_with_two_versions(admin)
        ok(admin.post(f"/runs/{rid}/log", json={"tags": {"keep": "1"}}))
        eid = ok(admin.get(f"/runs/{rid}"))["experiment_id"]
        view = ok(admin.post(f"/experiments/{eid}/views", json={"name": "mine"}), 201)["id"]
        login = ok(browser.post("/auth/login", json={"name": "admin", "password": ADMIN_PASSWORD}))
        csrf = login["csrf"]
        state = [f"/runs/{rid}", "/experiments", "/models/clf", f"/experiments/{eid}/views"]
        before = [ok(admin.get(path)) for path in state]
        attacks = {
            "foreign origin": {"Origin": "https://evil.example", "x-csrf-token": csrf},
            "sandboxed frame": {"Origin": "null", "x-csrf-token": csrf},
            "cross-site fetch": {"Sec-Fetch-Site": "cross-site", "x-csrf-token": csrf},
            "no csrf token": {},
            "wrong csrf token": {"x-csrf-token": "guess"},
        }
        for attack, headers in attacks.items():
            for method, path, body in _ui_writes(rid, eid, view):
                answer = browser.request(method, path, json=body, headers=headers)
                assert refused(answer) == (403, "CROSS_SITE_REQUEST"), (attack, method, path)
        assert [ok(admin.get(path)) for path in state] == before  # nothing written
        # the same page of this server, with the session's token, may write
        same = {"Origin": srv.url, "Sec-Fetch-Site": "same-origin", "x-csrf-token": csrf}
        ok(browser.patch(f"/runs/{rid}", json={"name": "renamed"}, headers=same))
