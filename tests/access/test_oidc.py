"""Single sign-on against a real (strict) OpenID provider on 127.0.0.1, over HTTP with httpx.

One provider and one auth-enabled server per module; each test signs in a subject of its own;
the last test does it all in Chromium.
The attacks: a tampered state or state cookie, a callback from another browser, a replayed
callback, id_tokens for another audience, expired, with another nonce or issuer, signed with
an unpublished key, unsigned or keyed with the client secret; open redirects through ``next``;
a provider-chosen name that shadows a local account; script in the provider's error text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from modelyard.access.audit import AuditLog, Filter
from modelyard.access.oidc import CALLBACK_PATH, OidcClient, OidcSettings, safe_next
from modelyard.access.service import AccessService
from modelyard.errors import InvalidInput, Unauthenticated
from modelyard.listener import free_port
from modelyard.server.app import ServerSettings, create_app
from modelyard.server.background import serve_app
from modelyard.server.domains import BUILT_IN
from modelyard.testing.oidc_provider import OidcProvider, new_rsa_key, oidc_provider

SECRET = "provider-secret-of-32-characters!!"
LOGIN = "/api/v1/auth/oidc/login"


@dataclass
class Site:
    url: str
    app: FastAPI
    provider: OidcProvider
    settings: ServerSettings

    @property
    def access(self) -> AccessService:
        service: AccessService = self.app.state.services["access"]
        return service


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with oidc_provider(client_id="modelyard", client_secret=SECRET) as found:
        yield found


@pytest.fixture(scope="module")
def site(provider: OidcProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("oidc")
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp / 'store.db'}",
        artifacts_uri=str(tmp / "artifacts"),
        auth=True,
        admin_password="admin-password-1",
        oidc=OidcSettings(provider.issuer, "modelyard", SECRET),
    )
    app = create_app(settings)
    with serve_app(app, free_port()) as url:
        provider.redirect_uris[:] = [url + CALLBACK_PATH]
        yield Site(url, app, provider, settings)


@pytest.fixture(autouse=True)
def fresh_provider(provider: OidcProvider) -> Iterator[None]:
    yield
    provider.user = {"sub": "user-1"}
    provider.consent = False
    provider.overrides = {}
    provider.sign_with = None
    provider.forge = ""
    provider.userinfo_only = ()


@pytest.fixture
def agent() -> Iterator[httpx.Client]:
    """A browser over httpx: a cookie jar, no automatic redirects (each hop is checked)."""
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        yield client


def to_callback(site: Site, agent: httpx.Client, next_path: str | None = None) -> str:
    """Start a sign-in and pass the provider; the callback URL the provider sends back."""
    params = {} if next_path is None else {"next": next_path}
    start = agent.get(site.url + LOGIN, params=params)
    assert start.status_code == 302, start.text
    assert start.headers["location"].startswith(site.provider.issuer + "/authorize?")
    back = agent.get(start.headers["location"])
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(site.url + CALLBACK_PATH)
    return location


def sign_in(site: Site, agent: httpx.Client, next_path: str | None = None) -> httpx.Response:
    return agent.get(to_callback(site, agent, next_path))


def session_of(site: Site, agent: httpx.Client) -> dict[str, Any]:
    answer = agent.get(site.url + "/api/v1/auth/session")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def cookie_header(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def refused(response: httpx.Response, status: int, code: str) -> str:
    """Assert a refusal with no session; its message."""
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code
    assert "modelyard_session=" not in " ".join(response.headers.get_list("set-cookie"))
    message: str = response.json()["message"]
    return message


def user_of(site: Site, subject: str) -> list[str]:
    return [u.name for u in site.access.users() if u.sso and u.name.startswith(subject)]


# ---- signing in


def test_sign_in_opens_a_session_and_lands_on_next(site: Site, agent: httpx.Client) -> None:
    site.provider.user = {
        "sub": "sub-alice",
        "preferred_username": "alice",
        "email": "alice@example.com",
    }
    assert session_of(site, agent)["sso"] is True
    start = agent.get(site.url + LOGIN, params={"next": "/experiments/3?tab=runs"})
    state_cookie = cookie_header(start, "modelyard_oidc").lower()
    for attribute in ("httponly", "samesite=lax", "max-age=600", "path=/api/v1/auth/oidc"):
        assert attribute in state_cookie
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [site.url + CALLBACK_PATH]
    assert len(query["state"][0]) >= 32
    assert len(query["nonce"][0]) >= 32
    assert "code_verifier" not in query

    back = agent.get(start.headers["location"])
    done = agent.get(back.headers["location"])
    assert done.status_code == 302, done.text
    assert done.headers["location"] == "/experiments/3?tab=runs"
    session_cookie = cookie_header(done, "modelyard_session").lower()
    for attribute in ("httponly", "samesite=lax", "path=/"):
        assert attribute in session_cookie
    assert "secure" not in session_cookie  # no TLS here
    assert "max-age=0" in cookie_header(done, "modelyard_oidc").lower()  # state dropped

    seen = session_of(site, agent)
    assert seen["user"]["name"] == "alice"
    assert seen["user"]["email"] == "alice@example.com"
    assert seen["user"]["sso"] is True
    assert seen["user"]["is_admin"] is False
    assert seen["csrf"]
    me = agent.get(site.url + "/api/v1/auth/me").json()
    assert me["via"] == "session"
    assert me["user"]["name"] == "alice"

    again = httpx.Client(timeout=30, follow_redirects=False)  # another browser, same person
    with again:
        assert sign_in(site, again).headers["location"] == "/"
        assert session_of(site, again)["user"]["id"] == seen["user"]["id"]


def test_groups_claim_makes_team_members_and_takes_them_away(
    site: Site, agent: httpx.Client
) -> None:
    for team in ("ml", "ops", "finance"):
        site.access.create_team(team)
    site.provider.user = {
        "sub": "sub-gina",
        "preferred_username": "gina",
        "groups": ["ml", "finance", "no-such-team"],
    }
    assert sign_in(site, agent).status_code == 302
    assert sorted(site.access.user_named("gina").teams) == ["finance", "ml"]
    assert [t["name"] for t in site.access.teams()] == ["finance", "ml", "ops"]  # none made
    site.access.set_member("ops", "gina", True)  # an admin's own choice stays

    site.provider.user = {"sub": "sub-gina", "preferred_username": "gina", "groups": ["ml"]}
    agent.cookies.clear()
    assert sign_in(site, agent).status_code == 302
    assert sorted(site.access.user_named("gina").teams) == ["ml", "ops"]
    site.provider.user = {"sub": "sub-gina", "preferred_username": "gina"}  # no claim: none
    agent.cookies.clear()
    assert sign_in(site, agent).status_code == 302
    assert site.access.user_named("gina").teams == ("ops",)

    audit: AuditLog = site.app.state.audit
    records = list(audit.records(Filter(actor="gina", action="oidc")))
    assert [r.changes for r in records] == [
        {"teams": {"before": [], "after": ["finance", "ml"]}},
        {"teams": {"before": ["finance", "ml", "ops"], "after": ["ml", "ops"]}},
        {"teams": {"before": ["ml", "ops"], "after": ["ops"]}},
    ]
    assert {(r.object_kind, r.object_id, r.status) for r in records} == {("user", "gina", 302)}
    assert audit.verify().ok


def test_groups_read_from_userinfo_when_the_id_token_lacks_them(
    site: Site, agent: httpx.Client
) -> None:
    site.access.create_team("analysts")
    site.provider.user = {"sub": "sub-uma", "preferred_username": "uma", "groups": ["analysts"]}
    site.provider.userinfo_only = ("groups",)
    assert sign_in(site, agent).status_code == 302
    assert site.access.user_named("uma").teams == ("analysts",)


def test_a_provider_name_never_takes_over_a_local_account(site: Site, agent: httpx.Client) -> None:
    site.provider.user = {"sub": "sub-mallory", "preferred_username": "admin"}
    assert sign_in(site, agent).status_code == 302
    seen = session_of(site, agent)["user"]
    assert seen["name"] == "admin-2"
    assert seen["is_admin"] is False
    assert site.access.user_named("admin").sso is False


def test_names_the_provider_gives_are_made_valid(site: Site, agent: httpx.Client) -> None:
    site.provider.user = {"sub": "sub-odd", "preferred_username": "<b>Bob</b> Smith/../x"}
    assert sign_in(site, agent).status_code == 302
    assert session_of(site, agent)["user"]["name"] == "b-Bob-b-Smith-..-x"


def test_a_stale_session_cookie_does_not_block_sign_in(site: Site, agent: httpx.Client) -> None:
    agent.cookies.set("modelyard_session", "stale-or-forged", domain="127.0.0.1")
    site.provider.user = {"sub": "sub-stale", "preferred_username": "stale"}
    assert sign_in(site, agent).status_code == 302
    assert session_of(site, agent)["user"]["name"] == "stale"


def test_disabled_accounts_cannot_sign_in(site: Site, agent: httpx.Client) -> None:
    site.provider.user = {"sub": "sub-dora", "preferred_username": "dora"}
    assert sign_in(site, agent).status_code == 302
    site.access.update_user("dora", disabled=True)
    agent.cookies.clear()
    message = refused(sign_in(site, agent), 401, "UNAUTHENTICATED")
    assert "disabled" in message
    assert session_of(site, agent)["user"] is None


# ---- the browser's state: tampering, replay, another browser, time


def test_a_tampered_state_is_refused(site: Site, agent: httpx.Client) -> None:
    site.provider.user = {"sub": "sub-tamper"}
    url = to_callback(site, agent)
    state = parse_qs(urlsplit(url).query)["state"][0]
    forged = url.replace(state, state[:-2] + ("AA" if state[-2:] != "AA" else "BB"))
    message = refused(agent.get(forged), 400, "INVALID_PARAMETER_VALUE")
    assert "state" in message
    # the failure dropped the sign-in: the real answer no longer counts either
    refused(agent.get(url), 400, "INVALID_PARAMETER_VALUE")
    assert user_of(site, "sub-tamper") == []


def test_a_tampered_state_cookie_is_refused(site: Site, agent: httpx.Client) -> None:
    url = to_callback(site, agent)
    sealed = agent.cookies["modelyard_oidc"]
    flipped = sealed[:10] + ("A" if sealed[10] != "A" else "B") + sealed[11:]
    agent.cookies.set("modelyard_oidc", flipped, domain="127.0.0.1", path="/api/v1/auth/oidc")
    assert "not valid" in refused(agent.get(url), 400, "INVALID_PARAMETER_VALUE")


def test_an_answer_opened_in_another_browser_is_refused(site: Site, agent: httpx.Client) -> None:
    """Login CSRF: an attacker's own callback URL, opened by the victim, signs nobody in."""
    site.provider.user = {"sub": "sub-attacker", "preferred_username": "attacker"}
    url = to_callback(site, agent)
    with httpx.Client(timeout=30, follow_redirects=False) as victim:
        refused(victim.get(url), 400, "INVALID_PARAMETER_VALUE")
        refused(victim.get(site.url + CALLBACK_PATH), 400, "INVALID_PARAMETER_VALUE")
    assert user_of(site, "attacker") == []


