"""Alerts through a live server: REST routes and their errors, the server's own schedule
firing a rule to a real webhook receiver (and silencing stopping the next), the SDK over HTTP
and in process, and `modelyard monitor alerts`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from modelyard.cli.app import app
from modelyard.monitoring.alerting import AlertService, rollback_action
from modelyard.monitoring.alerts_client import Alerts
from modelyard.monitoring.notify import Notifier
from modelyard.server.app import ServerSettings
from modelyard.server.domains import BUILT_IN, Domain, Services
from modelyard.store.stores import Stores
from modelyard.testing.server import live_server
from tests.serving.test_deployments_api import make_model

from .test_notify import Hook, webhook

A = "/api/v1/monitoring/alerts"


class Figures:
    """The figure the test's server reads: one value for every rule."""

    value: float | None = None

    def __call__(
        self, _deployment: str, _metric: str, _window_s: int, _now_ms: int
    ) -> float | None:
        return self.value


def with_figures(figures: Figures) -> tuple[Domain, ...]:
    """The built-in domains, the alerts one reading ``figures``."""

    def build(stores: Stores, built: Services) -> AlertService:
        actions = {"rollback": rollback_action(built["deployments"].rollback)}
        notifier = Notifier(timeout=2.0, backoff=0.01)  # reads ALERT_ALLOW_PRIVATE each time
        return AlertService(stores.db, figure=figures, notifier=notifier, actions=actions)

    return tuple(replace(d, build=build) if d.name == "alerts" else d for d in BUILT_IN)


@pytest.fixture
def figures() -> Figures:
    return Figures()


