"""The Monitoring page in a real browser, on a live server: a scikit-learn classifier registered
with its training dataset in the lineage, batch predictions logged through my.monitoring (one
column shifted) and their labels; the page shows the realized accuracy, the shifted column flagged
(and only it), its distributions when its row is opened, and an alert rule created over REST with
its state, which fires and is acknowledged from the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from playwright.sync_api import expect

import modelyard as my
from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from tests.ui.conftest import AXIS_INK, review_shots

pytestmark = [pytest.mark.ui]

FEATURES = ["f0", "f1", "f2"]
MODEL = "churn-mon"
N = 300


@dataclass(frozen=True)
class Monitored:
    url: str
    accuracy: float  # realized: the logged predictions against their labels


def _truth(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(scale=0.8, size=len(frame))
    out: np.ndarray = (frame["f0"] - frame["f1"] + noise > 0).astype(int).to_numpy()
    return out


@pytest.fixture(scope="module")
def monitored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monitored]:
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("monitoring-ui")
    store = f"sqlite:///{folder / 'store.db'}"
    rng = np.random.default_rng(3)
    train = pd.DataFrame(rng.normal(size=(1000, len(FEATURES))), columns=FEATURES)
    y = _truth(train, rng)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MODELYARD_HOME", str(folder / "home"))
        env.setenv("MODELYARD_MONITORING_DIR", str(folder / "monitoring"))
        env.setenv("MODELYARD_ALERT_INTERVAL", "0.5")
        env.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0")
        my.set_tracking_uri(store)
        try:
            dataset = my.datasets.register(
                f"{MODEL}-train", pa.Table.from_pandas(train.assign(label=y))
            )
            with my.start_run("train", log_system_metrics=False):
                my.datasets.log_input(f"{MODEL}-train", dataset["version"], context="training")
                model = LogisticRegression().fit(train, y)
                my.models.log(model, MODEL, input_example=train[:5])
            my.flush()
            settings = ServerSettings(store_uri=store, artifacts_uri=str(folder / "artifacts"))
            with serve_in_background(settings) as url:
                my.set_tracking_uri(url)
                rows = pd.DataFrame(rng.normal(size=(N, len(FEATURES))), columns=FEATURES)
                truth = _truth(rows, rng)
                preds = model.predict(rows)
                rows["f2"] += 3.0  # drift in f2 only (the model barely uses it)
                ids = my.monitoring.log_predictions(
                    MODEL, rows, preds, proba=model.predict_proba(rows), classes=[0, 1],
                    ids=[f"r{i}" for i in range(N)], model_version=1,
                )  # fmt: skip
                assert (
                    my.monitoring.log_labels(MODEL, dict(zip(ids, truth.tolist(), strict=True)))
                    == N
                )
                yield Monitored(url, float(np.mean(preds == truth)))
        finally:
            my.set_tracking_uri(None)


def _rule(url: str) -> dict[str, Any]:
    body = {
        "name": "accuracy-low", "deployment": MODEL, "metric": "accuracy", "window": "1d",
        "op": "<", "threshold": 0.999, "for": 0, "channels": [],
    }  # fmt: skip
    got = httpx.post(f"{url}/api/v1/monitoring/alerts/rules", json=body, timeout=30)
    assert got.status_code == 201, got.text
    rule: dict[str, Any] = got.json()
    return rule


def test_monitoring_page_shows_quality_drift_and_alerts(page: Any, monitored: Monitored) -> None:
    url = monitored.url
    _rule(url)
    page.goto(f"{url}/monitoring")
    row = page.get_by_test_id("monitoring-overview").locator(f'tr[data-deployment="{MODEL}"]')
    expect(row.locator('[data-figure="accuracy"]')).to_have_text(f"{monitored.accuracy:.4g}")
    expect(row.locator('[data-figure="latency_p99_ms"]')).to_have_text("—")  # no served request
    row.locator("td").first.get_by_role("link", name=MODEL).click()
    expect(page).to_have_url(re.compile(rf"/monitoring/{MODEL}\b"))

    # quality: the realized accuracy of the labelled predictions, and its chart
    expect(page.get_by_test_id("realized-accuracy")).to_contain_text(f"{monitored.accuracy:.4g}")
    expect(page.get_by_test_id("labelled")).to_contain_text(f"v1: {N} of {N} labelled")
    expect(page.get_by_test_id("estimated-only")).to_have_count(0)
    chart = page.get_by_test_id("quality-accuracy")
    expect(chart.locator("canvas")).to_have_count(1)
    # the charts follow the theme without a reload
    page.get_by_test_id("theme").click()
    dark = page.locator("html").get_attribute("data-theme") == "dark"
    ink = "[data-testid=quality-accuracy] canvas"
    page.wait_for_function(
        f"document.querySelector('{ink}') && ({AXIS_INK})(document.querySelector('{ink}'))"
        + (" > 150" if dark else " < 110")
    )
    page.get_by_test_id("theme").click()
    expect(page.get_by_test_id("estimated-accuracy")).not_to_have_text("—")
    # service health: SDK-logged predictions carry no latency and nothing probes them
    expect(page.get_by_test_id("uptime")).to_contain_text("—")
    expect(page.get_by_test_id("health-latency_p50_ms")).to_have_text(re.compile("—"))

    # drift: f2 flagged and listed first, the others not
    table = page.get_by_test_id("drift-table")
    expect(table.locator("tbody tr").first).to_have_attribute("data-column", "f2")
    expect(table.locator('tr[data-column="f2"] [data-testid="drifted"]')).to_have_text("drifted")
    for other in ("f0", "f1"):
        expect(table.locator(f'tr[data-column="{other}"]')).to_be_visible()
        expect(table.locator(f'tr[data-column="{other}"] [data-testid="drifted"]')).to_have_count(0)
    expect(page.get_by_test_id("drift-verdict")).to_contain_text("1 of 3 columns drifted")
    expect(page.get_by_test_id("drift-verdict")).to_contain_text(f"current: {N} rows")
    review_shots(page, "monitoring-page")
    table.locator('tr[data-column="f2"]').click()
    dist = page.get_by_test_id("distribution")
    expect(dist).to_have_attribute("data-kind", "bins")
    assert dist.get_by_test_id("bin").count() >= 5
    report = page.get_by_test_id("report")
    with httpx.Client(base_url=url, timeout=30) as http:
        got = http.get(report.get_attribute("href"))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/html")
    assert "f2" in got.text

    # alerts: the rule fires (accuracy < 0.999) and its firing is acknowledged from the page
    rule_row = page.get_by_test_id("alert-rules").locator('tr[data-rule="accuracy-low"]')
    expect(rule_row).to_contain_text("accuracy < 0.999 over 1d")
    expect(rule_row.get_by_test_id("rule-state")).to_have_text(re.compile("^(ok|pending|firing)$"))
    for _ in range(20):  # the server evaluates every 0.5 s; the page reads again on Refresh
        if rule_row.get_attribute("data-state") == "firing":
            break
        page.wait_for_timeout(300)
        page.get_by_test_id("refresh").click()
    expect(rule_row.get_by_test_id("rule-state")).to_have_text("firing")
    firing = page.get_by_test_id("firings").locator('tr[data-status="firing"]')
    expect(firing).to_contain_text("accuracy-low")
    firing.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_test_id("alert-done")).to_be_visible()
    expect(page.get_by_test_id("firings").locator('tr[data-status="acknowledged"]')).to_have_count(
        1
    )
    rule_row.get_by_role("button", name="Silence 1h").click()
    expect(rule_row.get_by_role("button", name="Unsilence")).to_be_visible()
