"""The runs page's chart panel in a real browser: toggled in the URL, the selected runs or else the
table's, line charts of the chosen metrics, parallel coordinates, scatter, and the image grid."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import Filled, review_shots
from tests.ui.plotdata import IMAGE_STEPS, PlotRuns, fill_plot_runs

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def plots(filled: Filled, tmp_path_factory: pytest.TempPathFactory) -> PlotRuns:
    return fill_plot_runs(filled.url, tmp_path_factory.mktemp("panel-home"))


def open_runs(page: Any, plots: PlotRuns, query: str = "") -> None:
    page.goto(f"{plots.url}/experiments/{plots.experiment_id}{query}")
    expect(page.get_by_test_id("run-count")).to_contain_text("12 runs")


def legend_names(page: Any, metric: str) -> set[str]:
    chart = page.get_by_test_id(f"chart-{metric}")
    expect(chart.locator("canvas")).to_be_visible()
    drawn = chart.locator("[data-ready=true]")
    return set(json.loads(drawn.get_attribute("data-series") or "[]"))


def test_the_panel_charts_the_selected_runs_or_else_the_tables(page: Any, plots: PlotRuns) -> None:
    open_runs(page, plots)
    expect(page.get_by_test_id("chart-panel")).to_have_count(0)
    page.get_by_test_id("charts-toggle").click()
    expect(page).to_have_url(re.compile(r"charts=1"))
    panel = page.get_by_test_id("chart-panel")
    expect(panel.get_by_test_id("chart-panel-runs")).to_contain_text("the 12 runs in the table")
    # the first three metrics, each run's three points
    for metric in ("acc", "delta", "loss"):
        expect(panel.get_by_test_id(f"chart-{metric}")).to_contain_text("36 of 36 points drawn")
    assert legend_names(page, "acc") == {r["name"] for r in plots.runs}
    review_shots(page, "runs-chart-panel")
    # a filter narrows the table, and the panel with it
    page.get_by_test_id("filter").fill("params.optimizer = 'sgd'")
    page.get_by_test_id("filter").press("Enter")
    sgd = {r["name"] for r in plots.runs if r["params"]["optimizer"] == "sgd"}
    expect(panel.get_by_test_id("chart-panel-runs")).to_contain_text(f"the {len(sgd)} runs in")
    expect(panel.get_by_test_id("chart-acc")).to_contain_text(f"{3 * len(sgd)} of {3 * len(sgd)}")
    assert legend_names(page, "acc") == sgd
    # selected runs win over the table's
    picked = sorted(sgd)[:2]
    for name in picked:
        page.get_by_label(f"select {name}").check()
    expect(panel.get_by_test_id("chart-panel-runs")).to_have_text("the 2 selected runs")
    expect(panel.get_by_test_id("chart-acc")).to_contain_text("6 of 6 points drawn")
    assert legend_names(page, "acc") == set(picked)
    # the chosen metrics are kept in the URL
    panel.get_by_test_id("panel-metrics").get_by_role("button", name="delta").click()
    expect(page).to_have_url(re.compile(r"cm=acc%2Closs|cm=acc,loss"))
    expect(panel.get_by_test_id("chart-delta")).to_have_count(0)
    page.reload()
    expect(panel.get_by_test_id("chart-panel-runs")).to_have_text("the 2 selected runs")
    expect(panel.get_by_test_id("chart-loss")).to_contain_text("6 of 6 points drawn")
    expect(panel.get_by_test_id("chart-delta")).to_have_count(0)
    page.get_by_test_id("charts-toggle").click()
    expect(page.get_by_test_id("chart-panel")).to_have_count(0)
    assert "charts=1" not in page.url


def test_the_panel_tabs_draw_parallel_coordinates_and_a_scatter(page: Any, plots: PlotRuns) -> None:
    open_runs(page, plots, "?charts=1&cm=acc,loss")
    panel = page.get_by_test_id("chart-panel")
    panel.get_by_role("tab", name="parallel").click()
    expect(page).to_have_url(re.compile(r"ctab=parallel"))
    parallel = panel.get_by_test_id("parallel")
    expect(parallel.locator("polyline.kept")).to_have_count(12)
    axes = parallel.locator("[data-axis]").evaluate_all("els => els.map(e => e.dataset.axis)")
    assert axes == ["p:lr", "p:optimizer", "m:acc", "m:loss"]  # params that vary, chosen metrics
    expect(panel.get_by_test_id("color-min")).to_have_text("0.4")
    page.get_by_label("select p-01").check()
    page.get_by_label("select p-02").check()
    expect(parallel.locator("polyline")).to_have_count(2)
    panel.get_by_role("tab", name="scatter").click()
    panel.get_by_test_id("scatter-x").select_option("m:loss")
    panel.get_by_test_id("scatter-x-log").check()
    expect(panel.get_by_test_id("scatter").locator("circle")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"ctab=scatter.*sxlog=1|sxlog=1.*ctab=scatter"))


def test_the_image_grid_shows_each_runs_image_for_the_step(page: Any, plots: PlotRuns) -> None:
    runs = plots.runs
    chosen = [runs[0], runs[1], runs[2], runs[3]]  # run 3 logged no image
    sel = ",".join(r["id"] for r in chosen)
    open_runs(page, plots, f"?charts=1&ctab=images&sel={sel}")
    grid = page.get_by_test_id("image-grid")
    expect(grid.get_by_test_id("image-cell")).to_have_count(4)
    expect(page.get_by_test_id("image-key")).to_have_value("samples")
    keys = page.get_by_test_id("image-key").locator("option").all_inner_texts()
    assert keys == ["samples", "val/pred"]

    def shows(step: int) -> None:
        """Each run's image is its last at or before `step` (sized 4 + step wide, 4 + run high)."""
        expect(page.get_by_test_id("image-step-value")).to_have_text(str(step))
        for index, run in enumerate(chosen):
            cell = grid.locator(f'[data-run="{run["id"]}"]')
            expected = max((s for s in IMAGE_STEPS.get(index, []) if s <= step), default=None)
            if expected is None:
                expect(cell).to_contain_text(f"no image at or before step {step}")
                expect(cell.locator("img")).to_have_count(0)
                continue
            img = cell.locator("img")
            expect(img).to_have_attribute("src", re.compile(f"step_{expected}\\.png$"))
            page.wait_for_function(
                "([el, w, h]) => el.complete && el.naturalWidth === w && el.naturalHeight === h",
                arg=[img.element_handle(), 4 + expected, 4 + index],
            )
            expect(cell).to_contain_text(f"step {expected}")

    shows(10)  # the last step by default
    expect(grid.locator(f'[data-run="{runs[2]["id"]}"]')).to_contain_text(
        "step 0 (the last at or before 10)"
    )
    review_shots(page, "runs-chart-panel-images")
    slider = page.get_by_test_id("image-step")
    slider.fill("1")  # steps 0, 5, 10
    expect(page).to_have_url(re.compile(r"step=5"))
    shows(5)
    slider.fill("0")
    shows(0)
    page.reload()
    shows(0)
    page.get_by_test_id("image-key").select_option("val/pred")
    expect(page).to_have_url(re.compile(r"img=val%2Fpred"))
    expect(page.get_by_test_id("image-step-value")).to_have_text("3")
    expect(grid.locator(f'[data-run="{runs[0]["id"]}"] img')).to_have_attribute(
        "src", re.compile(r"images/val/pred/step_3\.png$")
    )
    expect(grid.locator(f'[data-run="{runs[1]["id"]}"]')).to_contain_text("no image")