def test_a_replayed_callback_is_refused(site: Site, agent: httpx.Client) -> None:
    site.provider.user = {"sub": "sub-replay", "preferred_username": "replay"}
    url = to_callback(site, agent)
    sealed = agent.cookies["modelyard_oidc"]
    assert agent.get(url).status_code == 302
    agent.cookies.clear()
    agent.cookies.set("modelyard_oidc", sealed, domain="127.0.0.1", path="/api/v1/auth/oidc")
    before = site.provider.token_requests
    assert "already" in refused(agent.get(url), 400, "INVALID_PARAMETER_VALUE")
    assert site.provider.token_requests == before  # refused before the code was sent again


def test_a_sign_in_older_than_ten_minutes_is_refused(provider: OidcProvider) -> None:
    started = [0.0]
    client = OidcClient(
        OidcSettings(provider.issuer, "modelyard", SECRET), clock=lambda: started[0] or time.time()
    )
    redirect = "http://127.0.0.1:1/cb"
    provider.redirect_uris.append(redirect)

    def answer_after(seconds: float) -> Any:
        started[0] = time.time() - seconds
        url, sealed = client.start(redirect)
        started[0] = 0.0
        with httpx.Client(follow_redirects=False) as http:
            back = parse_qs(urlsplit(http.get(url).headers["location"]).query)
        return client.finish({k: v[0] for k, v in back.items()}, sealed, redirect)

    try:
        with pytest.raises(InvalidInput, match="longer than 10 minutes"):
            answer_after(605)
        assert answer_after(590).subject == "user-1"
    finally:
        provider.redirect_uris.remove(redirect)


