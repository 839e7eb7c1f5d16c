"""The runs table in a real browser: rows, filter with completion and errors, sort, columns,
group, selection, keyboard, live updates, and state in the URL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Filled

pytestmark = pytest.mark.ui


def open_table(page: Any, filled: Filled, query: str = "") -> None:
    page.goto(f"{filled.url}/experiments/{filled.experiment_id}{query}")
    expect(page.get_by_test_id("runs-table")).to_be_visible()


def run_names(page: Any) -> list[str]:
    return [n for n in page.locator(".tr:not(.group) .td:nth-child(2)").all_inner_texts()]


def test_lists_every_run_and_shows_metric_and_param_columns(page: Any, filled: Filled) -> None:
    open_table(page, filled)
    expect(page.get_by_test_id("run-count")).to_contain_text("25 runs")
    expect(page.get_by_test_id("run-count")).to_contain_text("1 running")
    headers = page.locator(".thead .th").all_inner_texts()
    assert any("acc" in h for h in headers)
    assert any("optimizer" in h for h in headers)
    row = page.locator(f'[data-run="{filled.runs[5]["id"]}"]')
    expect(row).to_contain_text("run-05")
    expect(row).to_contain_text(str(filled.runs[5]["acc"]))
    expect(row).to_contain_text("adam" if 5 % 2 == 0 else "sgd")


def test_filter_sort_and_share_by_url(page: Any, filled: Filled) -> None:
    open_table(page, filled)
    box = page.get_by_test_id("filter")
    box.fill("metrics.acc > 0.9 AND params.optimizer = 'sgd'")
    box.press("Enter")
    expected = [
        r for r in filled.runs if r["acc"] and r["acc"] > 0.9 and r["params"]["optimizer"] == "sgd"
    ]
    expect(page.get_by_test_id("run-count")).to_contain_text(f"{len(expected)} runs")
    assert "filter=" in page.url
    # sort by acc: the header cycles descending first, then ascending
    page.locator(".th", has_text="acc").first.click()
    expect(page.locator(".th", has_text="acc").first).to_have_attribute("aria-sort", "descending")
    best = max(expected, key=lambda r: r["acc"])
    expect(page.locator(".tr").first).to_contain_text(best["name"])
    page.locator(".th", has_text="acc").first.click()
    worst = min(expected, key=lambda r: r["acc"])
    expect(page.locator(".tr").first).to_contain_text(worst["name"])
    # the same URL in a new page shows the same view
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    expect(page.get_by_test_id("run-count")).to_contain_text(f"{len(expected)} runs")
    expect(page.get_by_test_id("filter")).to_have_value(
        "metrics.acc > 0.9 AND params.optimizer = 'sgd'"
    )
    expect(page.locator(".tr").first).to_contain_text(worst["name"])


def test_bad_filter_shows_the_server_error_inline(page: Any, filled: Filled) -> None:
    open_table(page, filled)
    box = page.get_by_test_id("filter")
    box.fill("metrics.acc > AND")
    box.press("Enter")
    error = page.get_by_test_id("filter-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("position")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.fill("metrics.acc > 0.5")
    box.press("Enter")
    expect(error).to_be_hidden()


def test_completion_offers_keys_and_operators(page: Any, filled: Filled) -> None:
    open_table(page, filled)
    box = page.get_by_test_id("filter")
    box.click()
    box.type("metrics.a")
    completions = page.get_by_test_id("completions")
    expect(completions).to_contain_text("metrics.acc")
    box.press("Tab")
    expect(box).to_have_value("metrics.acc ")
    expect(completions).to_contain_text(">=")


def test_columns_group_by_and_keyboard_selection(page: Any, filled: Filled) -> None:
    open_table(page, filled)
    page.get_by_test_id("columns-button").click()
    page.get_by_test_id("columns").get_by_label("loss").uncheck()
    assert "cols=" in page.url
    expect(page.locator(".thead .th", has_text=re.compile(r"^m?loss$"))).to_have_count(0)
    page.get_by_test_id("columns").get_by_role("button", name="Done").click()
    page.get_by_test_id("group-by").select_option("p:optimizer")
    groups = page.get_by_test_id("group-row")
    expect(groups).to_have_count(3)  # adam, sgd, and "(none)" for the run without params
    expect(groups.filter(has_text="adam")).to_contain_text("12 runs")
    page.get_by_test_id("group-by").select_option("status")
    expect(groups.filter(has_text="RUNNING")).to_contain_text("1 runs")
    page.get_by_test_id("group-by").select_option("")
    # keyboard: j moves, x selects, c compares
    page.locator("body").press("j")
    page.locator("body").press("x")
    page.locator("body").press("j")
    page.locator("body").press("x")
    expect(page.get_by_test_id("compare-button")).to_contain_text("2")
    page.locator("body").press("c")
    expect(page).to_have_url(re.compile(r"/compare\?runs="))


def test_live_updates_show_new_and_finished_runs(page: Any, filled: Filled) -> None:
    open_table(page, filled, "?filter=" + "name LIKE 'live%'")
    expect(page.get_by_test_id("run-count")).to_contain_text("0 runs")
    with filled.api() as api:
        created = api.post("/runs", json={"experiment_id": filled.experiment_id, "name": "live-1"})
        rid = created.json()["id"]
        # shown as running, so the next poll asks for it by id: the change cannot be missed
        expect(page.locator(f'[data-run="{rid}"]')).to_contain_text("running", timeout=20_000)
        api.patch(f"/runs/{rid}", json={"status": "FINISHED"})
        expect(page.locator(f'[data-run="{rid}"]')).to_contain_text("finished", timeout=20_000)
