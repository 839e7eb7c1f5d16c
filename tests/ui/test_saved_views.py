"""Saved views on an experiment's runs page: save the page as it is under a name, open it from
the menu or from its shared link, rename and delete it; every change through the REST API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Filled, review_shots

pytestmark = pytest.mark.ui

ADAM = urlencode({"filter": "params.optimizer = 'adam'", "sort": "-metrics.acc"})


def views_of(filled: Filled) -> list[dict[str, Any]]:
    with filled.api() as api:
        found: list[dict[str, Any]] = api.get(f"/experiments/{filled.experiment_id}/views").json()
        return found


def test_save_open_share_rename_and_delete_a_view(page: Any, filled: Filled) -> None:
    eid = filled.experiment_id
    page.goto(f"{filled.url}/experiments/{eid}?{ADAM}")
    expect(page.get_by_test_id("run-count")).to_contain_text("12 runs")
    button = page.get_by_test_id("views-button")
    expect(button).to_contain_text("unsaved")
    button.click()
    menu = page.get_by_test_id("views-menu")
    expect(menu).to_contain_text("No saved views yet")
    menu.get_by_test_id("view-name").fill("Adam runs \u2728")
    menu.get_by_role("button", name="Save", exact=True).click()
    expect(menu.get_by_test_id("views-done")).to_contain_text("Saved as")
    expect(button).to_contain_text("Adam runs \u2728")  # the page is that view now
    [stored] = views_of(filled)
    assert stored["name"] == "Adam runs \u2728"
    assert "filter=params.optimizer" in stored["query"]
    assert "sort=-metrics.acc" in stored["query"]
    # a second view of the unfiltered page, and a taken name refused readably
    page.goto(f"{filled.url}/experiments/{eid}?group=p%3Alr")
    button.click()
    menu.get_by_test_id("view-name").fill("Adam runs \u2728")
    menu.get_by_role("button", name="Save", exact=True).click()
    expect(menu.get_by_test_id("views-error")).to_contain_text(
        "Save view refused: RESOURCE_ALREADY_EXISTS"
    )
    menu.get_by_test_id("view-name").fill("by lr")
    menu.get_by_role("button", name="Save", exact=True).click()
    expect(menu.locator(".view-row")).to_have_count(2)
    review_shots(page, "saved-views-menu")
    # open a view from the menu
    menu.get_by_role("link", name="Adam runs \u2728").click()
    expect(menu).to_have_count(0)
    expect(page.get_by_test_id("run-count")).to_contain_text("12 runs")
    assert "filter=params.optimizer" in page.url
    # its shared link resolves to it
    button.click()
    menu.get_by_role("button", name="Copy link to Adam runs \u2728").click()
    link = menu.get_by_test_id("view-link").input_value()
    assert link == f"{filled.url}/experiments/{eid}?view={stored['id']}"
    page.goto(f"{filled.url}/experiments/{eid}")
    expect(page.get_by_test_id("run-count")).to_contain_text("25 runs")
    page.goto(link)
    page.wait_for_url("**filter=params.optimizer*")
    assert "view=" not in page.url
    expect(page.get_by_test_id("run-count")).to_contain_text("12 runs")
    expect(button).to_contain_text("Adam runs \u2728")
    # rename, then delete (after a confirmation)
    button.click()
    menu.get_by_role("button", name="Rename Adam runs \u2728").click()
    menu.get_by_label("New name for Adam runs \u2728").fill("adam, best first")
    menu.get_by_role("button", name="Save", exact=True).first.click()
    expect(menu.get_by_role("link", name="adam, best first")).to_be_visible()
    assert {v["name"] for v in views_of(filled)} == {"adam, best first", "by lr"}
    menu.get_by_test_id("view-by lr").get_by_role("button", name="Delete").click()
    menu.get_by_role("button", name="Yes, delete").click()
    expect(menu.locator(".view-row")).to_have_count(1)
    assert [v["name"] for v in views_of(filled)] == ["adam, best first"]
    # Escape closes the menu and gives the focus back to its button
    page.keyboard.press("Escape")
    expect(menu).to_have_count(0)
    expect(button).to_be_focused()


def test_a_link_to_a_missing_view_says_so(page: Any, filled: Filled) -> None:
    page.goto(f"{filled.url}/experiments/{filled.experiment_id}?view=987654")
    expect(page.get_by_test_id("view-link-error")).to_contain_text(
        "Saved view 987654 could not be opened"
    )
    expect(page.get_by_test_id("run-count")).to_contain_text("runs")