def test_a_mixed_up_issuer_in_the_answer_is_refused(site: Site, agent: httpx.Client) -> None:
    url = to_callback(site, agent) + "&iss=http%3A%2F%2Fevil.example"
    assert "another provider" in refused(agent.get(url), 401, "UNAUTHENTICATED")


# ---- the id_token


def _now() -> int:
    return int(time.time())


BAD_TOKENS: dict[str, Callable[[OidcProvider], None]] = {
    "another audience": lambda p: p.overrides.update(aud="another-client"),
    "another audience (list)": lambda p: p.overrides.update(aud=["another-client"]),
    "expired": lambda p: p.overrides.update(exp=_now() - 600, iat=_now() - 900),
    "nonce mismatch": lambda p: p.overrides.update(nonce="forged-nonce"),
    "no nonce": lambda p: p.overrides.update(nonce=None),
    "another issuer": lambda p: p.overrides.update(iss="http://evil.example"),
    "no expiry": lambda p: p.overrides.update(exp=None),
    "authorized party differs": lambda p: p.overrides.update(azp="another-client"),
    "at_hash differs": lambda p: p.overrides.update(at_hash="AAAAAAAAAAAAAAAAAAAAAA"),
    "unpublished key": lambda p: setattr(p, "sign_with", new_rsa_key("key-1")),
    "unsigned (alg none)": lambda p: setattr(p, "forge", "none"),
    "HS256 keyed with the client secret": lambda p: setattr(p, "forge", "HS256"),
}


