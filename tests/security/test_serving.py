"""Serving processes prove their deployment with its serving token; nobody else gets its
logging key, and the URL a heartbeat reports (which the server's probe fetches) names the
process itself. With auth on, the token is also the process's read-only credential."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelyard.access.entities import Kind, Role, Scope
from tests.security._servers import AuthServer, auth_server

BEAT = {"instance": "host:1", "url": "http://127.0.0.1:9001", "versions": {}}


def make_model(api: httpx.Client, name: str) -> None:
    """A registered model with one version (no files)."""
    run = api.post("/api/v1/runs", json={"experiment_name": f"exp-{name}"})
    assert run.status_code == 201, run.text
    made = api.post("/api/2.0/mlflow/registered-models/create", json={"name": name})
    assert made.is_success, made.text
    body = {"name": name, "source": f"runs:/{run.json()['id']}/model", "run_id": run.json()["id"]}
    assert api.post("/api/2.0/mlflow/model-versions/create", json=body).is_success


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("serving"), {"MODELYARD_RATE_LIMIT": "0"}) as found:
        with found.client(found.admin_token) as admin:
            for model in ("churn", "secret-model"):
                make_model(admin, model)
            for name, engine in [("api", "process"), ("ext", "external"), ("other", "process")]:
                model = "secret-model" if name == "other" else "churn"
                body = {"name": name, "model": f"models:/{model}/1", "engine": engine}
                assert admin.post("/api/v1/deployments", json=body).status_code == 201
        yield found


def rotate(server: AuthServer, name: str, body: dict[str, Any] | None = None) -> str:
    with server.client(server.admin_token) as admin:
        made = admin.post(f"/api/v1/deployments/{name}/serving-token", json=body)
        assert made.status_code == 200, made.text
        assert made.headers["Cache-Control"] == "no-store"
        token: str = made.json()["token"]
        return token


def no_key(answer: httpx.Response) -> None:
    assert '"key"' not in answer.text
    assert "mys_" not in answer.text


def test_heartbeats_without_the_serving_token_get_nothing(server: AuthServer) -> None:
    token = rotate(server, "api")
    other = rotate(server, "other")
    with httpx.Client(base_url=server.url) as anyone, server.client(server.admin_token) as admin:
        path = "/api/v1/deployments/api/heartbeat"
        for client, headers in [
            (anyone, {}),
            (anyone, {"X-Serving-Token": ""}),
            (anyone, {"X-Serving-Token": token[:-1]}),
            (anyone, {"X-Serving-Token": other}),  # another deployment's
            (admin, {}),  # even an admin's own credential is not a serving process's
        ]:
            refused = client.post(path, json=BEAT, headers=headers)
            assert refused.status_code == 401, (headers, refused.text)
            assert refused.json()["error_code"] == "UNAUTHENTICATED"
            no_key(refused)
        # unknown deployments answer alike: no names are told
        unknown = anyone.post("/api/v1/deployments/nope/heartbeat", json=BEAT)
        assert (unknown.status_code, unknown.json()["error_code"]) == (401, "UNAUTHENTICATED")
        assert admin.get("/api/v1/deployments/api").json()["instances"] == []  # nothing kept
        good = anyone.post(path, json=BEAT, headers={"X-Serving-Token": token})
        assert good.status_code == 200, good.text
        assert len(good.json()["logging"]["key"]) == 64
        for read in ["/api/v1/deployments", "/api/v1/deployments/api",
                     "/api/v1/deployments/api/history"]:  # fmt: skip
            no_key(admin.get(read))


def test_only_maintainers_rotate_a_serving_token(server: AuthServer) -> None:
    editor = server.user("dep-editor", [(Kind.DEPLOYMENT, "api", Role.EDITOR)])
    maintainer = server.user("dep-maintainer", [(Kind.DEPLOYMENT, "api", Role.MAINTAINER)])
    read_only = server.token("admin-read", scope=Scope.READ)
    path = "/api/v1/deployments/api/serving-token"
    with httpx.Client(base_url=server.url) as anyone:
        assert anyone.post(path).status_code == 401
    for token in (editor, read_only):
        with server.client(token) as client:
            denied = client.post(path)
            assert (denied.status_code, denied.json()["error_code"]) == (403, "PERMISSION_DENIED")
            no_key(denied)
    with server.client(maintainer) as client:
        made = client.post(path, json={"reason": "rotation"})
        assert made.status_code == 200, made.text
        fresh = made.json()["token"]
    with httpx.Client(base_url=server.url) as process:
        beat = process.post("/api/v1/deployments/api/heartbeat", json=BEAT,
                            headers={"X-Serving-Token": fresh})  # fmt: skip
        assert beat.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254:80/latest/meta-data",  # cloud metadata
        "http://10.0.0.1:8080",  # private
        "http://[fe80::1]:8080",  # link-local
        "http://metadata.google.internal:80",  # a name: resolves to anything
        "http://0.0.0.0:8080",
        "http://user:pass@127.0.0.1:8080",
        "http://127.0.0.1:8080/?redirect=http://10.0.0.1",
        "gopher://127.0.0.1:8080",
    ],
)
def test_heartbeat_urls_cannot_point_the_probe_elsewhere(server: AuthServer, url: str) -> None:
    token = rotate(server, "api")
    with httpx.Client(base_url=server.url) as process:
        path = "/api/v1/deployments/api/heartbeat"
        refused = process.post(path, json={**BEAT, "url": url, "instance": "evil:1"},
                               headers={"X-Serving-Token": token})  # fmt: skip
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        no_key(refused)
    with server.client(server.admin_token) as admin:
        urls = [i["url"] for i in admin.get("/api/v1/deployments/api").json()["instances"]]
        assert url not in urls


def test_a_maintainer_sets_where_an_external_deployment_serves(server: AuthServer) -> None:
    with server.client(server.admin_token) as admin:
        refused = admin.post("/api/v1/deployments/api/serving-token",
                             json={"serving_url": "http://api.example:8080"})  # fmt: skip
        assert refused.status_code == 400  # a "process" deployment serves on this host
    token = rotate(server, "ext", {"serving_url": "https://churn.example:8443"})
    beat = {**BEAT, "url": "https://churn.example:8443/v1", "instance": "far:1"}
    with httpx.Client(base_url=server.url) as process:
        path = "/api/v1/deployments/ext/heartbeat"
        ok = process.post(path, json=beat, headers={"X-Serving-Token": token})
        assert ok.status_code == 200, ok.text
        moved = process.post(path, json={**beat, "url": "https://churn.example:9443"},
                             headers={"X-Serving-Token": token})  # fmt: skip
        assert moved.status_code == 400


def test_the_serving_token_reads_its_deployment_s_model_and_nothing_else(
    server: AuthServer,
) -> None:
    token = rotate(server, "api")
    headers = {"X-Serving-Token": token, "X-Serving-Deployment": "api"}
    with httpx.Client(base_url=server.url, headers=headers) as process:
        assert process.get("/api/v1/models/churn/versions/1").status_code == 200
        assert process.get("/api/v1/deployments/api").status_code == 200
        for path in ["/api/v1/models/secret-model/versions/1", "/api/v1/deployments/other"]:
            denied = process.get(path)
            assert (denied.status_code, denied.json()["error_code"]) == (403, "PERMISSION_DENIED")
        listed = process.get("/api/v1/models").json()
        assert [m["name"] for m in listed["models"]] == ["churn"]
        for method, path, body in [
            ("POST", "/api/v1/experiments", {"name": "planted"}),
            ("POST", "/api/v1/deployments/api/traffic", {"traffic": [{"version": 1, "weight": 100}]}),
            ("POST", "/api/v1/deployments/api/serving-token", None),
            ("PUT", "/api/v1/models/churn/aliases/prod", {"version": 1}),
        ]:  # fmt: skip
            denied = process.request(method, path, json=body)
            assert denied.status_code == 403, (path, denied.text)
        wrong = process.get("/api/v1/models/churn/versions/1",
                            headers={"X-Serving-Deployment": "other"})  # fmt: skip
        assert wrong.status_code == 401


def test_heartbeats_need_the_token_with_auth_off_too(tmp_path: Path) -> None:
    with auth_server(tmp_path, auth=False) as server, httpx.Client(base_url=server.url) as http:
        make_model(http, "churn")
        assert http.post("/api/v1/deployments",
                         json={"name": "api", "model": "models:/churn/1"}).status_code == 201  # fmt: skip
        refused = http.post("/api/v1/deployments/api/heartbeat", json=BEAT)
        assert refused.status_code == 401
        no_key(refused)
        token = http.post("/api/v1/deployments/api/serving-token").json()["token"]
        ok = http.post("/api/v1/deployments/api/heartbeat", json=BEAT,
                       headers={"X-Serving-Token": token})  # fmt: skip
        assert ok.status_code == 200
        # auth off: any http(s)://host:port is taken (the server is for this machine only)
        far = http.post("/api/v1/deployments/api/heartbeat",
                        json={**BEAT, "url": "http://10.1.2.3:80"},
                        headers={"X-Serving-Token": token})  # fmt: skip
        assert far.status_code == 200


def wait_for(check: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_supervised_process_serves_with_auth_on_and_restarts_on_a_new_token(
    tmp_path: Path,
) -> None:
    """The server starts the process with its serving token; the process loads its model with
    it (no other credential), heartbeats, serves; a rotated token restarts it."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from modelyard.registry.client import ModelRegistry

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100, 3)), columns=["a", "b", "c"])
    with (
        auth_server(tmp_path, supervise=True) as server,
        pytest.MonkeyPatch.context() as patch,
        server.client(server.admin_token) as admin,
    ):
        patch.setenv("MODELYARD_TOKEN", server.admin_token)  # the test's, not the process's
        with ModelRegistry(server.url) as registry:
            clf = LogisticRegression().fit(frame, frame["a"] > 0)
            registry.log(clf, "churn", input_example=frame[:2])
        made = admin.post("/api/v1/deployments", json={"name": "api", "model": "models:/churn/1"})
        assert made.status_code == 201, made.text

        def ready_instance() -> dict[str, Any] | None:
            for i in admin.get("/api/v1/deployments/api").json()["instances"]:
                if not i["stale"] and i["versions"].get("1", {}).get("state") == "ready":
                    return dict(i)
            return None

        first = wait_for(ready_instance, 120, "the serving process to load v1")
        assert first["url"].startswith("http://127.0.0.1:")
        rows = {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 0, 0], [-1, 0, 0]]}}
        answer = httpx.post(first["url"] + "/predict", json=rows, timeout=30)
        assert answer.status_code == 200, answer.text
        rotate(server, "api")

        def replaced() -> dict[str, Any] | None:
            found = ready_instance()
            return found if found is not None and found["instance"] != first["instance"] else None

        wait_for(replaced, 120, "the process to restart with the new token")
        logs = admin.get("/api/v1/deployments/api/logs").json()["lines"]
        assert not any("mys_" in line or "myt_" in line for line in logs)
