"""The compare page's charts in Chromium: single values, the hover tooltip and focus, the diff
tab's direction, legends with many runs, the theme, and a metric as the x axis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from modelyard.server.app import ServerSettings
from modelyard.testing.server import live_server
from modelyard.tracking.batches import new_run_id
from tests.ui.conftest import AXIS_INK, review_shots

pytestmark = pytest.mark.ui

STEPS = 20
NAMES = [f"r{i}" for i in range(5)]  # r0 has the lowest loss and accuracy, r4 the highest


def loss(i: int, s: int) -> float:
    return round(0.1 * (i + 1) + 0.001 * s, 6)  # r0 lowest (best), nearly flat


def acc(i: int, s: int) -> float:
    return round(0.5 + 0.05 * i + 0.002 * s, 6)  # r4 highest (best), rising with the step


@dataclass(frozen=True)
class Charts:
    url: str
    five: list[str]  # r0..r4
    many: list[str]  # 50 runs

    def compare(self, ids: list[str], query: str = "") -> str:
        return f"{self.url}/compare?runs={','.join(ids)}{query}"


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Charts]:
    tmp = tmp_path_factory.mktemp("charts")
    settings = ServerSettings(
        store_uri=f"sqlite:///{tmp / 'store.db'}", artifacts_uri=str(tmp / "artifacts")
    )
    with live_server(settings) as url, httpx.Client(base_url=f"{url}/api/v1") as api:
        five, many, batches = [], [], []
        for i in range(5):
            five.append(new_run_id())
            metrics = [
                {"key": "loss", "values": [loss(i, s) for s in range(STEPS)]},
                {"key": "acc", "values": [acc(i, s) for s in range(STEPS)]},
                {"key": "test_score", "values": [0.8 + 0.02 * i]},  # logged once (autolog)
                {"key": "test_log_loss", "values": [0.3 - 0.02 * i]},
            ]
            create = {"experiment_name": "charts-e2e", "name": NAMES[i]}
            batches.append({"run_id": five[-1], "create": create, "metrics": metrics})
        for i in range(50):
            many.append(new_run_id())
            metrics = [{"key": "loss", "values": [1 / (s + 1 + i) for s in range(10)]}]
            create = {
                "experiment_name": "charts-many",
                "name": f"many-run-with-a-long-name-{i:02d}",
            }
            batches.append({"run_id": many[-1], "create": create, "metrics": metrics})
        assert api.post("/ingest", json={"batches": batches}).status_code == 200
        yield Charts(url, five, many)


def ready(page: Any, metric: str) -> Any:
    chart = page.get_by_test_id(f"chart-{metric}")
    expect(chart.locator("[data-ready=true]")).to_have_count(1)
    return chart


def hover(page: Any, chart: Any, fx: float, fy: float) -> None:
    """Put the mouse at a fraction of the chart's plotting area."""
    box = chart.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def test_single_values_are_bars_across_runs_and_a_labelled_point_alone(
    page: Any, charts: Charts
) -> None:
    page.goto(charts.compare(charts.five, "&metrics=test_score,test_log_loss"))
    score = page.get_by_test_id("chart-test_score").get_by_test_id("value-chart")
    bars = score.locator("g[data-run]")
    expect(bars).to_have_count(5)
    # best first: the highest score, the lowest log loss
    assert [bars.nth(i).get_attribute("data-run") for i in range(5)] == NAMES[::-1]
    expect(score.locator(".bar-value").first).to_have_text("0.88")
    log_loss = page.get_by_test_id("chart-test_log_loss").locator("g[data-run]")
    expect(log_loss).to_have_count(5)
    assert log_loss.first.get_attribute("data-run") == "r4"  # 0.22, the lowest
    bars.nth(2).hover()
    expect(score.get_by_test_id("value-hover")).to_have_text("r2: 0.84")
    review_shots(page, "compare-single-values")

    page.goto(f"{charts.url}/runs/{charts.five[2]}?tab=charts")
    alone = ready(page, "test_score")
    expect(alone.get_by_test_id("point-label")).to_have_text("0.84")
    assert alone.locator("[data-ready=true]").get_attribute("data-points") == "1"
    review_shots(page, "run-single-value")


def test_tooltip_lists_every_run_best_first_and_focuses_the_nearest(
    page: Any, charts: Charts
) -> None:
    page.goto(charts.compare(charts.five, "&metrics=loss,acc"))
    chart = ready(page, "loss")
    hover(page, chart, 0.5, 0.5)
    tip = chart.get_by_test_id("chart-tooltip")
    expect(tip).to_be_visible()
    expect(tip.locator(".tip-x")).to_contain_text("step")
    rows = tip.locator(".tip-row")
    expect(rows).to_have_count(5)
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.series)") == NAMES  # lower is better
    # top to bottom, the focus moves from the highest line to the lowest
    box = chart.locator(".u-over").bounding_box()
    focused: list[str] = []
    for y in range(2, int(box["height"]) - 2, 3):
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + y)
        name = chart.locator("[data-ready=true]").get_attribute("data-focused")
        if name and (not focused or focused[-1] != name):
            focused.append(name)
            expect(tip.locator(".tip-row.focused")).to_have_attribute("data-series", name)
    assert focused == NAMES[::-1]

    accuracy = ready(page, "acc")
    hover(page, accuracy, 0.5, 0.5)
    acc_rows = accuracy.get_by_test_id("chart-tooltip").locator(".tip-row")
    expect(acc_rows).to_have_count(5)
    series = acc_rows.evaluate_all("rs => rs.map(r => r.dataset.series)")
    assert series == NAMES[::-1]  # higher accuracy is better
    review_shots(page, "compare-tooltip")