@pytest.mark.parametrize("attack", list(BAD_TOKENS))
def test_bad_id_tokens_are_refused(site: Site, agent: httpx.Client, attack: str) -> None:
    subject = "sub-bad-" + attack.replace(" ", "-").replace("(", "").replace(")", "")
    site.provider.user = {"sub": subject, "preferred_username": subject}
    BAD_TOKENS[attack](site.provider)
    message = refused(sign_in(site, agent), 401, "UNAUTHENTICATED")
    assert "id_token" in message
    assert user_of(site, subject) == []
    assert session_of(site, agent)["user"] is None


def test_a_provider_offering_only_symmetric_signatures_is_refused(
    provider: OidcProvider,
) -> None:
    """joserfc takes its default algorithms (HS256 among them) when given none."""
    redirect = "http://127.0.0.1:1/cb"
    provider.redirect_uris.append(redirect)
    provider.algorithms, provider.forge = ("HS256",), "HS256"
    client = OidcClient(OidcSettings(provider.issuer, "modelyard", SECRET))
    try:
        url, sealed = client.start(redirect)
        with httpx.Client(follow_redirects=False) as http:
            back = parse_qs(urlsplit(http.get(url).headers["location"]).query)
        with pytest.raises(Unauthenticated, match="signs id_tokens with none of RS256"):
            client.finish({k: v[0] for k, v in back.items()}, sealed, redirect)
    finally:
        provider.redirect_uris.remove(redirect)
        provider.algorithms = ("RS256",)


