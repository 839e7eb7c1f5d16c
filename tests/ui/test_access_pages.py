"""Access control in the web UI, in a real chromium against a live server with auth on: logging
in and out, CSRF on every write, tokens shown once, users and grants made by an admin, what a
viewer sees and may not do, the audit log; and the same app with auth off shows no login."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from modelyard.access.oidc import OidcSettings
from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from modelyard.testing.oidc_provider import OidcProvider, oidc_provider
from modelyard.tracking.batches import new_run_id

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.ui]

ADMIN_PASSWORD = "admin-pass-0001"
OIDC_SECRET = "provider-secret-of-32-characters!!"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}


@dataclass(frozen=True)
class Site:
    """A live server with auth on and single sign-on: two experiments of one run each, made by
    the admin."""

    url: str
    provider: OidcProvider
    shared: int  # experiment id
    secret: int
    shared_run: str
    secret_run: str

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v1", auth=("admin", ADMIN_PASSWORD), timeout=30
        )


def _experiment(api: httpx.Client, name: str) -> tuple[int, str]:
    run_id = new_run_id()
    batch = {"run_id": run_id, "create": {"experiment_name": name, "name": f"{name}-run"}}
    got = api.post("/ingest", json={"batches": [batch]})
    assert got.status_code == 200, got.text
    exp = api.get(f"/experiments/by-name/{name}")
    assert exp.status_code == 200, exp.text
    return int(exp.json()["id"]), run_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ui-auth")
    with oidc_provider(client_id="modelyard", client_secret=OIDC_SECRET) as provider:
        settings = ServerSettings(
            store_uri=f"sqlite:///{tmp / 'store.db'}",
            artifacts_uri=str(tmp / "artifacts"),
            auth=True,
            admin_password=ADMIN_PASSWORD,
            oidc=OidcSettings(provider.issuer, "modelyard", OIDC_SECRET),
        )
        with serve_in_background(settings) as url:
            provider.redirect_uris[:] = [f"{url}/api/v1/auth/oidc/callback"]
            with httpx.Client(
                base_url=f"{url}/api/v1", auth=("admin", ADMIN_PASSWORD), timeout=30
            ) as api:
                shared, shared_run = _experiment(api, "shared-exp")
                secret, secret_run = _experiment(api, "secret-exp")
            yield Site(url, provider, shared, secret, shared_run, secret_run)


def shot(page: Page, name: str) -> None:
    """A screenshot for people to look at (not compared)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"access-{name}.png"))


def log_in(page: Page, url: str, name: str, password: str, path: str = "/") -> None:
    page.set_viewport_size(VIEWPORT)
    page.goto(url + path)
    form = page.get_by_test_id("login")
    form.get_by_label("User name").fill(name)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user-menu")).to_contain_text(name)


def menu(page: Page, item: str) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name=item).click()


def csrf_of(page: Page, url: str) -> str:
    got = page.request.get(f"{url}/api/v1/auth/session")
    assert got.ok
    token: str = got.json()["csrf"]
    assert token
    return token