def test_diff_colours_follow_the_metric_direction_and_its_toggle(page: Any, charts: Charts) -> None:
    page.goto(charts.compare(charts.five, "&tab=diff"))
    loss_row = page.get_by_test_id("diff-metric-loss")
    acc_row = page.get_by_test_id("diff-metric-acc")
    last = STEPS - 1
    expect(loss_row.locator("td.best")).to_have_text(str(loss(0, last)))
    expect(loss_row.locator("td.worst")).to_have_text(str(loss(4, last)))
    expect(acc_row.locator("td.best")).to_have_text(str(acc(4, last)))
    expect(acc_row.locator("td.worst")).to_have_text(str(acc(0, last)))
    green = loss_row.locator("td.best").evaluate("el => getComputedStyle(el).color")
    red = loss_row.locator("td.worst").evaluate("el => getComputedStyle(el).color")
    assert (green, red) == ("rgb(31, 138, 76)", "rgb(196, 60, 60)")
    review_shots(page, "compare-diff")

    toggle = page.get_by_test_id("dir-loss")
    expect(toggle).to_have_text("↓ lower is better")
    toggle.click()
    expect(page).to_have_url(re.compile(r"dir=loss(:|%3A)max"))
    expect(toggle).to_have_text("↑ higher is better")
    expect(loss_row.locator("td.best")).to_have_text(str(loss(4, last)))
    page.reload()  # kept in the URL
    expect(page.get_by_test_id("diff-metric-loss").locator("td.best")).to_have_text(
        str(loss(4, last))
    )
    expect(acc_row.locator("td.best")).to_have_text(str(acc(4, last)))  # the others unchanged
    page.get_by_test_id("dir-loss").click()
    expect(page).not_to_have_url(re.compile("dir="))  # back to the default: nothing to keep


def test_many_runs_hide_the_legend_and_no_chart_outgrows_its_plot(
    page: Any, charts: Charts
) -> None:
    page.goto(charts.compare(charts.many, "&metrics=loss"))
    chart = ready(page, "loss")
    expect(chart.locator(".u-legend")).to_have_count(0)
    height = chart.bounding_box()["height"]
    plot = chart.locator("canvas").bounding_box()["height"]
    assert height <= plot + 90, (height, plot)  # title and the line under the plot
    hover(page, chart, 0.3, 0.5)
    tip = chart.get_by_test_id("chart-tooltip")
    expect(tip.locator(".tip-row")).to_have_count(15)
    expect(tip).to_contain_text("and 35 more")
    review_shots(page, "compare-50-runs")

    page.goto(charts.compare(charts.five[:4], "&metrics=loss"))
    few = ready(page, "loss")
    expect(few.locator(".u-legend")).to_contain_text("r3")


def test_charts_follow_the_theme_without_a_reload(page: Any, charts: Charts) -> None:
    page.goto(charts.compare(charts.five, "&metrics=loss"))
    page.evaluate("localStorage.setItem('modelyard.theme', 'light')")
    page.reload()
    chart = ready(page, "loss")
    light = chart.locator("canvas").evaluate(AXIS_INK)
    assert light is not None
    assert light < 110  # dark labels on a light page
    page.get_by_test_id("theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.wait_for_function(
        f"(document.querySelector('[data-testid=chart-loss] canvas') && ({AXIS_INK})"
        "(document.querySelector('[data-testid=chart-loss] canvas')) > 150)"
    )
    review_shots(page, "compare-dark")


def test_a_metric_as_the_x_axis_pairs_points_by_step(page: Any, charts: Charts) -> None:
    page.goto(charts.compare(charts.five, "&metrics=loss"))
    ready(page, "loss")
    axis = page.get_by_test_id("x-axis")
    expect(axis.locator("option[value='metric:acc']")).to_have_count(1)
    axis.select_option("metric:acc")
    expect(page).to_have_url(re.compile(r"x=metric(:|%3A)acc"))
    chart = ready(page, "loss")
    tip = chart.get_by_test_id("chart-tooltip")
    xs = []
    for fx in (0.05, 0.95):
        hover(page, chart, fx, 0.5)
        expect(tip.locator(".tip-x")).to_contain_text("acc")
        xs.append(float(tip.locator(".tip-x").inner_text().split()[-1]))
    low, high = acc(0, 0), acc(4, STEPS - 1)
    assert low <= xs[0] < xs[1] <= high, xs  # accuracy values, not steps 0..19
    page.reload()
    expect(page.get_by_test_id("x-axis")).to_have_value("metric:acc")
