"""`modelyard login|logout|whoami|users|teams|tokens|grants` against a live server with auth on,
through typer's CliRunner (the stored credentials live in the test's MODELYARD_HOME)."""

from __future__ import annotations

import json
import re
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from modelyard.cli.app import app
from modelyard.tracking import credentials
from tests.access.live import auth_on

ADMIN_PASSWORD = "cli-admin-password"
pytestmark = pytest.mark.usefixtures("modelyard_home")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with auth_on(tmp_path_factory.mktemp("cli-access"), ADMIN_PASSWORD) as url:
        yield url


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
    monkeypatch.delenv("MODELYARD_TRACKING_URI", raising=False)


def cli(*args: str, input: str | None = None, code: int = 0) -> str:
    result: Result = CliRunner().invoke(app, list(args), input=input)
    assert result.exit_code == code, (args, result.output, result.exception)
    return result.output


def admin_api(url: str) -> httpx.Client:
    return httpx.Client(base_url=f"{url}/api/v1", auth=("admin", ADMIN_PASSWORD), timeout=30)


def test_login_whoami_logout(server: str, modelyard_home: Path) -> None:
    out = cli("login", server, input=f"admin\n{ADMIN_PASSWORD}\n")
    assert f"logged in to {server} as admin" in out
    assert "scope write" in out
    file = modelyard_home / "credentials.json"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    entry = json.loads(file.read_text())["servers"][server]
    assert entry["token"].startswith(f"myt_{entry['token_id']}_")
    assert ADMIN_PASSWORD not in file.read_text()

    me = cli("whoami", "-u", server)
    assert "admin (admin) via token" in me
    assert f"token {entry['token_id']}, scope write" in me
    listed = cli("tokens", "list", "-u", server)
    assert entry["token_id"] in listed
    assert "cli@" in listed

    # a second login replaces (and revokes) the first token
    cli("login", server, "--user", "admin", input=f"{ADMIN_PASSWORD}\n")
    second = credentials.stored(server)
    assert second is not None
    assert second["token_id"] != entry["token_id"]
    with admin_api(server) as admin:
        every = {t["id"]: t for t in admin.get("/tokens", params={"all": "true"}).json()["tokens"]}
    assert every[entry["token_id"]]["revoked_at"] is not None

    out = cli("logout", server)
    assert f"logged out of {server} (token {second['token_id']} revoked)" in out
    assert credentials.stored(server) is None
    with admin_api(server) as admin:
        every = {t["id"]: t for t in admin.get("/tokens", params={"all": "true"}).json()["tokens"]}
    assert every[second["token_id"]]["revoked_at"] is not None
    assert "not logged in" in cli("logout", server)
    refused = cli("whoami", "-u", server, code=1)
    assert "UNAUTHENTICATED" in refused
    assert "modelyard login" in refused


def test_login_failures_store_nothing(server: str, modelyard_home: Path) -> None:
    out = cli("login", server, input="admin\nnot-the-password\n", code=1)
    assert "UNAUTHENTICATED: wrong user name or password" in out
    assert "modelyard login" not in out.split("password", 1)[1]  # no advice to do it again
    assert not (modelyard_home / "credentials.json").exists()
    out = cli("login", server, "--token", "myt_" + "a" * 12 + "_" + "b" * 43, code=1)
    assert "UNAUTHENTICATED" in out
    assert not (modelyard_home / "credentials.json").exists()
    out = cli("login", "/some/folder", input="admin\nx\n", code=1)
    assert "accounts live on a modelyard server" in out


def test_login_with_a_token_from_stdin(server: str) -> None:
    with admin_api(server) as admin:
        secret = admin.post("/tokens", json={"name": "ci", "scope": "read"}).json()["secret"]
    out = cli("login", server, "--token", "-", input=secret + "\n")
    assert "as admin" in out
    assert "scope read" in out
    stored = credentials.stored(server)
    assert stored is not None
    assert stored["token"] == secret
    assert "scope read" in cli("whoami", "-u", server)


