"""The Deployments page in a real browser: `modelyard server` supervising a real serving process
of a scikit-learn model under live traffic; the split and live figures, a refused rollback and a
stale-revision promote shown as the server words them, a blue-green promote and a rollback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Route, expect

from modelyard.listener import free_port
from modelyard.registry.client import ModelRegistry
from tests.ui.conftest import review_shots

pytestmark = [pytest.mark.ui, pytest.mark.slow]

FEATURES = [f"f{i}" for i in range(4)]
SLOW = 120_000  # ms: a serving process starting or a switch on a shared 2-core machine


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Plant:
    """`modelyard server` in a process of its own, with churn v1 and v2 registered."""

    url: str
    http: httpx.Client
    rows: list[dict[str, float]]

    def status(self, name: str) -> dict[str, Any]:
        got = self.http.get(f"/api/v1/deployments/{name}")
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def history(self, name: str) -> list[dict[str, Any]]:
        got = self.http.get(f"/api/v1/deployments/{name}/history")
        assert got.status_code == 200, got.text
        events: list[dict[str, Any]] = got.json()
        return events

    def deploy(self, name: str, rollout: dict[str, Any] | None) -> str:
        """Create a deployment of churn@champion; the URL of its serving process once ready."""
        body = {"name": name, "model": "models:/churn@champion", "rollout": rollout}
        got = self.http.post("/api/v1/deployments", json=body)
        assert got.status_code == 201, got.text
        found = ""

        def ready() -> bool:
            nonlocal found
            for instance in self.status(name)["instances"]:
                try:
                    if httpx.get(instance["url"] + "/ready", timeout=2).status_code == 200:
                        found = instance["url"]
                        return True
                except httpx.HTTPError:
                    pass
            return False

        wait_for(ready, SLOW / 1000, f"deployment {name} ready")
        return found


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    from sklearn.linear_model import LogisticRegression

    home = tmp_path_factory.mktemp("deploy-ui")
    port = free_port()
    env = {**os.environ, "MODELYARD_HOME": str(home)}
    env.pop("MODELYARD_TRACKING_URI", None)
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(url), 60, "the server")
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(200, len(FEATURES))), columns=FEATURES)
        labels = (frame["f0"] + frame["f1"] > 0).astype(int)
        with ModelRegistry(url) as registry:
            registry.log(LogisticRegression().fit(frame, labels), "churn", input_example=frame[:5])
            registry.log(
                LogisticRegression(C=0.1).fit(frame, labels), "churn", input_example=frame[:5]
            )
            registry.set_alias("churn", "champion", 1)
        with httpx.Client(base_url=url, timeout=30) as http:
            yield Plant(url, http, frame[:3].to_dict(orient="records"))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@dataclass
class Traffic:
    """One thread sending predictions (about 20 a second) to a serving process; every status kept."""

    url: str
    rows: list[dict[str, float]]
    statuses: list[int] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self._stop.wait(0.05):
                try:
                    got = http.post("/predict", json={"dataframe_records": self.rows})
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.statuses.append(got.status_code)
                self.versions.append(got.headers.get("x-model-version", ""))


@pytest.fixture
def deployment(plant: Plant, request: pytest.FixtureRequest) -> Iterator[tuple[str, Traffic]]:
    """A fresh deployment of churn@champion (v1) with traffic flowing; deleted afterwards.
    Its rollout settings come from an indirect parametrization (default: blue-green)."""
    name = "churn-" + request.node.name.removeprefix("test_").split("_")[0]
    url = plant.deploy(name, getattr(request, "param", None))
    with Traffic(url, plant.rows) as traffic:
        wait_for(lambda: len(traffic.statuses) > 20, 60, "first answers")
        yield name, traffic
    plant.http.delete(f"/api/v1/deployments/{name}")
    assert not traffic.failures
    assert set(traffic.statuses) == {200}  # no request failed, through promote and rollback


def live_rps(cell: Any) -> float:
    return float(cell.inner_text().strip().replace(",", "") or 0)


def test_list_shows_the_split_instances_and_live_figures(
    page: Any, plant: Plant, deployment: tuple[str, Traffic]
) -> None:
    name, _ = deployment
    page.goto(f"{plant.url}/models/churn")
    page.locator(".page-head").get_by_role("link", name="deployments").click()
    expect(page).to_have_url(re.compile(r"/deployments\?model=churn$"))
    row = page.locator(f'[data-testid=deployments] tr[data-deployment="{name}"]')
    expect(row).to_contain_text("churn")
    expect(row).to_contain_text("@champion")
    expect(row).to_contain_text("v1 100%")
    expect(row.get_by_test_id("instances-count")).to_have_text("1 up", timeout=SLOW)
    rps = row.locator("td.num").nth(0)
    page.wait_for_function(  # the live rate of ~20 requests/s shows up
        "el => parseFloat(el.textContent) > 1", arg=rps.element_handle(), timeout=SLOW
    )
    expect(row.locator("td.num").nth(1)).to_have_text("0%", timeout=SLOW)
    review_shots(page, "deployments")
    row.get_by_role("link", name=name).click()
    expect(page).to_have_url(re.compile(f"/deployments/{name}$"))
    expect(page.get_by_test_id("split")).to_contain_text("v1 100%")
    review_shots(page, "deployment-page")


def test_detail_live_figures_promote_blue_green_and_rollback(
    page: Any, plant: Plant, deployment: tuple[str, Traffic]
) -> None:
    name, traffic = deployment
    page.goto(f"{plant.url}/deployments/{name}")
    expect(page.get_by_test_id("split")).to_contain_text("v1 100%")
    v1 = page.get_by_test_id("version-1")
    expect(v1).to_contain_text("stable")
    expect(v1).to_contain_text("1 ready")
    expect(v1).to_contain_text("100%")
    page.wait_for_function(
        "el => parseFloat(el.textContent) > 1",
        arg=v1.get_by_test_id("rps").element_handle(),
        timeout=SLOW,
    )
    # over the last minute the page saw (not greyed): no error, a latency in ms
    expect(v1.get_by_test_id("error-rate").locator("span:not(.muted)")).to_have_text("0%")
    expect(v1.get_by_test_id("p50").locator("span:not(.muted)")).to_have_text(re.compile(r" ms$"))
    expect(v1.get_by_test_id("p99")).to_have_text(re.compile(r"\d ms$"))
    expect(v1.locator("svg.sparkline polyline")).to_have_count(1)
    instances = page.get_by_test_id("instances")
    expect(instances).to_contain_text("v1 ready")
    expect(page.get_by_test_id("rollout")).to_contain_text("No rollout in progress")

    # nothing to go back to: the server refuses, the page says why
    rollback = page.get_by_test_id("rollback")
    rollback.get_by_role("button", name="Rollback").click()
    expect(page.get_by_test_id("action-error")).to_have_text(
        f"Rollback refused: INVALID_STATE: deployment '{name}' has no earlier version to roll"
        " back to"
    )

    # a change the page has not seen yet: the promote carries the revision shown, and is refused
    def hold_reads(route: Route) -> None:
        if route.request.method == "GET":
            route.abort()
        else:
            route.continue_()

    shown = plant.status(name)["revision"]
    expect(page.locator(".page-head")).to_contain_text(f"revision {shown}")
    page.route(re.compile(r"/api/v1/deployments/"), hold_reads)
    changed = plant.http.post(
        f"/api/v1/deployments/{name}/traffic",
        json={"traffic": [{"version": 1, "weight": 100}], "reason": "by hand"},
    )
    assert changed.status_code == 200, changed.text
    promote = page.get_by_test_id("promote")
    promote.get_by_label("version to promote").select_option("2")
    promote.get_by_role("button", name="Promote").click()
    expect(page.get_by_test_id("action-error")).to_have_text(
        f"Promote refused: CONFLICT: deployment '{name}' is at revision {shown + 1}, not {shown}"
    )
    page.unroute(re.compile(r"/api/v1/deployments/"))
    expect(page.locator(".page-head")).to_contain_text(f"revision {shown + 1}", timeout=SLOW)
    assert plant.status(name)["stable"] == 1  # nothing was written

    # promote v2 blue-green: it loads, then takes all traffic at once
    promote.get_by_label("version to promote").select_option("2")
    promote.get_by_label("strategy").select_option("blue-green")
    promote.get_by_label("promote reason").fill("retrained on May")
    promote.get_by_role("button", name="Promote").click()
    expect(page.get_by_test_id("action-done")).to_have_text("v2 promoted (blue-green)")
    expect(page.get_by_test_id("action-error")).to_have_count(0)
    history = page.get_by_test_id("history")
    expect(history.locator('tr[data-action="promote"]')).to_contain_text("retrained on May")
    switch = history.locator('tr[data-action="switch"][data-actor="controller"]')
    expect(switch).to_have_count(1, timeout=SLOW)
    expect(switch).to_contain_text(re.compile(r"v1 100%.* → v2 100%"))
    expect(page.get_by_test_id("split")).to_contain_text("v2 100%", timeout=SLOW)
    v2 = page.get_by_test_id("version-2")
    expect(v2).to_contain_text("stable")
    expect(v1).to_contain_text("previous")
    page.wait_for_function(  # the traffic now reaches v2, and the page shows it live
        "el => parseFloat(el.textContent) > 1",
        arg=v2.get_by_test_id("rps").element_handle(),
        timeout=SLOW,
    )
    expect(rollback).to_contain_text("moves all traffic back to v1")

    # rollback: all traffic back on v1, recorded with the reason
    rollback.get_by_label("rollback reason").fill("latency alert")
    rollback.get_by_role("button", name="Rollback").click()
    expect(page.get_by_test_id("action-done")).to_have_text("rolled back: all traffic on v1")
    back = history.locator('tr[data-action="rollback"]')
    expect(back).to_contain_text("all traffic back on v1 from v2: latency alert", timeout=SLOW)
    expect(back).to_contain_text(re.compile(r"v2 100%.* → v1 100%"))
    expect(page.get_by_test_id("split")).to_contain_text("v1 100%", timeout=SLOW)

    events = plant.history(name)
    assert [e["action"] for e in events] == [
        "create", "set-traffic", "promote", "switch", "rollback",
    ]  # fmt: skip
    assert events[-1]["after"]["traffic"] == [{"version": 1, "weight": 100.0}]
    wait_for(lambda: traffic.versions[-1] == "1", 60, "traffic back on v1")
    assert "2" in traffic.versions


CANARY = {"strategy": "canary", "steps": [50, 100], "interval_s": 3600, "min_requests": 10}


@pytest.mark.parametrize("deployment", [CANARY], indirect=True)
def test_canary_step_shown_then_called_off(
    page: Any, plant: Plant, deployment: tuple[str, Traffic]
) -> None:
    name, traffic = deployment
    page.goto(f"{plant.url}/deployments/{name}")
    rollout = page.get_by_test_id("rollout")
    expect(rollout).to_contain_text("in steps of 50, 100% every 3600 s")
    promote = page.get_by_test_id("promote")
    expect(promote.get_by_label("strategy")).to_have_value("canary")  # the deployment's own
    promote.get_by_label("promote reason").fill("try it on half")
    promote.get_by_role("button", name="Promote").click()
    expect(page.get_by_test_id("action-done")).to_have_text("v2 promoted (canary)")
    expect(rollout).to_contain_text("Rolling out v2")
    expect(rollout).to_contain_text("try it on half")
    # it loads, then the controller moves half of the traffic and holds (the next step is an hour away)
    expect(rollout.get_by_test_id("rollout-step")).to_have_text(
        "step 1/2: 50% of the traffic", timeout=SLOW
    )
    expect(rollout).to_contain_text("stepping")
    expect(page.get_by_test_id("split")).to_contain_text("v1 50% · v2 50%")
    expect(page.get_by_test_id("version-2")).to_contain_text("candidate")
    step = page.get_by_test_id("history").locator('tr[data-action="step"]')
    expect(step).to_contain_text("canary step 1/2: 50% to v2")
    expect(step.locator(".machine")).to_have_text("controller")
    page.goto(f"{plant.url}/deployments")
    row = page.locator(f'tr[data-deployment="{name}"]')
    expect(row).to_contain_text("v2 canary step 1/2 (50%)")
    expect(row).to_contain_text("v1 50% · v2 50%")
    wait_for(lambda: "2" in traffic.versions[-50:], 60, "traffic on the canary")

    row.get_by_role("link", name=name).click()
    rollback = page.get_by_test_id("rollback")
    expect(rollback).to_contain_text("calls off the rollout of v2")
    rollback.get_by_label("rollback reason").fill("not today")
    rollback.get_by_role("button", name="Rollback").click()
    expect(page.get_by_test_id("action-done")).to_have_text("rolled back: all traffic on v1")
    off = page.get_by_test_id("history").locator('tr[data-action="rollback"]')
    expect(off).to_contain_text("rollout of v2 called off: not today")
    expect(page.get_by_test_id("rollout")).to_contain_text("No rollout in progress")
    expect(page.get_by_test_id("split")).to_contain_text("v1 100%")
