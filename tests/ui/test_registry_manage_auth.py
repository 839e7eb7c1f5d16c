"""Registry management with auth on, in a real browser: an editor of a model edits its tags, and
a stage change (maintainer only) is refused readably in the dialog, writing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from modelyard.tracking.batches import new_run_id

pytestmark = [pytest.mark.ui]

ADMIN_PASSWORD = "admin-pass-0001"
EDITOR_PASSWORD = "editor-pass-0001"


@dataclass(frozen=True)
class Site:
    url: str

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v1", auth=("admin", ADMIN_PASSWORD), timeout=30
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("ui-registry-auth")
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp / 'store.db'}",
        artifacts_uri=str(tmp / "artifacts"),
        auth=True,
        admin_password=ADMIN_PASSWORD,
    )
    with serve_in_background(settings) as url:
        site = Site(url)
        with site.admin() as api:
            rid = new_run_id()
            batch = {"run_id": rid, "create": {"experiment_name": "auth-exp", "name": "r"}}
            assert api.post("/ingest", json={"batches": [batch]}).status_code == 200
            put = api.put(f"/runs/{rid}/artifacts/m/MLmodel", content=b"flavors: {}\n")
            assert put.status_code == 201, put.text
            made = api.post("/models/guarded/versions/from-run", json={"run_id": rid, "path": "m"})
            assert made.status_code == 201, made.text
            user = api.post("/users", json={"name": "ed", "password": EDITOR_PASSWORD})
            assert user.status_code == 201, user.text
            grant = {
                "principal": "user:ed",
                "kind": "model",
                "resource": "guarded",
                "role": "editor",
            }
            assert api.post("/grants", json=grant).status_code == 201
        yield site


def log_in(page: Page, url: str, path: str) -> None:
    page.goto(url + path)
    form = page.get_by_test_id("login")
    form.get_by_label("User name").fill("ed")
    form.get_by_label("Password").fill(EDITOR_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user-menu")).to_contain_text("ed")


def test_an_editor_sets_tags_and_is_refused_a_stage_readably(page: Page, site: Site) -> None:
    log_in(page, site.url, "/models/guarded/versions/1")
    manage = page.get_by_test_id("version-manage")
    manage.get_by_role("button", name="Add tag").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("tag-key").fill("owner")
    dialog.get_by_test_id("tag-value").fill("ed")
    dialog.get_by_test_id("reason").fill("I look after it")
    dialog.get_by_role("button", name="Set tag").click()
    expect(manage.get_by_test_id("tags")).to_contain_text("owner=ed")

    manage.get_by_role("button", name="Change stage").click()
    dialog = page.get_by_test_id("reason-dialog")
    dialog.get_by_test_id("stage").select_option("Production")
    dialog.get_by_test_id("reason").fill("ship it")
    dialog.get_by_role("button", name="Change stage").click()
    error = dialog.get_by_test_id("dialog-error")
    expect(error).to_contain_text("You need the maintainer role on model")
    expect(dialog).to_be_visible()  # kept open: the reason typed is not lost
    dialog.get_by_role("button", name="Cancel").click()
    with site.admin() as api:
        version = api.get("/models/guarded/versions/1").json()
        history = api.get("/models/guarded/history").json()
    assert (version["stage"], version["tags"]) == ("None", {"owner": "ed"})
    assert [(e["action"], e["user"], e["detail"].get("reason")) for e in history[-1:]] == [
        ("tag_set", "ed", "I look after it")
    ]