# ---- the provider says no; the page a browser sees


def test_a_refusal_by_the_provider_is_a_clear_page(site: Site, agent: httpx.Client) -> None:
    site.provider.consent = True
    start = agent.get(site.url + LOGIN)
    page = agent.get(start.headers["location"])
    assert page.status_code == 200
    assert 'id="deny"' in page.text
    fields = dict(parse_qs(urlsplit(start.headers["location"]).query))
    form = {k: v[0] for k, v in fields.items()} | {"decision": "deny"}
    back = agent.post(site.provider.issuer + "/authorize", data=form)
    assert "error=access_denied" in back.headers["location"]
    message = refused(agent.get(back.headers["location"]), 401, "UNAUTHENTICATED")
    assert "access_denied" in message


def test_the_error_page_escapes_the_provider_text(site: Site, agent: httpx.Client) -> None:
    url = to_callback(site, agent)
    state = parse_qs(urlsplit(url).query)["state"][0]
    script = "<script>alert(document.cookie)</script>"
    page = agent.get(
        site.url + CALLBACK_PATH,
        params={"state": state, "error": "access_denied", "error_description": script},
        headers={"Accept": "text/html,application/xhtml+xml"},
    )
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "UNAUTHENTICATED" in page.text


# ---- open redirects


OPEN_REDIRECTS = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " /evil",
    "javascript:alert(1)",
    "evil.example",
    "http:/evil.example",
    "",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_next_must_be_a_path_here(site: Site, agent: httpx.Client, target: str) -> None:
    issued = site.provider.issued_codes()
    answer = agent.get(site.url + LOGIN, params={"next": target})
    refused(answer, 400, "INVALID_PARAMETER_VALUE")
    assert "location" not in answer.headers
    assert "set-cookie" not in answer.headers
    assert site.provider.issued_codes() == issued


@given(st.text(max_size=40))
def test_safe_next_never_leaves_the_site(path: str) -> None:
    for candidate in (path, "/" + path):
        try:
            kept = safe_next(candidate)
        except InvalidInput:
            continue
        resolved = urlsplit(urljoin("https://modelyard.example/base/", kept))
        assert resolved.scheme == "https"
        assert resolved.netloc == "modelyard.example"


# ---- the provider is strict, so the client above is proven to do the protocol right


def test_the_test_provider_is_strict(provider: OidcProvider) -> None:
    redirect = "http://127.0.0.1:1/cb"
    provider.redirect_uris.append(redirect)
    client = OidcClient(OidcSettings(provider.issuer, "modelyard", SECRET))
    try:
        with httpx.Client(follow_redirects=False) as http:

            def code() -> str:
                url, _sealed = client.start(redirect)
                back = http.get(url).headers["location"]
                return parse_qs(urlsplit(back).query)["code"][0]

            def exchange(code: str, verifier: str, **extra: str) -> httpx.Response:
                form = {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect,
                    "code_verifier": verifier,
                    "client_id": "modelyard",
                    "client_secret": SECRET,
                } | extra
                return http.post(provider.issuer + "/token", data=form)

            verifier = "v" * 64  # not the one start() kept: a bad verifier
            first = code()
            assert exchange(first, verifier).json() == {"error": "invalid_grant"}
            assert exchange(first, verifier).json() == {"error": "invalid_grant"}  # used up
            assert exchange(code(), "x", client_secret="wrong").status_code == 401
            assert exchange(code(), verifier, redirect_uri=redirect + "x").status_code == 400
            no_pkce = http.get(
                provider.issuer + "/authorize",
                params={
                    "response_type": "code",
                    "client_id": "modelyard",
                    "redirect_uri": redirect,
                    "scope": "openid",
                },
            )
            assert no_pkce.status_code == 400
            assert "PKCE" in no_pkce.text
            elsewhere = http.get(
                provider.issuer + "/authorize",
                params={"client_id": "modelyard", "redirect_uri": "http://evil.example/cb"},
            )
            assert elsewhere.status_code == 400
    finally:
        provider.redirect_uris.remove(redirect)