@contextmanager
def other_browser(browser: Any) -> Iterator[Page]:
    """A second user's browser (cookies of its own); uncaught page errors fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    try:
        yield page
    except BaseException:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "access-other-browser-failed.png"), full_page=True)
        raise
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_login_refuses_a_wrong_password_then_signs_in_and_out(page: Page, site: Site) -> None:
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{site.url}/experiments/{site.shared}?filter=x")
    # not signed in: the login page, remembering where the user was going
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert "/login?next=" + quote(f"/experiments/{site.shared}?filter=x", safe="") in page.url
    expect(page.locator(".topbar nav")).to_have_count(0)
    shot(page, "login")
    form = page.get_by_test_id("login")
    form.get_by_label("User name").fill("admin")
    form.get_by_label("Password").fill("not-the-password")
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("wrong user name or password")
    expect(page).to_have_url(re.compile(r"/login"))
    assert all(c["name"] != "modelyard_session" for c in page.context.cookies())
    form.get_by_label("Password").fill(ADMIN_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    # signed in: back where the user was going
    expect(page).to_have_url(f"{site.url}/experiments/{site.shared}?filter=x")
    expect(page.get_by_test_id("user-menu")).to_have_text(re.compile(r"admin"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "modelyard_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
    page.get_by_test_id("user-menu").click()
    items = page.get_by_role("menuitem")
    expect(items).to_have_text(["Account", "Admin", "Audit", "Log out"])
    page.get_by_role("menuitem", name="Log out").click()
    expect(page.get_by_test_id("login")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_have_count(0)
    # the session is gone on the server too: a reload stays on the login page
    page.goto(f"{site.url}/models")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmodels"))
    assert page.request.get(f"{site.url}/api/v1/auth/session").json()["user"] is None


def test_writes_carry_the_csrf_token_and_one_without_it_is_refused(page: Page, site: Site) -> None:
    log_in(page, site.url, "admin", ADMIN_PASSWORD, f"/runs/{site.shared_run}")
    sent: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: (
            sent.append(r.headers) if r.method == "PATCH" and "/api/v1/runs/" in r.url else None
        ),
    )
    notes = page.get_by_test_id("notes")
    notes.get_by_role("button", name="Edit").click()
    notes.get_by_label("Markdown text").fill("written from the UI")
    notes.get_by_role("button", name="Save").click()
    expect(notes).to_contain_text("written from the UI")
    assert len(sent) == 1
    assert sent[0].get("x-csrf-token") == csrf_of(page, site.url)
    run_url = f"{site.url}/api/v1/runs/{site.shared_run}"
    # the same cookie without the header (a form or script on another site): refused, nothing written
    refused = page.request.patch(run_url, data={"notes": "forged"})
    assert refused.status == 403, refused.text()
    assert refused.json()["error_code"] == "CROSS_SITE_REQUEST"
    wrong = page.request.patch(
        run_url, data={"notes": "forged"}, headers={"X-CSRF-Token": "x" * 43}
    )
    assert wrong.status == 403
    from_script = page.evaluate(
        """async (url) => (await fetch(url, {method: "PATCH", credentials: "same-origin",
             headers: {"content-type": "application/json"}, body: '{"notes": "forged"}'})).status""",
        run_url,
    )
    assert from_script == 403
    with site.admin() as api:
        assert api.get(f"/runs/{site.shared_run}").json()["notes"] == "written from the UI"


def test_a_token_is_shown_once_works_and_is_revoked(page: Page, site: Site) -> None:
    log_in(page, site.url, "admin", ADMIN_PASSWORD)
    menu(page, "Account")
    expect(page).to_have_url(f"{site.url}/account")
    tokens = page.get_by_test_id("my-tokens")
    form = tokens.get_by_test_id("token-form")
    # a name written by a user is text, never markup
    name = '<img src=x onerror="window.__pwned=1">ci'
    form.get_by_label("token name").fill(name)
    form.get_by_label("token scope").select_option("read")
    form.get_by_label("expires in days").fill("30")
    form.get_by_role("button", name="Create").click()
    secret = tokens.get_by_test_id("secret-value").input_value()
    assert re.fullmatch(r"myt_[A-Za-z0-9_-]+", secret), secret
    expect(tokens.get_by_test_id("secret")).to_contain_text("shown only once")
    row = tokens.locator("tr", has_text=name)
    expect(row).to_contain_text("read")
    expect(row).to_contain_text("active")
    shot(page, "account")
    assert page.evaluate("window.__pwned") is None
    me = httpx.get(
        f"{site.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert me.status_code == 200
    assert me.json()["token"]["scope"] == "read"
    # the secret is never shown again
    page.reload()
    expect(tokens.locator("tr", has_text=name)).to_be_visible()
    assert secret not in page.content()
    expect(tokens.get_by_test_id("secret")).to_have_count(0)
    row = tokens.locator("tr", has_text=name)
    expect(row).to_contain_text("just now")  # its last use, from where
    expect(row).to_contain_text("127.0.0.1")
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(tokens.get_by_test_id("token-done")).to_contain_text("revoked")
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    gone = httpx.get(
        f"{site.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert gone.status_code == 401


def test_admin_grants_a_viewer_who_sees_only_that_experiment(
    page: Page, site: Site, browser: Any
) -> None:
    log_in(page, site.url, "admin", ADMIN_PASSWORD)
    menu(page, "Admin")
    form = page.get_by_test_id("user-form")
    form.get_by_label("user name").fill("bob")
    form.get_by_label("password").fill("bob-pass-0001")
    form.get_by_role("button", name="Create").click()
    expect(page.get_by_test_id("users-done")).to_contain_text("User bob created")
    bob = page.get_by_test_id("users").locator("tr[data-user='bob']")
    expect(bob).to_contain_text("active")
    shot(page, "admin-users")
    page.get_by_role("tab", name="grants").click()
    grant = page.get_by_test_id("grant-form")
    grant.get_by_label("principal kind").select_option("user")
    grant.get_by_label("principal", exact=True).select_option("bob")
    grant.get_by_label("role").select_option("viewer")
    grant.get_by_label("object kind").select_option("experiment")
    grant.get_by_label("object", exact=True).fill(str(site.shared))
    grant.get_by_role("button", name="Grant").click()
    expect(page.get_by_test_id("grants-done")).to_contain_text(
        "user bob is now viewer on experiment"
    )
    row = page.get_by_test_id("grants").locator("tr", has_text="bob")
    expect(row).to_contain_text(f"shared-exp (#{site.shared})")
    expect(row).to_contain_text("viewer")
    # the filters narrow the list (and live in the address)
    page.get_by_label("filter by principal").select_option("user:bob")
    expect(page).to_have_url(re.compile(r"principal=user%3Abob"))
    expect(page.get_by_test_id("grants").locator("tbody tr")).to_have_count(1)
    shot(page, "admin-grants")

    with other_browser(browser) as viewer:
        log_in(viewer, site.url, "bob", "bob-pass-0001")
        # the experiments overview, and the runs page's sidebar, list only the granted one
        rows = viewer.get_by_test_id("experiments").locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text("shared-exp")
        viewer.goto(f"{site.url}/experiments/{site.shared}")
        sidebar = viewer.get_by_role("navigation", name="Experiments")
        expect(sidebar.locator("li")).to_have_text(["shared-exp"])
        viewer.get_by_test_id("user-menu").click()
        expect(viewer.get_by_role("menuitem")).to_have_text(["Account", "Log out"])
        viewer.keyboard.press("Escape")
        # a write the viewer may not make: the reason, in place
        viewer.goto(f"{site.url}/runs/{site.shared_run}")
        notes = viewer.get_by_test_id("notes")
        notes.get_by_role("button", name="Edit").click()
        notes.get_by_label("Markdown text").fill("bob was here")
        notes.get_by_role("button", name="Save").click()
        expect(notes.locator(".error")).to_contain_text(
            f"You need the editor role on experiment '{site.shared}' (you have viewer)."
        )
        expect(viewer.get_by_test_id("user-menu")).to_be_visible()  # still signed in
        # the other experiment's run does not exist for bob, and the admin page says why not
        viewer.goto(f"{site.url}/runs/{site.secret_run}")
        expect(viewer.get_by_role("alert")).to_contain_text(
            re.compile(r"role|not exist|not found", re.I)
        )
        viewer.goto(f"{site.url}/admin")
        expect(viewer.get_by_role("alert").first).to_contain_text(
            "You need the admin role on the server"
        )
    with site.admin() as api:
        assert api.get(f"/runs/{site.shared_run}").json()["notes"] != "bob was here"


def test_a_401_anywhere_goes_to_the_login_page_and_back(page: Page, site: Site) -> None:
    log_in(page, site.url, "admin", ADMIN_PASSWORD, "/help")  # a page that polls nothing
    # the session ends behind the page's back (another tab logs out)
    ended = page.request.post(
        f"{site.url}/api/v1/auth/logout", headers={"X-CSRF-Token": csrf_of(page, site.url)}
    )
    assert ended.status == 204
    page.locator(".topbar nav").get_by_role("link", name="Models").click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmodels$"))
    form = page.get_by_test_id("login")
    form.get_by_label("User name").fill("admin")
    form.get_by_label("Password").fill(ADMIN_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site.url}/models")
    # a next that leaves the app is ignored
    page.goto(f"{site.url}/login?next=//evil.example/x")
    expect(page).to_have_url(re.compile(rf"^{re.escape(site.url)}/"))


def test_single_sign_on_from_the_login_page(page: Page, site: Site) -> None:
    site.provider.user = {"sub": "sub-dana", "preferred_username": "dana", "groups": []}
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{site.url}/models")
    button = page.get_by_test_id("sso")
    expect(button).to_have_text("Sign in with single sign-on")
    assert button.get_attribute("href") == "/api/v1/auth/oidc/login?next=%2Fmodels"
    button.click()  # the provider approves at once, and sends the browser back
    expect(page.get_by_test_id("user-menu")).to_contain_text("dana")
    expect(page).to_have_url(f"{site.url}/models")
    menu(page, "Account")
    expect(page.locator("main")).to_contain_text("You sign in with single sign-on")
    expect(page.get_by_test_id("password")).to_have_count(0)


def test_the_audit_page_lists_the_writes_and_verifies_the_chain(page: Page, site: Site) -> None:
    with site.admin() as api:
        made = api.post("/teams", json={"name": "auditors"})
        assert made.status_code == 201, made.text
        made = api.post("/users", json={"name": "carol", "password": "carol-pass-0001"})
        assert made.status_code == 201, made.text
        assert api.put("/teams/auditors/members/carol").status_code == 200
    log_in(page, site.url, "admin", ADMIN_PASSWORD)
    menu(page, "Audit")
    expect(page).to_have_url(f"{site.url}/audit")
    table = page.get_by_test_id("audit")
    member = table.locator("tr[data-seq]", has_text="/members/").filter(has_text="auditors").first
    expect(member).to_contain_text("admin")
    expect(member).to_contain_text("127.0.0.1")
    expect(member).to_contain_text("200")
    member.get_by_role("button", name=re.compile("changes")).click()
    changes = table.get_by_test_id("changes")
    expect(changes.locator("tr", has_text="members")).to_contain_text("carol")
    page.get_by_test_id("verify").get_by_role("button").click()
    expect(page.get_by_test_id("verify")).to_contain_text(re.compile(r"Chain intact: \d+ records"))
    shot(page, "audit")
    # filters narrow the records and the exports follow them
    page.get_by_label("actor").fill("admin")
    page.get_by_label("object id").fill("auditors")
    rows = table.locator("tr[data-seq]")
    expect(rows.filter(has_not_text="auditors")).to_have_count(0)
    expect(rows.first).to_be_visible()
    shown = rows.count()
    href = page.get_by_test_id("export-jsonl").get_attribute("href")
    assert href is not None
    assert "format=jsonl" in href
    assert "object_id=auditors" in href
    lines = page.request.get(site.url + href).text().splitlines()
    assert len(lines) == shown
    csv_href = page.get_by_test_id("export-csv").get_attribute("href")
    assert csv_href is not None
    assert page.request.get(site.url + csv_href).text().count("\n") >= shown + 1


def test_load_more_pages_the_audit_log_by_seq(page: Page, site: Site) -> None:
    with site.admin() as api:
        for i in range(105):
            assert api.post("/teams", json={"name": f"bulk-{i:03d}"}).status_code == 201
    log_in(page, site.url, "admin", ADMIN_PASSWORD, "/audit?action=teams")
    table = page.get_by_test_id("audit")
    expect(table.locator("tr[data-seq]")).to_have_count(100)
    page.get_by_test_id("load-more").click()
    expect(table.locator("tr[data-seq]")).not_to_have_count(100)
    seqs = [
        int(s)
        for s in table.locator("tr[data-seq]").evaluate_all("rs => rs.map(r => r.dataset.seq)")
    ]
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == len(seqs) > 100


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("ui-open")
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp / 'store.db'}", artifacts_uri=str(tmp / "artifacts")
    )
    with serve_in_background(settings) as url:
        yield url


def test_with_auth_off_there_is_no_login(page: Page, open_server: str) -> None:
    page.goto(open_server + "/models")
    expect(page.locator(".topbar nav").get_by_role("link", name="Models")).to_be_visible()
    expect(page.get_by_role("heading", name="Models")).to_be_visible()
    expect(page.get_by_test_id("user-menu")).to_have_count(0)
    expect(page.get_by_test_id("login")).to_have_count(0)
    page.goto(open_server + "/login?next=/datasets")
    expect(page).to_have_url(open_server + "/datasets")
    page.goto(open_server + "/account")
    expect(page.locator("main")).to_contain_text("Access control is off")
