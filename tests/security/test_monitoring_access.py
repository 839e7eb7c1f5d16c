"""Deployments, monitoring and alerts obey the same rules as the rest: listings show only what
the caller may read (a deployment by its own grants, an SDK-monitored model by the model's),
the creator of a deployment maintains it, a deleted deployment's grants go with it; /metrics is
open on loopback and needs a server viewer's token from any other address."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from modelyard.access.entities import Kind, Role, Scope
from tests import aio
from tests.security._servers import AuthServer, auth_server
from tests.security.test_serving import make_model

ROWS = {"columns": ["x"], "data": [[1.0], [2.0]], "predictions": [0, 1]}


def rule(name: str, deployment: str) -> dict[str, object]:
    return {
        "name": name,
        "deployment": deployment,
        "metric": "accuracy",
        "window": "1h",
        "op": ">=",
        "threshold": 0,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """Models churn (alice maintains it) and secret-model; the admin's deployments of each,
    predictions logged for both models, an alert rule on every monitored name."""
    folder = tmp_path_factory.mktemp("monitoring-access")
    with auth_server(folder, {"MODELYARD_RATE_LIMIT": "0"}) as found:
        with found.client(found.admin_token) as admin:
            for model in ("churn", "secret-model"):
                make_model(admin, model)
                path = f"/api/v1/monitoring/deployments/{model}"
                logged = admin.post(f"{path}/predictions", json=ROWS)
                assert logged.status_code == 201, logged.text
                labels = [{"request_id": i, "label": 1} for i in logged.json()["ids"]]
                assert admin.post(f"{path}/labels", json={"labels": labels}).is_success
            for name, model in [("api", "churn"), ("hidden", "secret-model")]:
                body = {"name": name, "model": f"models:/{model}/1", "engine": "external"}
                assert admin.post("/api/v1/deployments", json=body).status_code == 201
            for target in ("churn", "secret-model", "api", "hidden"):
                made = admin.post("/api/v1/monitoring/alerts/rules", json=rule(target, target))
                assert made.status_code == 201, made.text
        found.user("alice", [(Kind.MODEL, "churn", Role.MAINTAINER)])
        yield found


@pytest.fixture(scope="module")
def alice(server: AuthServer) -> Iterator[httpx.Client]:
    token = server.token("alice-read-write", user="alice")
    with server.client(token) as client:
        body = {"name": "mine", "model": "models:/churn/1", "engine": "external"}
        made = client.post("/api/v1/deployments", json=body)
        assert made.status_code == 201, made.text
        assert client.post("/api/v1/monitoring/alerts/rules", json=rule("m", "mine")).is_success
        yield client


def names(answer: httpx.Response, key: str, field: str = "name") -> set[str]:
    assert answer.status_code == 200, answer.text
    return {item[field] for item in answer.json()[key]}


def test_a_deployment_s_creator_maintains_it_and_lists_only_what_she_reads(
    server: AuthServer, alice: httpx.Client
) -> None:
    assert names(alice.get("/api/v1/deployments"), "deployments") == {"mine"}
    assert alice.get("/api/v1/deployments/mine").status_code == 200
    assert alice.post("/api/v1/deployments/mine/serving-token", json={}).status_code == 200
    for other in ("api", "hidden"):
        refused = alice.get(f"/api/v1/deployments/{other}")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error_code"] == "PERMISSION_DENIED"
    with server.client(server.admin_token) as admin:
        assert names(admin.get("/api/v1/deployments"), "deployments") == {"api", "hidden", "mine"}


def test_the_monitoring_overview_shows_readable_deployments_and_models(
    server: AuthServer, alice: httpx.Client
) -> None:
    seen = names(alice.get("/api/v1/monitoring/deployments"), "deployments")
    assert seen == {"mine", "churn"}  # her deployment, and the model she maintains
    assert "secret-model" not in alice.get("/api/v1/monitoring/deployments").text
    with server.client(server.admin_token) as admin:
        everything = names(admin.get("/api/v1/monitoring/deployments"), "deployments")
    assert {"api", "hidden", "mine", "churn", "secret-model"} <= everything


def test_alert_rules_and_firings_list_only_readable_targets(
    server: AuthServer, alice: httpx.Client
) -> None:
    alerts = server.app.state.services["alerts"]
    alerts.evaluate()
    with server.client(server.admin_token) as admin:
        every_rule = names(admin.get("/api/v1/monitoring/alerts/rules"), "rules", "deployment")
        fired = names(admin.get("/api/v1/monitoring/alerts/firings"), "firings", "deployment")
    assert every_rule == {"churn", "secret-model", "api", "hidden", "mine"}
    assert {"churn", "secret-model"} <= fired  # predictions were logged for both models

    mine = names(alice.get("/api/v1/monitoring/alerts/rules"), "rules", "deployment")
    assert mine == {"churn", "mine"}
    her_firings = names(alice.get("/api/v1/monitoring/alerts/firings"), "firings", "deployment")
    assert her_firings <= {"churn", "mine"}
    assert "churn" in her_firings
    asked = alice.get("/api/v1/monitoring/alerts/rules", params={"deployment": "secret-model"})
    assert names(asked, "rules", "deployment") == set()  # asking by name reveals nothing


def test_a_deleted_deployment_s_grants_do_not_pass_to_a_namesake(
    server: AuthServer, alice: httpx.Client
) -> None:
    body = {"name": "short-lived", "model": "models:/churn/1", "engine": "external"}
    assert alice.post("/api/v1/deployments", json=body).status_code == 201
    assert alice.delete("/api/v1/deployments/short-lived").status_code == 200
    with server.client(server.admin_token) as admin:
        again = {**body, "model": "models:/secret-model/1"}
        assert admin.post("/api/v1/deployments", json=again).status_code == 201
    assert alice.get("/api/v1/deployments/short-lived").status_code == 403
    assert "short-lived" not in names(alice.get("/api/v1/deployments"), "deployments")


def scrape(server: AuthServer, address: str, token: str | None = None) -> httpx.Response:
    """GET /metrics as if from ``address``, on the running server's own app."""
    transport = httpx.ASGITransport(app=server.app, client=(address, 40000))
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url=server.url) as client:
            return await client.get("/metrics", headers=headers)

    return aio.run(get())


def test_metrics_is_open_on_loopback_and_needs_a_server_viewer_elsewhere(
    server: AuthServer,
) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        local = anonymous.get("/metrics")
    assert local.status_code == 200
    assert "modelyard_http_requests_total" in local.text
    assert scrape(server, "::1").status_code == 200

    far = scrape(server, "203.0.113.9")
    assert far.status_code == 401
    assert far.json()["error_code"] == "UNAUTHENTICATED"
    assert "modelyard_" not in far.text
    assert scrape(server, "203.0.113.9", "myt_made_up_token").status_code == 401
    alice_token = server.token("alice-metrics", user="alice")
    refused = scrape(server, "203.0.113.9", alice_token)
    assert refused.status_code == 403
    assert refused.json()["error_code"] == "PERMISSION_DENIED"

    server.access.create_user("prometheus", "prometheus-password", by=server.admin)
    server.access.grant("user:prometheus", Kind.SERVER, "", Role.VIEWER, by=server.admin)
    scraper = server.token("scraper", scope=Scope.READ, user="prometheus")
    allowed = scrape(server, "203.0.113.9", scraper)
    assert allowed.status_code == 200
    assert "modelyard_http_requests_total" in allowed.text
    assert scrape(server, "203.0.113.9", server.admin_token).status_code == 200
