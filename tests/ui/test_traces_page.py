"""Traces in a real browser: logged by the unmodified ``mlflow`` client, listed on the run and
experiment pages, one trace as a collapsible span tree on a shared timeline with each span's
inputs, outputs and attributes (escaped); MLflow's ``#/experiments/...`` links open our pages."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import review_shots

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

mlflow = pytest.importorskip("mlflow")
from mlflow.entities import SpanType  # noqa: E402

pytestmark = [
    pytest.mark.ui,
    pytest.mark.filterwarnings(
        "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
    ),
]


@mlflow.trace(name="agent", span_type=SpanType.AGENT)  # type: ignore[untyped-decorator]
def agent(question: str) -> str:
    with mlflow.start_span(name="retrieve", span_type=SpanType.RETRIEVER) as span:
        span.set_inputs({"query": question})
        span.set_outputs({"documents": ["<script>alert(1)</script>", "doc-2"]})
        span.set_attribute("index", "wiki")
    try:
        with mlflow.start_span(name="tool", span_type=SpanType.TOOL) as tool:
            tool.set_inputs({"cmd": "lookup"})
            raise RuntimeError("tool broke")
    except RuntimeError:
        pass
    return f"answer to {question}"


@dataclass(frozen=True)
class Logged:
    url: str
    experiment_id: str
    run_id: str
    trace_id: str


@pytest.fixture
def logged(server_url: str) -> Iterator[Logged]:
    mlflow.set_tracking_uri(server_url)
    exp = mlflow.set_experiment("ui-traces")
    with mlflow.start_run() as run:
        agent("why?")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id is not None
    mlflow.flush_trace_async_logging()
    yield Logged(server_url, exp.experiment_id, run.info.run_id, trace_id)
    mlflow.set_tracking_uri(None)


def test_a_runs_traces_and_the_span_waterfall(page: Any, logged: Logged) -> None:
    page.goto(f"{logged.url}/runs/{logged.run_id}?tab=traces")
    listing = page.get_by_test_id("trace-list")
    expect(listing).to_contain_text("agent")
    expect(listing.get_by_test_id("trace-state")).to_have_text("ok")
    listing.get_by_role("link", name="agent").click()
    expect(page).to_have_url(re.compile(f"/traces/{logged.trace_id}$"))

    rows = page.get_by_test_id("span-row")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("agent")
    expect(rows.nth(1)).to_contain_text("retrieve")
    expect(rows.nth(2)).to_contain_text("tool")
    # bars share one timeline: the root spans all of it, the children lie inside
    root_bar = rows.nth(0).get_by_test_id("span-bar").get_attribute("style") or ""
    assert "left: 0%" in root_bar
    assert "width: 100%" in root_bar
    detail = page.get_by_test_id("span-detail")
    expect(detail.get_by_test_id("span-inputs")).to_contain_text('"question": "why?"')
    expect(detail.get_by_test_id("span-outputs")).to_contain_text("answer to why?")
    review_shots(page, "trace-page")

    rows.nth(1).get_by_role("button", name="retrieve").click()
    expect(detail).to_contain_text("RETRIEVER")
    expect(detail.get_by_test_id("span-outputs")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("script:has-text('alert(1)')").count() == 0  # shown as text
    expect(detail.get_by_test_id("span-attributes")).to_contain_text('"index": "wiki"')

    rows.nth(2).get_by_role("button", name="tool").click()
    expect(detail.get_by_test_id("trace-state")).to_have_text("error")
    expect(detail).to_contain_text("tool broke")

    page.get_by_role("button", name="collapse agent").click()
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="expand agent").click()
    expect(rows).to_have_count(3)


def test_an_experiments_traces_with_a_filter(page: Any, logged: Logged) -> None:
    page.goto(f"{logged.url}/experiments/{logged.experiment_id}")
    page.get_by_role("link", name="traces", exact=True).click()
    expect(page).to_have_url(re.compile(f"/experiments/{logged.experiment_id}/traces$"))
    expect(page.get_by_test_id("trace-list")).to_contain_text("agent")
    page.get_by_label("trace filter").fill("status = 'ERROR'")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No traces.")).to_be_visible()
    page.get_by_label("trace filter").fill("status = ")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("expected a value")


def test_mlflow_links_open_our_pages(page: Any, logged: Logged) -> None:
    page.goto(f"{logged.url}/#/experiments/{logged.experiment_id}/runs/{logged.run_id}")
    expect(page).to_have_url(f"{logged.url}/runs/{logged.run_id}")
    expect(page.get_by_test_id("overview")).to_contain_text(logged.run_id)
    page.goto(f"{logged.url}/#/experiments/{logged.experiment_id}/traces/{logged.trace_id}")
    expect(page).to_have_url(f"{logged.url}/traces/{logged.trace_id}")
    expect(page.get_by_test_id("span-row")).to_have_count(3)
