"""Run page, compare, datasets and registry pages in a real browser, on a filled live server."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Filled

pytestmark = pytest.mark.ui


def test_run_page_overview_and_markdown_notes(page: Any, filled: Filled) -> None:
    run = filled.runs[3]
    page.goto(f"{filled.url}/runs/{run['id']}")
    expect(page.get_by_test_id("overview")).to_contain_text(run["id"])
    expect(page.get_by_test_id("params")).to_contain_text(run["params"]["lr"])
    expect(page.get_by_test_id("metrics")).to_contain_text("acc")
    notes = page.get_by_test_id("notes")
    notes.get_by_role("button", name="Edit").click()
    notes.get_by_label("Markdown text").fill(
        "# Findings\n\n**lr** too high <script>alert(1)</script>"
    )
    notes.get_by_role("button", name="Save").click()
    expect(notes.locator("h1")).to_have_text("Findings")
    expect(notes.locator("strong")).to_have_text("lr")
    assert notes.locator("script").count() == 0  # sanitised
    with filled.api() as api:
        assert api.get(f"/runs/{run['id']}").json()["notes"].startswith("# Findings")


def test_artifact_previews(page: Any, filled: Filled) -> None:
    rid = filled.runs[0]["id"]
    page.goto(f"{filled.url}/runs/{rid}?tab=artifacts")
    tree = page.get_by_test_id("artifacts")
    tree.get_by_test_id("artifact-plot.png").click()
    image = page.get_by_test_id("image-preview")
    expect(image).to_be_visible()
    page.wait_for_function(
        "document.querySelector('[data-testid=image-preview]').naturalWidth === 4"
    )
    tree.get_by_test_id("artifact-data").click()
    tree.get_by_test_id("artifact-data/table.csv").click()
    table = page.get_by_test_id("table-preview")
    expect(table).to_contain_text("30 rows shown")
    expect(table.locator("tbody tr").nth(5)).to_contain_text("25")  # 5 squared
    tree.get_by_test_id("artifact-data/t.parquet").click()
    expect(table).to_contain_text("3 rows shown of 3")
    expect(table).to_contain_text("label")
    page.goto(f"{filled.url}/runs/{rid}?tab=artifacts&dir=eval&path=eval/confusion_matrix.json")
    heatmap = page.get_by_test_id("heatmap")
    expect(heatmap).to_contain_text("dog")
    expect(heatmap).to_contain_text("accuracy 0.85 over 20 examples")
    page.goto(f"{filled.url}/runs/{rid}?tab=artifacts&path=report.html")
    frame = page.get_by_test_id("html-preview")
    expect(frame).to_have_attribute("sandbox", "allow-scripts")
    expect(page.frame_locator("[data-testid=html-preview]").locator("#r")).to_have_text(
        "Report body"
    )
    page.goto(f"{filled.url}/runs/{rid}?tab=artifacts&path=notes.txt")
    expect(page.get_by_test_id("text-preview")).to_have_text("caf\u00e9 notes\n")


def test_compare_charts_parallel_scatter_and_diff(page: Any, filled: Filled) -> None:
    picked = filled.runs[1:4]
    ids = ",".join(r["id"] for r in picked)
    page.goto(f"{filled.url}/compare?runs={ids}")
    chart = page.get_by_test_id("chart-acc")
    expect(chart.locator("canvas")).to_be_visible()
    expect(chart).to_contain_text("150 of 150 points drawn")  # 3 runs x 50 steps
    for name in (r["name"] for r in picked):
        expect(chart.locator(".u-legend")).to_contain_text(name)
    page.get_by_test_id("x-axis").select_option("relative")
    expect(page).to_have_url(re.compile(r"x=relative"))
    page.get_by_test_id("log-scale").check()
    expect(page).to_have_url(re.compile(r"log=1"))
    expect(chart.locator("canvas")).to_be_visible()
    page.get_by_role("tab", name="parallel").click()
    expect(page.get_by_test_id("parallel").locator("polyline")).to_have_count(3)
    page.get_by_role("tab", name="scatter").click()
    page.get_by_test_id("scatter-x").select_option("lr")
    expect(page.get_by_test_id("scatter").locator("circle")).to_have_count(3)
    page.get_by_role("tab", name="diff").click()
    diff = page.get_by_test_id("diff-table")
    expect(diff).to_contain_text("optimizer")  # differs between runs 1..3
    best = max(picked, key=lambda r: r["acc"])
    expect(diff.locator("td.best").first).to_have_text(str(best["acc"]))


def test_zoom_fetches_the_window_at_full_detail(page: Any, filled: Filled) -> None:
    long = next(r for r in filled.runs if r["name"] == "long")
    page.goto(f"{filled.url}/runs/{long['id']}?tab=charts")
    chart = page.get_by_test_id("chart-wave")
    expect(chart).to_contain_text("of 5,000 points drawn (downsampled")
    drawn = int(chart.inner_text().split(" of ")[0].split()[-1].replace(",", ""))
    assert drawn <= 1000
    box = chart.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y, steps=5)
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"zoom=\d+%2C\d+|zoom=\d+,\d+"))
    expect(chart).not_to_contain_text("downsampled")  # the ~500-step window comes back whole
    expect(page.get_by_test_id("reset-zoom")).to_be_visible()
    page.get_by_test_id("reset-zoom").click()
    expect(chart).to_contain_text("downsampled")


def test_dataset_page_shows_the_profile_and_users(page: Any, filled: Filled) -> None:
    page.goto(f"{filled.url}/datasets")
    page.get_by_test_id("datasets").get_by_role("link", name="demo-train").click()
    profile = page.get_by_test_id("profile")
    expect(profile.locator(".profile-card")).to_have_count(21)  # 20 features and the label
    expect(page.get_by_test_id("profile-f0").locator("svg rect")).to_have_count(20)
    expect(page.locator("text=read it (training)")).to_have_count(6)


def test_model_pages_versions_lineage_timeline_reviews(page: Any, filled: Filled) -> None:
    page.goto(f"{filled.url}/models")
    page.get_by_test_id("models").get_by_role("link", name="demo-classifier").click()
    expect(page.get_by_test_id("versions").locator("tbody tr")).to_have_count(6)
    champion = page.locator(".page-head .badge", has_text="champion")
    champion.click()
    lineage = page.get_by_test_id("lineage")
    expect(lineage).to_contain_text("demo-train v1")
    expect(page.get_by_test_id("package")).to_contain_text("sklearn")
    page.goto(f"{filled.url}/models/{quote('demo-classifier')}?tab=timeline&moves=1")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("alias champion")
    expect(timeline).to_contain_text("best accuracy of the sweep")
    expect(timeline).not_to_contain_text("registered")
    page.get_by_role("tab", name="reviews").click()
    card = page.locator("[data-testid^=promotion-]").first
    expect(card).to_contain_text("accuracy >= champion.accuracy")
    expect(card.locator(".gates .fail")).to_have_count(1)
    card.get_by_label("comment").fill("runner-up, should fail the gate")
    card.get_by_role("button", name="Comment").click()
    expect(card.locator(".comments")).to_contain_text("runner-up, should fail the gate")
    card.get_by_role("button", name="Approve").click()
    expect(card.get_by_role("alert")).to_contain_text("accuracy")  # GATE_FAILED, nothing changed
    page.get_by_role("tab", name="compare").click()
    expect(page.get_by_test_id("version-diff")).to_be_visible()
    page.get_by_role("tab", name="card").click()
    card_box = page.get_by_test_id("card")
    card_box.get_by_role("button", name="Edit").click()
    card_box.get_by_label("Markdown text").fill("## Intended use\n\nDemo only.")
    card_box.get_by_role("button", name="Save").click()
    expect(card_box.locator("h2")).to_have_text("Intended use")
    with filled.api() as api:
        assert api.get("/models/demo-classifier").json()["card"].startswith("## Intended use")


def test_theme_and_keyboard_navigation(page: Any, filled: Filled) -> None:
    page.goto(f"{filled.url}/help")
    expect(page.locator("html")).to_have_attribute("data-theme", re.compile("light|dark"))
    before = page.locator("html").get_attribute("data-theme")
    page.get_by_test_id("theme").click()
    after = page.locator("html").get_attribute("data-theme")
    assert after != before
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", after)
    page.locator("body").press("g")
    page.locator("body").press("m")
    expect(page).to_have_url(re.compile(r"/models$"))
    page.locator("body").press("g")
    page.locator("body").press("e")
    expect(page.get_by_test_id("experiments")).to_be_visible()  # the overview
    page.goto(f"{filled.url}/experiments/{filled.experiment_id}")
    expect(page.get_by_test_id("runs-table")).to_be_visible()
    page.locator("body").press("/")
    expect(page.get_by_test_id("filter")).to_be_focused()


def test_run_page_follows_a_running_run(page: Any, filled: Filled) -> None:
    with filled.api() as api:
        rid = api.post(
            "/runs", json={"experiment_id": filled.experiment_id, "name": "live-run"}
        ).json()["id"]
        api.post(f"/runs/{rid}/log", json={"metrics": [{"key": "loss", "values": [1.0]}]})
        page.goto(f"{filled.url}/runs/{rid}?tab=charts")
        chart = page.get_by_test_id("chart-loss")
        expect(chart).to_contain_text("1 of 1 points drawn")
        api.post(
            f"/runs/{rid}/log",
            json={"metrics": [{"key": "loss", "values": [0.5, 0.25], "steps": [1, 2]}]},
        )
        expect(chart).to_contain_text("3 of 3 points drawn", timeout=15_000)
        api.patch(f"/runs/{rid}", json={"status": "FINISHED"})
        expect(page.locator(".page-head .status")).to_have_text("finished", timeout=15_000)


def test_a_page_loaded_on_demand_that_is_gone_asks_for_a_reload(page: Any, filled: Filled) -> None:
    # the models page is its own file, fetched when first opened; an upgraded server no longer
    # has the file an open tab asks for
    page.route(re.compile(r"/assets/Models-[^/]*\.js$"), lambda route: route.fulfill(status=404))
    page.goto(f"{filled.url}/experiments")
    expect(page.get_by_test_id("experiments")).to_be_visible()
    page.get_by_role("link", name="Models", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("could not be loaded")
    page.unroute(re.compile(r"/assets/Models-[^/]*\.js$"))
    alert.get_by_role("button", name="Reload").click()
    expect(page.get_by_role("heading", name=re.compile("Models", re.I))).to_be_visible()
