"""Accounts over REST on a live server with auth on: logging in, sessions, passwords, tokens,
users and teams, and the attacks on each (one server for the module; each test makes its own
users, so they do not depend on each other's order)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median

import httpx
import pytest

from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from tests.access.live import ADMIN_PASSWORD, api, auth_on, basic, bearer, unique


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with auth_on(tmp_path_factory.mktemp("accounts")) as url:
        yield url


@pytest.fixture(scope="module")
def admin(server: str) -> Iterator[httpx.Client]:
    with api(server, basic("admin", ADMIN_PASSWORD)) as client:
        yield client


def make_user(admin: httpx.Client, password: str = "user-password-1", **extra: object) -> str:
    name = unique("u")
    made = admin.post("/users", json={"name": name, "password": password, **extra})
    assert made.status_code == 201, made.text
    return name


def make_token(url: str, name: str, password: str, **body: object) -> tuple[str, dict[str, object]]:
    with api(url, basic(name, password)) as client:
        made = client.post("/tokens", json={"name": "t", **body})
    assert made.status_code == 201, made.text
    return str(made.json()["secret"]), dict(made.json()["token"])


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json()["error_code"])


# ---- logging in


def test_session_says_auth_is_on_and_nobody_is_logged_in(server: str) -> None:
    with api(server) as anonymous:
        assert anonymous.get("/auth/session").json() == {
            "auth": True,
            "sso": False,
            "user": None,
            "csrf": None,
        }
        assert error(anonymous.get("/auth/me")) == (401, "UNAUTHENTICATED")


def test_login_sets_a_safe_cookie_and_the_session_works_with_its_csrf_token(
    server: str, admin: httpx.Client
) -> None:
    name = make_user(admin)
    with api(server) as browser:
        answer = browser.post("/auth/login", json={"name": name, "password": "user-password-1"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["auth"], body["user"]["name"]) == (True, name)
        cookie = answer.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert cookie.startswith("modelyard_session=")
        assert {"httponly", "path", "max-age", "samesite"} <= attributes
        assert "secure" not in attributes  # plain http here; test_tls checks Secure
        assert "SameSite=lax" in cookie
        assert "Max-Age=43200" in cookie
        assert "Path=/" in cookie
        assert answer.headers["cache-control"] == "no-store"

        session = browser.get("/auth/session").json()
        assert (session["user"]["name"], session["csrf"]) == (name, body["csrf"])
        me = browser.get("/auth/me").json()
        assert (me["name"], me["via"], me["token"]) == (name, "session", None)
        # a write from the cookie needs the CSRF token
        no_csrf = browser.post("/tokens", json={"name": "x"})
        assert error(no_csrf) == (403, "CROSS_SITE_REQUEST")
        wrong = browser.post("/tokens", json={"name": "x"}, headers={"x-csrf-token": "nope"})
        assert error(wrong) == (403, "CROSS_SITE_REQUEST")
        made = browser.post("/tokens", json={"name": "x"}, headers={"x-csrf-token": body["csrf"]})
        assert made.status_code == 201

        out = browser.post("/auth/logout", headers={"x-csrf-token": body["csrf"]})
        assert out.status_code == 204
        assert 'modelyard_session=""' in out.headers["set-cookie"]
        assert "Max-Age=0" in out.headers["set-cookie"]
    # the session row is gone: the old cookie no longer proves anything
    with api(server) as replay:
        replay.cookies.set("modelyard_session", answer.cookies["modelyard_session"])
        assert error(replay.get("/auth/me")) == (401, "UNAUTHENTICATED")
        # ...and a stale cookie does not lock anyone out of the open routes
        assert replay.get("/auth/session").json()["user"] is None
        again = replay.post("/auth/login", json={"name": name, "password": "user-password-1"})
        assert again.status_code == 200


def test_login_failures_look_alike(server: str, admin: httpx.Client) -> None:
    name = make_user(admin)
    with api(server) as anonymous:

        def attempt(user: str, password: str) -> tuple[float, httpx.Response]:
            start = time.perf_counter()
            answer = anonymous.post("/auth/login", json={"name": user, "password": password})
            return time.perf_counter() - start, answer

        unknown = [attempt(unique("nobody"), "some-password") for _ in range(3)]
        wrong = [attempt(name, "wrong-password") for _ in range(3)]
        for _, answer in unknown + wrong:
            assert answer.json() == {
                "error_code": "UNAUTHENTICATED",
                "message": "wrong user name or password",
            }
            assert answer.status_code == 401
            assert "set-cookie" not in answer.headers
        # both pay for one argon2 hash: no timing oracle for which names exist
        ratio = median(t for t, _ in unknown) / median(t for t, _ in wrong)
        assert 0.2 < ratio < 5.0, ratio  # a skipped hash would be ~100x faster
        # odd inputs get the same answer or a 400, never a 500
        for user in ("", "x" * 5000, "' OR 1=1 --"):
            answer = anonymous.post("/auth/login", json={"name": user, "password": "p"})
            assert answer.status_code in (400, 401), (user, answer.text)
        huge = anonymous.post("/auth/login", json={"name": name, "password": "p" * 10_000})
        assert error(huge) == (400, "INVALID_PARAMETER_VALUE")
        typed = anonymous.post("/auth/login", json={"name": name, "password": 12345678})
        assert error(typed) == (400, "INVALID_PARAMETER_VALUE")


def test_a_disabled_user_cannot_log_in(server: str, admin: httpx.Client) -> None:
    name = make_user(admin)
    assert admin.patch(f"/users/{name}", json={"disabled": True}).status_code == 200
    with api(server) as anonymous:
        answer = anonymous.post("/auth/login", json={"name": name, "password": "user-password-1"})
        assert error(answer) == (401, "UNAUTHENTICATED")


def test_changing_a_password_ends_the_old_one_at_once(server: str, admin: httpx.Client) -> None:
    name = make_user(admin, password="first-password")
    with api(server, basic(name, "first-password")) as old:
        assert old.get("/auth/me").json()["via"] == "password"  # now in the password cache
        with api(server) as other_browser:
            other = other_browser.post(
                "/auth/login", json={"name": name, "password": "first-password"}
            )
            assert other.status_code == 200
            with api(server) as browser:
                login = browser.post(
                    "/auth/login", json={"name": name, "password": "first-password"}
                )
                csrf = {"x-csrf-token": login.json()["csrf"]}
                wrong = browser.post(
                    "/auth/me/password", json={"current": "not-it", "new": "x" * 12}, headers=csrf
                )
                assert error(wrong) == (400, "INVALID_PARAMETER_VALUE")
                assert wrong.json()["details"]["field"] == "current"
                short = browser.post(
                    "/auth/me/password",
                    json={"current": "first-password", "new": "short"},
                    headers=csrf,
                )
                assert error(short) == (400, "INVALID_PARAMETER_VALUE")
                changed = browser.post(
                    "/auth/me/password",
                    json={"current": "first-password", "new": "second-password"},
                    headers=csrf,
                )
                assert changed.status_code == 204
                assert "modelyard_session=" in changed.headers["set-cookie"]  # a fresh one
                assert browser.get("/auth/me").json()["name"] == name
            # every other session ended, and the cached old password no longer works
            assert error(other_browser.get("/auth/me")) == (401, "UNAUTHENTICATED")
        assert error(old.get("/auth/me")) == (401, "UNAUTHENTICATED")
    with api(server, basic(name, "second-password")) as new:
        assert new.get("/auth/me").json()["name"] == name


# ---- tokens


def test_tokens_are_shown_once_and_work_as_bearer_and_basic(
    server: str, admin: httpx.Client
) -> None:
    name = make_user(admin)
    secret, token = make_token(server, name, "user-password-1", scope="read")
    assert secret.startswith(f"myt_{token['id']}_")
    assert (token["owner"], token["scope"], token["kind"]) == (name, "read", "personal")
    assert token["last_used_at"] is None
    ninety_days = 90 * 86_400_000
    assert token["expires_at"] == int(str(token["created_at"])) + ninety_days
    with api(server, bearer(secret)) as client:
        me = client.get("/auth/me").json()
        assert (me["name"], me["via"], me["token"]) == (
            name,
            "token",
            {"id": token["id"], "scope": "read"},
        )
        listed = client.get("/tokens").json()["tokens"]
        assert [t["id"] for t in listed] == [token["id"]]
        assert secret not in str(listed)
        used = listed[0]
        assert used["last_used_at"] is not None
        assert used["last_used_from"] == "127.0.0.1"
        # a read token holds no write: not even making a token for itself
        denied = client.post("/tokens", json={"name": "more"})
        assert error(denied) == (403, "PERMISSION_DENIED")
    # the mlflow client's basic auth with a token as the password
    with api(server, basic("anything", secret)) as client:
        assert client.get("/auth/me").json()["via"] == "token"


def test_revoked_and_expired_tokens_fail_at_once(server: str, admin: httpx.Client) -> None:
    name = make_user(admin)
    secret, token = make_token(server, name, "user-password-1")
    with api(server, bearer(secret)) as client:
        assert client.get("/auth/me").status_code == 200
        revoked = client.delete(f"/tokens/{token['id']}")  # a token may revoke itself
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        answer = client.get("/auth/me")
        assert answer.json() == {
            "error_code": "UNAUTHENTICATED",
            "message": "the token was revoked",
        }
    short, _ = make_token(server, name, "user-password-1", expires_in_days=1.5 / 86_400)
    with api(server, bearer(short)) as client:
        deadline = time.monotonic() + 10
        while client.get("/auth/me").status_code == 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert client.get("/auth/me").json()["message"] == "the token has expired"
    for forged in (
        secret[:-1] + ("A" if secret[-1] != "A" else "B"),  # the right id, a wrong secret
        "myt_" + "a" * 12 + "_" + "b" * 43,  # no such id
        "not-a-token",
    ):
        with api(server, bearer(forged)) as client:
            assert error(client.get("/auth/me")) == (401, "UNAUTHENTICATED"), forged
    with api(server, {"authorization": "Basic !!!"}) as client:
        assert error(client.get("/auth/me")) == (401, "UNAUTHENTICATED")
    with api(server, {"authorization": "Digest abc"}) as client:
        assert error(client.get("/auth/me")) == (401, "UNAUTHENTICATED")


def test_token_rules_against_escalation(server: str, admin: httpx.Client) -> None:
    alice, bob = make_user(admin), make_user(admin)
    with api(server, basic(alice, "user-password-1")) as client:
        for body, code in (
            ({"name": "s", "service": True}, 403),  # service tokens: admins
            ({"name": "o", "owner": bob}, 403),  # someone else's token: admins
            ({"name": "a", "scope": "admin"}, 403),  # admin scope: admins
            ({"name": "b", "scope": "root"}, 400),
            ({"name": "c", "expires_in_days": 0}, 400),
            ({"name": "d", "expires_in_days": 5000}, 400),
            ({"name": ""}, 400),
            ({"name": "e\x00"}, 400),
            ({"name": "f", "extra": 1}, 400),
        ):
            assert client.post("/tokens", json=body).status_code == code, body
        listing = client.get("/tokens", params={"all": "true"})
        assert error(listing) == (403, "PERMISSION_DENIED")
    write, _ = make_token(server, alice, "user-password-1", scope="write")
    with api(server, bearer(write)) as client:  # a stolen write token cannot mint more
        assert error(client.post("/tokens", json={"name": "n"})) == (403, "PERMISSION_DENIED")
    _, bobs = make_token(server, bob, "user-password-1")
    with api(server, basic(alice, "user-password-1")) as client:
        assert error(client.delete(f"/tokens/{bobs['id']}")) == (404, "RESOURCE_DOES_NOT_EXIST")
    # an admin's write token is not an admin credential
    admin_write, _ = make_token(server, "admin", ADMIN_PASSWORD, scope="write")
    with api(server, bearer(admin_write)) as client:
        assert error(client.post("/tokens", json={"name": "s", "service": True}))[0] == 403
        assert error(client.get("/tokens", params={"all": "true"}))[0] == 403
        assert error(client.get("/users"))[0] == 403
    every = admin.get("/tokens", params={"all": "true"}).json()["tokens"]
    assert bobs["id"] in {t["id"] for t in every}
    service = admin.post("/tokens", json={"name": "ci", "service": True, "scope": "read"})
    assert service.status_code == 201
    assert service.json()["token"]["owner"] is None
    with api(server, bearer(service.json()["secret"])) as client:
        me = client.get("/auth/me").json()
        assert (me["name"], me["user"], me["via"]) == ("token:ci", None, "token")
        assert (
            error(client.post("/auth/me/password", json={"current": "a", "new": "b" * 9}))[0] == 403
        )
    made = admin.post("/tokens", json={"name": "for-bob", "owner": bob})
    assert made.status_code == 201
    assert made.json()["token"]["owner"] == bob
    assert admin.delete(f"/tokens/{bobs['id']}").status_code == 200  # admins revoke any


# ---- users and teams


def test_users_are_managed_by_admins_only(server: str, admin: httpx.Client) -> None:
    name = make_user(admin, email="ana@example.org")
    with api(server, basic(name, "user-password-1")) as user:
        for method, path in (
            ("GET", "/users"),
            ("POST", "/users"),
            ("GET", f"/users/{name}"),
            ("PATCH", f"/users/{name}"),
            ("DELETE", f"/users/{name}"),
            ("GET", "/teams"),
            ("POST", "/teams"),
        ):
            answer = user.request(method, path, json={} if method in ("POST", "PATCH") else None)
            assert error(answer) == (403, "PERMISSION_DENIED"), (method, path)
    with api(server) as anonymous:
        assert error(anonymous.get("/users")) == (401, "UNAUTHENTICATED")
    shown = admin.get(f"/users/{name}").json()
    assert (shown["email"], shown["is_admin"], shown["disabled"], shown["sso"]) == (
        "ana@example.org",
        False,
        False,
        False,
    )
    assert name in {u["name"] for u in admin.get("/users").json()["users"]}
    for body in (
        {"name": name, "password": "long-enough-1"},  # taken
        {"name": "bad name", "password": "long-enough-1"},
        {"name": "a/b", "password": "long-enough-1"},
        {"name": "x" * 251, "password": "long-enough-1"},
        {"name": unique("v"), "password": "short"},
        {"name": unique("v"), "password": "p" * 1025},
        {"name": unique("v"), "email": "not an address"},
        {"name": unique("v"), "email": "a@b\n.org"},
        {"name": unique("v"), "is_admin": "yes please"},
    ):
        answer = admin.post("/users", json=body)
        assert answer.status_code in (400, 409), (body, answer.text)
    assert error(admin.get("/users/nobody-here")) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert error(admin.patch("/users/nobody-here", json={})) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_disabling_or_deleting_a_user_stops_their_credentials_at_once(
    server: str, admin: httpx.Client
) -> None:
    name = make_user(admin)
    secret, _ = make_token(server, name, "user-password-1")
    with (
        api(server, basic(name, "user-password-1")) as by_password,
        api(server, bearer(secret)) as by_token,
    ):
        assert by_password.get("/auth/me").status_code == 200  # cached now
        assert by_token.get("/auth/me").status_code == 200
        disabled = admin.patch(f"/users/{name}", json={"disabled": True})
        assert disabled.json()["disabled"] is True
        assert error(by_password.get("/auth/me")) == (401, "UNAUTHENTICATED")
        assert error(by_token.get("/auth/me")) == (401, "UNAUTHENTICATED")
        admin.patch(f"/users/{name}", json={"disabled": False})
        assert by_token.get("/auth/me").status_code == 200
        assert admin.delete(f"/users/{name}").status_code == 204
        assert error(by_token.get("/auth/me")) == (401, "UNAUTHENTICATED")
        assert error(by_password.get("/auth/me")) == (401, "UNAUTHENTICATED")
    assert error(admin.get(f"/users/{name}")) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_the_last_admin_stays(server: str, admin: httpx.Client) -> None:
    for change in ({"is_admin": False}, {"disabled": True}):
        answer = admin.patch("/users/admin", json=change)
        assert error(answer) == (400, "INVALID_PARAMETER_VALUE"), change
    assert error(admin.delete("/users/admin")) == (400, "INVALID_PARAMETER_VALUE")
    second = make_user(admin, password="second-admin-1", is_admin=True)
    with api(server, basic(second, "second-admin-1")) as other:
        assert other.get("/users").status_code == 200
    assert admin.patch(f"/users/{second}", json={"is_admin": False}).json()["is_admin"] is False
    with api(server, basic(second, "second-admin-1")) as other:
        assert error(other.get("/users")) == (403, "PERMISSION_DENIED")


def test_teams_and_their_members(server: str, admin: httpx.Client) -> None:
    team, name = unique("team"), make_user(admin)
    assert admin.post("/teams", json={"name": team}).json() == {"name": team, "members": []}
    assert error(admin.post("/teams", json={"name": team})) == (409, "RESOURCE_ALREADY_EXISTS")
    assert error(admin.post("/teams", json={"name": "a b"})) == (400, "INVALID_PARAMETER_VALUE")
    added = admin.put(f"/teams/{team}/members/{name}")
    assert added.json() == {"name": team, "members": [name]}
    assert admin.put(f"/teams/{team}/members/{name}").json()["members"] == [name]  # idempotent
    assert error(admin.put(f"/teams/{team}/members/nobody-x"))[0] == 404
    assert error(admin.put(f"/teams/no-team-x/members/{name}"))[0] == 404
    with api(server, basic(name, "user-password-1")) as user:
        assert user.get("/auth/me").json()["user"]["teams"] == [team]
    listed = {t["name"]: t["members"] for t in admin.get("/teams").json()["teams"]}
    assert listed[team] == [name]
    assert admin.delete(f"/teams/{team}/members/{name}").json()["members"] == []
    assert admin.delete(f"/teams/{team}").status_code == 204
    assert error(admin.delete(f"/teams/{team}"))[0] == 404


def test_with_auth_off_accounts_are_not_there(tmp_path: Path) -> None:
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp_path / 'store.db'}", artifacts_uri=str(tmp_path / "a")
    )
    with serve_in_background(settings) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/v1/auth/session").json() == {
            "auth": False,
            "sso": False,
            "user": None,
            "csrf": None,
        }
        for method, path in (
            ("POST", "/api/v1/auth/login"),
            ("GET", "/api/v1/auth/me"),
            ("GET", "/api/v1/users"),
            ("POST", "/api/v1/tokens"),
            ("GET", "/api/v1/grants"),
        ):
            body = {"name": "admin", "password": "whatever-1"} if method == "POST" else None
            answer = client.request(method, path, json=body)
            assert answer.status_code == 409, (method, path, answer.text)
            assert answer.json()["error_code"] == "INVALID_STATE"
