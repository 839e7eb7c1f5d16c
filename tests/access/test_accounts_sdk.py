"""The SDK's credentials against a live server with auth on: MODELYARD_TOKEN, the token
`modelyard login` stored, the identity the server records, a clear 401, and the demo."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

import modelyard as my
from modelyard import demo
from modelyard.errors import Unauthenticated
from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from modelyard.tracking import credentials
from modelyard.tracking.http import bearer
from tests.access.live import ADMIN_PASSWORD, api, auth_on, basic, unique

pytestmark = pytest.mark.usefixtures("fresh_sdk")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with auth_on(tmp_path_factory.mktemp("sdk")) as url:
        yield url


@pytest.fixture(scope="module")
def ana(server: str) -> tuple[str, str]:
    """A user and a write token of theirs."""
    name = unique("ana")
    with api(server, basic("admin", ADMIN_PASSWORD)) as admin:
        assert admin.post("/users", json={"name": name, "password": "ana-password"}).is_success
    with api(server, basic(name, "ana-password")) as client:
        return name, str(client.post("/tokens", json={"name": "sdk"}).json()["secret"])


def test_the_sdk_sends_modelyard_token_and_the_server_names_the_run_s_user(
    server: str, ana: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, token = ana
    monkeypatch.setenv("MODELYARD_TOKEN", token)
    my.set_tracking_uri(server)
    with my.start_run("r", experiment=unique("sdk"), params={"lr": 0.1}) as run:
        run.log_metric("loss", 0.5, step=1)
    logged = my.get_run(run.id)
    assert logged.params == {"lr": "0.1"}
    assert logged.metrics["loss"].last == 0.5
    assert logged.user == name  # the authenticated identity, not the operating-system login


def test_without_credentials_the_error_says_how_to_log_in(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    with my.Client(server) as client, pytest.raises(Unauthenticated) as caught:
        client.list_experiments()
    assert f"modelyard login {server}" in caught.value.message
    assert "MODELYARD_TOKEN" in caught.value.message
    monkeypatch.setenv("MODELYARD_TOKEN", "myt_" + "a" * 12 + "_" + "b" * 43)
    with my.Client(server) as client, pytest.raises(Unauthenticated, match="not valid"):
        client.list_experiments()


def test_the_stored_login_is_sent_to_its_server_only(
    server: str, ana: tuple[str, str], modelyard_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, token = ana
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    path = credentials.save(server + "/", {"token": token, "token_id": "x", "user": name})
    assert path == modelyard_home / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["servers"][server]["token"] == token
    with my.Client(server) as client:
        assert isinstance(client.list_experiments(), list)

    seen: list[str | None] = []  # what another server would receive: nothing of ours

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json=[])

    sign = bearer("http://127.0.0.1:1")
    with httpx.Client(transport=httpx.MockTransport(record), auth=sign) as other:
        other.get("http://127.0.0.1:1/api/v1/experiments")
    assert seen == [None]

    # MODELYARD_TOKEN wins over the stored one; a new login replaces the stored one at once
    monkeypatch.setenv("MODELYARD_TOKEN", "myt_" + "c" * 12 + "_" + "d" * 43)
    with my.Client(server) as client, pytest.raises(Unauthenticated):
        client.list_experiments()
    monkeypatch.delenv("MODELYARD_TOKEN")
    credentials.save(server, {"token": "myt_" + "e" * 12 + "_" + "f" * 43})
    with my.Client(server) as client, pytest.raises(Unauthenticated):
        client.list_experiments()
    assert credentials.forget(server) is not None
    assert credentials.stored(server) is None


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("http://127.0.0.1:5050", "http://127.0.0.1:5050"),
        ("HTTP://LocalHost:5050/", "http://localhost:5050"),
        ("https://models.example.org:443/yard/", "https://models.example.org/yard"),
        ("http://[::1]:80", "http://[::1]"),
    ],
)
def test_one_spelling_per_server(given: str, key: str) -> None:
    assert credentials.server_key(given) == key


def test_a_corrupt_credentials_file_is_no_credentials(modelyard_home: Path) -> None:
    modelyard_home.mkdir(parents=True, exist_ok=True)
    (modelyard_home / "credentials.json").write_text("{not json")
    assert credentials.stored("http://127.0.0.1:1") is None
    (modelyard_home / "credentials.json").write_text('{"servers": {"http://a": {"token": 3}}}')
    assert credentials.stored("http://a") is None


def test_the_demo_runs_against_a_server_with_auth_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The demo of `modelyard server --auth --demo` logs as the first admin with a token the
    server process makes (its serving process is the auth-off demo test's part)."""
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    monkeypatch.setattr(demo, "_ready_endpoint", lambda _deployments, _wait: None)
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp_path / 'store.db'}",
        artifacts_uri=str(tmp_path / "artifacts"),
        auth=True,
        admin_password=ADMIN_PASSWORD,
    )
    from modelyard.access.service import AccessService
    from modelyard.store.metadata.database import Database

    with serve_in_background(settings) as url:
        database = Database(settings.store_uri)
        try:
            token = demo.demo_token(AccessService(database))
        finally:
            database.close()
        with open("/dev/null", "w") as sink:
            demo.run_demo(url, Console(file=sink), token)
        with api(url, basic("admin", ADMIN_PASSWORD)) as admin:
            exp = admin.get(f"/experiments/by-name/{demo.DEMO_EXPERIMENT}").json()
            runs = admin.post("/runs/search", json={"experiment_ids": [exp["id"]]}).json()
            assert len(runs["runs"]) == 8
            assert {r["user"] for r in runs["runs"]} == {"admin"}
            model = admin.get("/models/demo-classifier").json()
            assert set(model["aliases"]) == {"champion", "challenger"}
            assert admin.get(f"/deployments/{demo.DEMO_DEPLOYMENT}").status_code == 200
            tokens = admin.get("/tokens").json()["tokens"]
            (made,) = [t for t in tokens if t["name"] == "demo"]
            assert made["expires_at"] - made["created_at"] == 86_400_000
    credentials.use(url, None)