@pytest.fixture
def api(
    store_uri: str, tmp_path: Path, figures: Figures, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch.setenv("MODELYARD_ALERT_INTERVAL", "0.1")
    settings = ServerSettings(store_uri, str(tmp_path / "artifacts"))
    with (
        live_server(settings, with_figures(figures)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        make_model(client, "churn", 2)
        made = client.post(
            "/api/v1/deployments", json={"name": "churn-api", "model": "models:/churn/1"}
        )
        assert made.status_code == 201, made.text
        yield client


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    """A receiver on 127.0.0.1, which the server may reach while ALERT_ALLOW_PRIVATE is on."""
    monkeypatch.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "1")
    with webhook() as receiver:
        yield receiver


def rule_body(hook: Hook, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "errors", "deployment": "churn-api", "metric": "error_rate", "window": "5m",
        "op": ">", "threshold": 0.05, "for": 0, "channels": [{"type": "webhook", "url": hook.url}],
    }  # fmt: skip
    return {**body, **changes}


def wait_for(check: Any, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the server's schedule did not act in time"
        time.sleep(0.05)


def test_the_servers_schedule_fires_once_and_silence_stops_the_next(
    api: httpx.Client, hook: Hook, figures: Figures
) -> None:
    created = api.post(f"{A}/rules", json=rule_body(hook))
    assert created.status_code == 201, created.text
    rule = created.json()
    assert (rule["window_s"], rule["state"], rule["created_by"]) == (300, "ok", "anonymous")

    figures.value = 0.2
    wait_for(lambda: len(hook.got) >= 1)
    time.sleep(0.5)  # several more passes: still exactly one notification
    (got,) = hook.got
    body = got.json()
    assert set(body) >= {"rule", "deployment", "metric", "value", "threshold", "op", "status",
                         "started_at", "url"}  # fmt: skip
    assert (body["rule"], body["deployment"], body["value"], body["status"]) == (
        "errors", "churn-api", 0.2, "firing",
    )  # fmt: skip
    firings = api.get(f"{A}/firings", params={"deployment": "churn-api"}).json()["firings"]
    assert [f["status"] for f in firings] == ["firing"]
    assert api.get(f"{A}/rules/{rule['id']}").json()["state"] == "firing"

    # silenced: the end and the next firing are recorded, and nobody is told
    silenced = api.post(f"{A}/rules/{rule['id']}/silence", json={"minutes": 30})
    assert silenced.status_code == 200, silenced.text
    assert silenced.json()["silenced_until"] > body["started_at"]
    figures.value = 0.0
    wait_for(lambda: api.get(f"{A}/rules/{rule['id']}").json()["state"] == "ok")
    figures.value = 0.3
    wait_for(lambda: len(api.get(f"{A}/firings").json()["firings"]) == 2)
    time.sleep(0.3)
    assert len(hook.got) == 1
    kinds = [e["kind"] for e in api.get(f"{A}/rules/{rule['id']}/events").json()["events"]]
    assert kinds.count("muted") == 2  # the end of the first firing, the start of the second
    assert kinds[:4] == ["created", "firing", "sent", "silenced"]

    # acknowledge and resolve through the API
    newest = api.get(f"{A}/firings", params={"status": "active"}).json()["firings"][0]
    acked = api.post(f"{A}/firings/{newest['id']}/acknowledge", json={})
    assert (acked.status_code, acked.json()["status"]) == (200, "acknowledged")
    done = api.post(f"{A}/firings/{newest['id']}/resolve")
    assert (done.status_code, done.json()["resolved_by"]) == (200, "anonymous")
    again = api.post(f"{A}/firings/{newest['id']}/resolve")
    assert (again.status_code, again.json()["error_code"]) == (409, "INVALID_STATE")
    assert api.post(f"{A}/rules/{rule['id']}/unsilence").json()["silenced_until"] is None


def test_rest_errors_name_the_field(
    api: httpx.Client, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "0")

    def refused(body: dict[str, Any], field: str, status: int = 400) -> dict[str, Any]:
        answer = api.post(f"{A}/rules", json=body)
        assert answer.status_code == status, answer.text
        found: dict[str, Any] = answer.json()
        assert found["details"]["field"] == field, found
        return found

    bad = refused(
        rule_body(hook, channels=[{"type": "webhook", "url": "http://169.254.169.254/x"}]),
        "channels",
    )
    assert bad["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "link-local" in bad["message"]
    refused(
        rule_body(hook, channels=[{"type": "webhook", "url": "http://127.0.0.1/x"}]), "channels"
    )
    refused(rule_body(hook, op="=="), "op")
    refused(rule_body(hook, threshold="high"), "threshold")
    refused(rule_body(hook, window="forever"), "window")
    refused(rule_body(hook, metric="happiness"), "metric")
    refused(rule_body(hook, action="reboot"), "action")
    refused(rule_body(hook, **{"for": "1y"}), "for")
    lost = refused(rule_body(hook, deployment="nope", channels=[]), "deployment", 404)
    assert lost["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    monkeypatch.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "1")  # the receiver is on 127.0.0.1
    made = api.post(f"{A}/rules", json=rule_body(hook))
    assert made.status_code == 201, made.text
    dup = api.post(f"{A}/rules", json=rule_body(hook))
    assert (dup.status_code, dup.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS")
    rid = made.json()["id"]
    patched = api.patch(
        f"{A}/rules/{rid}", json={"channels": [{"type": "slack", "url": "ftp://x"}]}
    )
    assert (patched.status_code, patched.json()["details"]["field"]) == (400, "channels")
    patched = api.patch(f"{A}/rules/{rid}", json={"threshold": 0.5, "for": "2m"})
    assert (patched.json()["threshold"], patched.json()["for_s"]) == (0.5, 120)
    unknown = api.patch(f"{A}/rules/{rid}", json={"colour": "red"})
    assert unknown.status_code == 400
    silence = api.post(f"{A}/rules/{rid}/silence", json={"minutes": -1})
    assert (silence.status_code, silence.json()["details"]["field"]) == (400, "minutes")
    status = api.get(f"{A}/firings", params={"status": "burning"})
    assert (status.status_code, status.json()["details"]["field"]) == (400, "status")

    for method, path in (
        ("GET", f"{A}/rules/999"), ("PATCH", f"{A}/rules/999"), ("DELETE", f"{A}/rules/999"),
        ("POST", f"{A}/rules/999/silence"), ("POST", f"{A}/rules/999/unsilence"),
        ("GET", f"{A}/rules/999/events"), ("POST", f"{A}/firings/999/acknowledge"),
        ("POST", f"{A}/firings/999/resolve"),
    ):  # fmt: skip
        body = {"minutes": 5} if path.endswith("silence") else {}
        answer = api.request(method, path, json=body)
        assert (answer.status_code, answer.json()["error_code"]) == (
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ), path
    assert api.get(f"{A}/rules/abc").status_code == 400

    assert api.delete(f"{A}/rules/{rid}").status_code == 200
    assert [e["kind"] for e in api.get(f"{A}/rules/{rid}/events").json()["events"]][-1] == "deleted"
    assert api.get(f"{A}/rules").json() == {"rules": []}


def test_the_sdk_over_http_and_in_process(api: httpx.Client, hook: Hook, tmp_path: Path) -> None:
    url = str(api.base_url).rstrip("/")
    with Alerts(url) as client:
        r = client.create_rule("p99", "churn-api", "latency_p99_ms", op=">", threshold=250,
                               window="1h", for_s="5m", channels=[{"type": "slack", "url": hook.url}],
                               action="rollback")  # fmt: skip
        assert (r["window_s"], r["for_s"], r["action"]) == (3600, 300, "rollback")
        assert [x["name"] for x in client.rules("churn-api")] == ["p99"]
        assert client.update_rule(r["id"], enabled=False, for_s=0)["enabled"] is False
        assert client.silence(r["id"], 5)["silenced_until"] is not None
        assert client.unsilence(r["id"])["silenced_until"] is None
        assert client.firings(status="active") == []
        kinds = [e["kind"] for e in client.events(r["id"]) if e["kind"] != "no_data"]
        assert kinds == [
            "created",
            "updated",
            "silenced",
            "unsilenced",
        ]
        client.delete_rule(r["id"])
        assert client.rules() == []

    # in process, over an embedded store of its own
    from modelyard.registry.service import RegistryService
    from modelyard.serving.deployments import DeploymentService
    from modelyard.store.stores import open_stores
    from modelyard.tracking.entities import RunCreate
    from modelyard.tracking.service import TrackingService

    store = f"sqlite:///{tmp_path / 'embedded.db'}"
    stores = open_stores(store, str(tmp_path / "artifacts"))
    run = TrackingService(stores.db, stores.artifacts).create_run(
        RunCreate(experiment_name="e"), user="me"
    )
    reg = RegistryService(stores.db, stores.artifacts)
    reg.create_model("churn", user="me")
    reg.create_version("churn", f"runs:/{run.id}/model", run_id=run.id, user="me")
    DeploymentService(stores.db).create("local-api", "models:/churn/1", user="me")
    stores.close()
    with Alerts(store) as local:
        r = local.create_rule("acc", "local-api", "accuracy", op="<", threshold=0.8, window=3600)
        assert local.get_rule(r["id"])["status"] == "ok"
        with pytest.raises(Exception, match="op must be one of"):
            local.create_rule("bad", "local-api", "accuracy", op="!", threshold=1)
        assert [x["name"] for x in local.rules()] == ["acc"]


def test_monitor_alerts_commands(api: httpx.Client, hook: Hook, figures: Figures) -> None:
    url = str(api.base_url).rstrip("/")
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["monitor", "alerts", *args, "-u", url])
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    out = run("create", "errors", "-d", "churn-api", "-m", "error_rate", "--op", ">",
              "-t", "0.05", "--window", "5m", "--webhook", hook.url)  # fmt: skip
    assert "alert rule 1 errors: churn-api error_rate > 0.05 over 300s" in out
    assert "INVALID_PARAMETER_VALUE" in run(
        "create", "x", "-d", "churn-api", "-m", "error_rate", "--op", ">", "-t", "1",
        "--webhook", "ftp://hooks.example.com/x", code=1,
    )  # fmt: skip
    figures.value = 0.5
    wait_for(lambda: len(hook.got) == 1)
    listed = run("list")
    assert "errors" in listed
    assert "firing" in listed
    assert "open firings" in listed
    assert "silenced until" in run("silence", "errors", "--minutes", "10")
    assert "no longer silenced" in run("unsilence", "1")
    assert "acknowledged by anonymous" in run("ack", "1")
    assert "resolved" in run("resolve", "1")
    history = run("history", "errors")
    for text in ("firing", "sent", "silenced", "acknowledged", "resolved"):
        assert text in history
    assert "RESOURCE_DOES_NOT_EXIST" in run("silence", "nope", code=1)
    assert "deleted alert rule 1" in run("delete", "errors")