def test_admin_commands(server: str) -> None:
    cli("login", server, "--scope", "admin", input=f"admin\n{ADMIN_PASSWORD}\n")
    user, team = f"ana-{uuid.uuid4().hex[:6]}", f"ml-{uuid.uuid4().hex[:6]}"

    out = cli("users", "create", user, "--email", "ana@example.org", "-u", server,
              input="ana-password-1\nana-password-1\n")  # fmt: skip
    assert f"created user {user}" in out
    assert user in cli("users", "list", "-u", server)
    assert "ana@example.org" in cli("users", "show", user, "-u", server)
    mismatch = cli("users", "create", "other-x", "-u", server, input="abcdefgh1\nabcdefgh2\n",
                   code=1)  # fmt: skip
    assert "do not match" in mismatch
    assert "INVALID_PARAMETER_VALUE" in cli(
        "users", "create", "bad name", "-u", server, input="abcdefgh1\nabcdefgh1\n", code=1
    )
    assert "disabled: yes" in cli("users", "update", user, "--disable", "-u", server)
    cli("users", "update", user, "--enable", "--password", "-u", server,
        input="ana-password-2\nana-password-2\n")  # fmt: skip
    with httpx.Client(base_url=f"{server}/api/v1", auth=(user, "ana-password-2")) as ana:
        assert ana.get("/auth/me").json()["name"] == user

    assert f"created team {team}" in cli("teams", "create", team, "-u", server)
    assert user in cli("teams", "add", team, user, "-u", server)
    assert user in cli("teams", "list", "-u", server)
    assert "(no members)" in cli("teams", "remove", team, user, "-u", server)

    made = cli("tokens", "create", "robot", "--service", "--scope", "read", "--no-expiry",
               "-u", server)  # fmt: skip
    assert "expires never" in made
    secret = re.search(r"myt_[a-z0-9]{12}_[A-Za-z0-9_-]{43}", made)
    assert secret is not None
    token_id = secret.group(0)[4:16]
    assert token_id in cli("tokens", "list", "--all", "-u", server)

    experiment = httpx.post(
        f"{server}/api/v1/experiments",
        json={"name": f"cli-{uuid.uuid4().hex[:6]}"},
        auth=("admin", ADMIN_PASSWORD),
    ).json()["id"]
    out = cli("grants", "add", f"user:{user}", "editor", "experiment", str(experiment),
              "-u", server)  # fmt: skip
    grant_id = re.search(r"grant (\d+):", out)
    assert grant_id is not None
    assert f"user:{user} is editor on experiment {experiment}" in out
    cli("grants", "add", f"team:{team}", "viewer", "server", "-u", server)
    listed = cli("grants", "list", "--principal", f"user:{user}", "-u", server)
    assert "editor" in listed
    assert "viewer" not in listed
    assert "removed grant" in cli("grants", "remove", grant_id.group(1), "-u", server)
    assert "RESOURCE_DOES_NOT_EXIST" in cli(
        "grants", "remove", grant_id.group(1), "-u", server, code=1
    )
    assert "INVALID_PARAMETER_VALUE" in cli(
        "grants", "add", f"user:{user}", "owner", "experiment", "1", "-u", server, code=1
    )

    assert f"revoked token {token_id}" in cli("tokens", "revoke", token_id, "-u", server)
    assert f"deleted team {team}" in cli("teams", "delete", team, "--yes", "-u", server)
    cli("users", "delete", user, "-u", server, input="n\n", code=1)  # asked, and declined
    assert f"deleted user {user}" in cli("users", "delete", user, "--yes", "-u", server)
    cli("logout", server)


def test_a_write_token_is_not_enough_for_accounts(server: str) -> None:
    cli("login", server, input=f"admin\n{ADMIN_PASSWORD}\n")  # scope write
    out = cli("users", "list", "-u", server, code=1)
    assert "PERMISSION_DENIED" in out
    cli("logout", server)


def test_whoami_on_a_server_without_auth(server_url: str) -> None:
    assert "anonymous" in cli("whoami", "-u", server_url)
