"""Parallel coordinates with brushes and a colour legend, and the scatter plot's free axes with
log scales, on the compare page in a real browser."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.ui.conftest import Filled, review_shots
from tests.ui.plotdata import PlotRuns, fill_plot_runs

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def plots(filled: Filled, tmp_path_factory: pytest.TempPathFactory) -> PlotRuns:
    return fill_plot_runs(filled.url, tmp_path_factory.mktemp("plots-home"))


def open_compare(page: Any, plots: PlotRuns, query: str) -> None:
    ids = ",".join(r["id"] for r in plots.runs)
    page.goto(f"{plots.url}/compare?runs={ids}&{query}")


def drag(page: Any, axis: str, lo: float, hi: float) -> None:
    """Drag along an axis from `lo` to `hi` (fractions of its height, from the bottom)."""
    box = page.get_by_test_id(f"brush-area-{axis}").bounding_box()
    x = box["x"] + box["width"] / 2

    def at(f: float) -> float:
        return float(box["y"] + 6 + (1 - f) * (box["height"] - 12))

    page.mouse.move(x, at(lo))
    page.mouse.down()
    page.mouse.move(x, at(hi), steps=6)
    page.mouse.up()


def click_axis(page: Any, axis: str) -> None:
    box = page.get_by_test_id(f"brush-area-{axis}").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def brush_items(page: Any) -> list[str]:
    query = parse_qs(urlparse(page.url).query)
    return query["brush"][0].split(",") if "brush" in query else []


def kept(page: Any) -> set[str]:
    lines = page.get_by_test_id("parallel").locator("polyline.kept")
    return set(lines.evaluate_all("els => els.map(e => e.dataset.run)"))


def test_brushes_keep_the_runs_inside_every_range_and_survive_a_reload(
    page: Any, plots: PlotRuns
) -> None:
    open_compare(page, plots, "tab=parallel")
    everyone = {r["id"] for r in plots.runs}
    expect(page.get_by_test_id("parallel").locator("polyline.kept")).to_have_count(12)
    drag(page, "m:acc", 0.3, 0.7)
    expect(page).to_have_url(re.compile(r"brush="))
    [item] = brush_items(page)
    axis, lo, hi = item.rsplit(":", 2)
    assert axis == "m:acc"
    in_acc = {r["id"] for r in plots.runs if float(lo) <= r["acc"] <= float(hi)}
    assert 0 < len(in_acc) < 12
    expect(page.get_by_test_id("brush-count")).to_have_text(re.compile(f"^{len(in_acc)} of 12"))
    assert kept(page) == in_acc
    # a second brush ANDs: the top of the optimizer axis holds only "sgd" (adam, rmsprop, sgd)
    drag(page, "p:optimizer", 0.8, 1.0)
    expect(page).to_have_url(re.compile(r"optimizer"))
    sgd = {r["id"] for r in plots.runs if r["params"]["optimizer"] == "sgd"}
    both = in_acc & sgd
    assert 0 < len(both) < len(in_acc)
    expect(page.get_by_test_id("brush-count")).to_have_text(re.compile(f"^{len(both)} of 12"))
    assert kept(page) == both
    review_shots(page, "compare-parallel-brushed")
    page.reload()
    expect(page.get_by_test_id("brush-count")).to_have_text(re.compile(f"^{len(both)} of 12"))
    assert kept(page) == both
    expect(page.get_by_test_id("brush-m:acc")).to_be_visible()
    expect(page.get_by_test_id("brush-p:optimizer")).to_be_visible()
    # a click on an axis clears its brush only
    click_axis(page, "m:acc")
    expect(page.get_by_test_id("brush-m:acc")).to_have_count(0)
    assert brush_items(page) == ["p:optimizer:[sgd]"]
    expect(page.get_by_test_id("brush-count")).to_have_text(re.compile(f"^{len(sgd)} of 12"))
    assert kept(page) == sgd
    page.get_by_test_id("clear-brushes").click()
    expect(page.get_by_test_id("brush-count")).to_have_count(0)
    assert "brush=" not in page.url
    assert kept(page) == everyone


def test_the_colour_legend_spans_the_colour_metric(page: Page, plots: PlotRuns) -> None:
    open_compare(page, plots, "tab=parallel&color=acc")
    legend = page.get_by_test_id("color-legend")
    expect(legend).to_contain_text("acc")
    expect(legend.get_by_test_id("color-min")).to_have_text("0.4")
    expect(legend.get_by_test_id("color-max")).to_have_text("0.95")
    # the lowest value is drawn blue and the highest orange, the legend's two ends
    best, worst = plots.runs[-1]["id"], plots.runs[0]["id"]

    def line(rid: str) -> Locator:
        return page.locator(f'[data-testid=parallel] polyline[data-run="{rid}"]')

    expect(line(worst)).to_have_attribute("stroke", "hsl(240 75% 48%)")
    expect(line(best)).to_have_attribute("stroke", "hsl(40 75% 48%)")
    page.get_by_test_id("color-by").select_option("loss")
    expect(page).to_have_url(re.compile(r"color=loss"))
    expect(legend.get_by_test_id("color-min")).to_have_text("0.1667")  # 2 / 12
    expect(legend.get_by_test_id("color-max")).to_have_text("2")
    expect(line(worst)).to_have_attribute("stroke", "hsl(40 75% 48%)")  # run 0 has the most loss


def test_scatter_takes_any_param_or_metric_on_either_axis_with_log_scales(
    page: Any, plots: PlotRuns
) -> None:
    open_compare(page, plots, "tab=scatter")
    scatter = page.get_by_test_id("scatter")
    page.get_by_test_id("scatter-x").select_option("m:acc")
    page.get_by_test_id("scatter-y").select_option("m:delta")
    expect(page).to_have_url(re.compile(r"sx=m%3Aacc"))
    expect(page).to_have_url(re.compile(r"sy=m%3Adelta"))
    expect(scatter.locator("circle")).to_have_count(12)
    expect(page.get_by_test_id("scatter-left-out")).to_have_count(0)
    page.get_by_test_id("scatter-y-log").check()
    positive = {r["id"] for r in plots.runs if r["delta"] > 0}
    expect(scatter.locator("circle")).to_have_count(len(positive))
    dots = set(scatter.locator("circle").evaluate_all("els => els.map(e => e.dataset.run)"))
    assert dots == positive
    expect(page.get_by_test_id("scatter-left-out")).to_have_text(
        f"{12 - len(positive)} runs are left out: a log axis has no place for values of 0 or below."
    )
    expect(scatter).to_contain_text("delta (log)")
    # a param on y, a metric on x; text params have no log scale
    page.get_by_test_id("scatter-y").select_option("p:lr")
    expect(page.get_by_test_id("scatter-y-log")).to_be_checked()  # the log scale stays on
    expect(scatter.locator("circle")).to_have_count(12)
    expect(page.get_by_test_id("scatter-left-out")).to_have_count(0)
    ticks = scatter.locator("text.tick").all_text_contents()
    assert {"1e-4", "0.001", "0.01", "0.1"} <= set(ticks)  # one tick per power of ten
    page.get_by_test_id("scatter-x").select_option("p:optimizer")
    expect(page.get_by_test_id("scatter-x-log")).to_be_disabled()
    expect(scatter.locator("circle")).to_have_count(12)
    review_shots(page, "compare-scatter-log")
    page.reload()
    expect(page.get_by_test_id("scatter-x")).to_have_value("p:optimizer")
    expect(page.get_by_test_id("scatter-y")).to_have_value("p:lr")
    expect(page.get_by_test_id("scatter-y-log")).to_be_checked()
    assert "sylog=1" in page.url


def test_scatter_links_from_before_keep_their_axes(page: Any, plots: PlotRuns) -> None:
    open_compare(page, plots, "tab=scatter&sx=lr&sy=acc")  # x was a param, y a metric
    expect(page.get_by_test_id("scatter-x")).to_have_value("p:lr")
    expect(page.get_by_test_id("scatter-y")).to_have_value("m:acc")
    expect(page.get_by_test_id("scatter").locator("circle")).to_have_count(12)