# ---- servers without single sign-on, or with a provider that cannot be used


def test_servers_without_a_usable_provider_answer_clearly(site: Site, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    cases = [
        (None, 404, "RESOURCE_DOES_NOT_EXIST"),
        (OidcSettings(closed, "modelyard", SECRET), 503, "SERVER_UNREACHABLE"),
        # the discovery document names another issuer than the one configured
        (
            OidcSettings(site.provider.issuer.replace("127.0.0.1", "localhost"), "modelyard"),
            401,
            "UNAUTHENTICATED",
        ),
    ]
    access_only = [d for d in BUILT_IN if d.name == "access"]
    for oidc, status, code in cases:
        settings = replace(
            site.settings,
            store_uri=f"sqlite:///{tmp_path / 'store.db'}",
            artifacts_uri=str(tmp_path / "artifacts"),
            oidc=oidc,
        )
        with (
            serve_app(create_app(settings, access_only)) as url,
            httpx.Client(base_url=url, timeout=30, follow_redirects=False) as client,
        ):
            assert client.get("/api/v1/auth/session").json()["sso"] is (oidc is not None)
            answer = client.get(LOGIN)
            assert answer.status_code == status, answer.text
            assert answer.json()["error_code"] == code
            assert client.get(CALLBACK_PATH, params={"code": "x"}).status_code in (400, 404)


# ---- end to end in Chromium


def test_sign_in_in_chromium(site: Site, request: pytest.FixtureRequest) -> None:
    """The provider's consent page, one click, and the web UI at / with the session."""
    chromium = request.getfixturevalue("browser")
    site.access.create_team("vision")
    site.provider.user = {
        "sub": "sub-carol",
        "preferred_username": "carol",
        "email": "carol@example.com",
        "groups": ["vision"],
    }
    site.provider.consent = True
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(site.url + LOGIN)
        assert page.url.startswith(site.provider.issuer + "/authorize")
        page.click("#allow")
        page.wait_for_url(site.url + "/")
        page.wait_for_load_state("networkidle")
        seen = page.request.get(site.url + "/api/v1/auth/session").json()
        assert seen["user"]["name"] == "carol"
        assert seen["user"]["teams"] == ["vision"]
        cookies = {c["name"]: c for c in context.cookies(site.url)}
        assert cookies["modelyard_session"]["httpOnly"] is True
        assert cookies["modelyard_session"]["sameSite"] == "Lax"
        assert "modelyard_oidc" not in cookies
        assert page.evaluate("document.cookie") == ""  # nothing a script can read
        assert not errors, errors
    finally:
        context.close()


def test_sign_in_from_the_login_page_in_chromium(
    site: Site, request: pytest.FixtureRequest
) -> None:
    """The web UI's login page offers single sign-on and comes back to the page asked for."""
    chromium = request.getfixturevalue("browser")
    site.provider.user = {"sub": "sub-dave", "preferred_username": "dave"}
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(site.url + "/login?next=%2Fmodels")
        page.get_by_test_id("sso").click()
        page.wait_for_url(site.url + "/models")
        seen = page.request.get(site.url + "/api/v1/auth/session").json()
        assert seen["user"]["name"] == "dave"
    finally:
        context.close()
