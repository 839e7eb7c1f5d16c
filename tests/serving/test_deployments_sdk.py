"""``my.deployments`` both ways: over HTTP to a live server, and in process on an embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import modelyard as my
from modelyard import embedded
from modelyard.errors import Conflict, InvalidInput, NotFound
from modelyard.server.app import ServerSettings
from modelyard.serving.client import Deployments
from modelyard.testing.server import live_server
from modelyard.tracking.entities import RunCreate
from modelyard.users import local_user
from tests.serving.test_deployments_api import make_model

pytestmark = pytest.mark.usefixtures("fresh_sdk")


def _embedded_model(uri: str) -> None:
    services = embedded.acquire(uri)
    try:
        run = services.tracking.create_run(RunCreate(experiment_name="deploy"), user="u")
        services.registry.create_model("churn", user="u")
        for _ in range(3):
            services.registry.create_version(
                "churn", f"runs:/{run.id}/model", run_id=run.id, user="u"
            )
        services.registry.set_alias("churn", "champion", 1, "u")
    finally:
        embedded.release(services)


@pytest.fixture(params=["http", "embedded"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "embedded":
        store = f"sqlite:///{tmp_path / 'store.db'}"
        _embedded_model(store)
        yield store
        return
    with live_server(
        ServerSettings(f"sqlite:///{tmp_path / 'server.db'}", str(tmp_path / "a"))
    ) as url:
        with httpx.Client(base_url=url) as api:
            make_model(api, "churn", 3)
        yield url


def test_the_sdk_round_trip(uri: str) -> None:
    my.set_tracking_uri(uri)
    created = my.deployments.create(
        "churn-api", "models:/churn@champion", rollout={"strategy": "canary", "steps": [20, 100]}
    )
    assert (created["follow"], created["stable"], created["rollout"]["steps"]) == (
        "champion",
        1,
        [20, 100],
    )
    assert [d["name"] for d in my.deployments.list()] == ["churn-api"]

    ab = my.deployments.set_traffic(
        "churn-api", {1: 90, 2: 10}, sticky_header="X-User-Id", reason="A/B"
    )
    assert ab["traffic"] == [{"version": 1, "weight": 90.0}, {"version": 2, "weight": 10.0}]
    assert ab["sticky_header"] == "X-User-Id"
    kept = my.deployments.set_traffic("churn-api", {1: 100}, shadow=[3])
    assert (kept["sticky_header"], kept["shadow"]) == ("X-User-Id", [3])  # left out: unchanged
    with pytest.raises(Conflict, match="at revision 3, not 1"):
        my.deployments.set_traffic("churn-api", {1: 100}, revision=1)
    with pytest.raises(InvalidInput, match="sum to 100"):
        my.deployments.set_traffic("churn-api", {1: 50})

    promoted = my.deployments.promote("churn-api", 2, reason="retrained")
    assert promoted["candidate"]["version"] == 2
    assert promoted["candidate"]["strategy"] == "canary"
    shown = my.deployments.get("churn-api")
    assert (shown["instances"], shown["stats"]) == ([], {})
    back = my.deployments.rollback("churn-api", reason="not today")
    assert back["candidate"] is None

    with Deployments(uri) as client:
        client.delete("churn-api", reason="done")
        events = client.history("churn-api")
        with pytest.raises(NotFound, match="deployment 'churn-api' does not exist"):
            client.get("churn-api")
    assert [e["action"] for e in events] == [
        "create",
        "set-traffic",
        "set-traffic",
        "promote",
        "rollback",
        "delete",
    ]
    # a server records who called (anonymous until auth lands); in process, the login name
    assert events[0]["actor"] == ("anonymous" if uri.startswith("http") else local_user())
    assert events[-1]["reason"] == "done"


def test_the_logging_policy_from_the_sdk_and_the_cli(uri: str) -> None:
    from typer.testing import CliRunner

    from modelyard.cli.app import app

    my.set_tracking_uri(uri)
    created = my.deployments.create(
        "pii-api", "models:/churn/1", engine="external", logging={"exclude": ["email"]}
    )
    assert created["logging"] == {"exclude": ["email"], "hash": [], "sample": 1.0}
    changed = my.deployments.set_logging("pii-api", hash=["user_id"], sample=0.25)
    assert changed["logging"] == {"exclude": [], "hash": ["user_id"], "sample": 0.25}
    assert "key" not in my.deployments.get("pii-api")["logging"]
    with pytest.raises(InvalidInput):
        my.deployments.set_logging("pii-api", exclude=["a"], hash=["a"])

    runner = CliRunner()
    result = runner.invoke(
        app,
        ["deploy", "logging", "pii-api", "--exclude", "email", "--exclude", "phone",
         "--hash", "user_id", "--sample", "0.5", "--reason", "review", "-u", uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "exclude email, phone; hash user_id; sample 0.5" in result.output
    shown = runner.invoke(app, ["deploy", "show", "pii-api", "-u", uri])
    assert "prediction log: exclude email, phone; hash user_id; sample 0.5" in shown.output
    bad = runner.invoke(app, ["deploy", "logging", "pii-api", "--sample", "0", "-u", uri])
    assert bad.exit_code != 0
    actions = [e["action"] for e in my.deployments.history("pii-api")]
    assert actions == ["create", "set-logging", "set-logging"]
