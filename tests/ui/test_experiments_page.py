"""The experiments overview, not-found pages and the app shell (skip link, shortcuts that leave
focused controls alone) in a real browser, on a filled live server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Filled, review_shots

pytestmark = pytest.mark.ui


def test_overview_lists_experiments_with_runs_and_activity(page: Any, filled: Filled) -> None:
    with filled.api() as api:
        api.put(f"/experiments/{filled.experiment_id}/tags/team", json={"value": "vision"})
        listed = {e["name"]: e for e in api.get("/experiments").json()}
    page.goto(filled.url + "/")
    table = page.get_by_test_id("experiments")
    row = table.get_by_test_id(f"experiment-{filled.experiment_id}")
    expect(row).to_contain_text("ui-e2e")
    expect(row.get_by_test_id("runs")).to_have_text(str(listed["ui-e2e"]["runs"]))
    assert listed["ui-e2e"]["runs"] == len(filled.runs)
    expect(row).to_contain_text("team=vision")
    expect(row).to_contain_text(re.compile(r"just now|ago"))  # from the newest run's end
    review_shots(page, "experiments-overview")
    row.get_by_role("link", name="ui-e2e").click()
    page.wait_for_url(f"**/experiments/{filled.experiment_id}")


def test_create_rename_delete_and_restore(page: Any, filled: Filled) -> None:
    page.goto(filled.url + "/experiments")
    page.get_by_test_id("new-experiment").fill("made-in-ui")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_test_id("experiments-done")).to_contain_text("Created experiment made-in-ui")
    with filled.api() as api:
        made = api.get("/experiments/by-name/made-in-ui").json()
    row = page.get_by_test_id(f"experiment-{made['id']}")
    expect(row.get_by_test_id("runs")).to_have_text("0")
    expect(row).to_contain_text("no runs")

    row.get_by_role("button", name="rename made-in-ui").click()
    row.get_by_label("new name of made-in-ui").fill("renamed-in-ui")
    row.get_by_role("button", name="Save").click()
    expect(row.get_by_role("link", name="renamed-in-ui")).to_be_visible()
    with filled.api() as api:
        assert api.get(f"/experiments/{made['id']}").json()["name"] == "renamed-in-ui"

    row.get_by_role("button", name="Delete").click()
    row.get_by_role("button", name="Yes, delete").click()
    expect(row).to_have_count(0)
    with filled.api() as api:
        assert api.get(f"/experiments/{made['id']}").json()["lifecycle"] == "deleted"
    page.get_by_test_id("show-deleted").check()
    row = page.get_by_test_id(f"experiment-{made['id']}")
    row.get_by_role("button", name="Restore").click()
    expect(row).to_have_count(0)
    with filled.api() as api:
        assert api.get(f"/experiments/{made['id']}").json()["lifecycle"] == "active"


def test_refused_rename_is_shown(page: Any, filled: Filled) -> None:
    page.goto(filled.url + "/experiments")
    row = page.get_by_test_id(f"experiment-{filled.experiment_id}")
    row.get_by_role("button", name="rename ui-e2e").click()
    taken = page.get_by_test_id("experiments").get_by_role("link").nth(0).inner_text()
    other = taken if taken != "ui-e2e" else "Default"
    row.get_by_label("new name of ui-e2e").fill(other)
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("experiments-error")).to_contain_text("Rename refused")


@pytest.mark.parametrize(
    ("path", "text", "back"),
    [
        ("/experiments/987654", "experiment 987654", "all experiments"),
        ("/experiments/abc", "experiment with that id", "all experiments"),
        ("/no/such/page", "page at /no/such/page", "all experiments"),
        ("/models/no-such-model", "model no-such-model", "all models"),
        (
            "/models/demo-classifier/versions/999",
            "version 999 of model demo-classifier",
            "all versions",
        ),
        ("/datasets/no-such-data", "dataset no-such-data", "all datasets"),
        ("/deployments/no-such-deploy", "deployment no-such-deploy", "all deployments"),
    ],
    ids=["experiment", "bad-id", "route", "model", "version", "dataset", "deployment"],
)
def test_not_found_pages_offer_a_way_back(
    page: Any, filled: Filled, path: str, text: str, back: str
) -> None:
    page.goto(filled.url + path)
    box = page.get_by_test_id("not-found")
    expect(box).to_contain_text(f"There is no {text}")
    if path == "/experiments/987654":
        review_shots(page, "not-found")
    box.get_by_role("link", name=back).click()
    expect(page.get_by_test_id("not-found")).to_have_count(0)


def test_skip_link_and_shortcuts_leave_focused_controls_alone(page: Any, filled: Filled) -> None:
    page.goto(filled.url + "/experiments")
    page.get_by_test_id("experiments").wait_for()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # visible while focused
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()

    theme = page.locator("html").get_attribute("data-theme")
    page.get_by_test_id("theme").focus()
    page.keyboard.press("t")  # a focused button keeps its keys
    assert page.locator("html").get_attribute("data-theme") == theme
    page.get_by_role("link", name="Models").focus()
    page.keyboard.press("g")
    page.keyboard.press("d")
    page.keyboard.press("Shift+?")
    assert page.url.endswith("/experiments")
    page.locator("main#content").focus()
    page.keyboard.press("g")
    page.keyboard.press("m")
    page.wait_for_url("**/models")
    page.locator("main#content").focus()
    page.keyboard.press("Shift+?")
    page.wait_for_url("**/help")
    expect(page.get_by_role("heading", name="Keyboard")).to_be_visible()
