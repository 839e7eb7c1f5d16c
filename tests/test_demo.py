"""The main job's demo fills a live server: runs, a dataset with lineage, models and a proposal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from modelyard.demo import DEMO_DEPLOYMENT, DEMO_EXPERIMENT, run_demo
from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background

pytestmark = pytest.mark.usefixtures("fresh_sdk")


@pytest.fixture
def supervising_server(server_settings: ServerSettings) -> Iterator[str]:
    """A server that starts the deployments' serving processes, as `modelyard server` does."""
    with serve_in_background(server_settings, supervise=True) as url:
        yield url


def test_demo_fills_runs_models_datasets_and_a_live_deployment(
    supervising_server: str, modelyard_home: Path
) -> None:
    server_url = supervising_server
    console = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    try:
        run_demo(server_url, console)
        api = httpx.Client(base_url=f"{server_url}/api/v1")
        exp = api.get(f"/experiments/by-name/{DEMO_EXPERIMENT}").json()
        runs = api.post("/runs/search", json={"experiment_ids": [exp["id"]]}).json()["runs"]
        assert len(runs) == 8  # the sweep, its six children and one that failed
        failed = [r["name"] for r in runs if r["status"] == "FAILED"]
        assert failed == ["sgd-eta0-too-high"]
        model = api.get("/models/demo-classifier").json()
        assert set(model["aliases"]) == {"champion", "challenger"}
        champion = model["aliases"]["champion"]
        lineage = api.get(f"/models/demo-classifier/versions/{champion}/lineage").json()
        assert [(d["name"], d["direction"]) for d in lineage["datasets"]] == [
            ("demo-train", "input")
        ]
        assert lineage["run"]["metrics"]["accuracy"] > 0.5
        (proposal,) = api.get("/models/demo-classifier/promotions").json()
        assert proposal["status"] == "open"
        assert api.get("/datasets/demo-train/versions/latest").json()["num_rows"] == 2250
        deployment = api.get(f"/deployments/{DEMO_DEPLOYMENT}").json()
        assert deployment["follow"] == "champion"
        assert deployment["traffic"] == [{"version": champion, "weight": 100.0}]
        assert deployment["shadow"] == [model["aliases"]["challenger"]]

        def served() -> int:
            figures = api.get(f"/deployments/{DEMO_DEPLOYMENT}").json()["stats"]
            return int(figures.get(str(champion), {}).get("requests", 0))

        deadline = time.monotonic() + 60
        while served() < 20:  # the demo's traffic reaches the champion
            assert time.monotonic() < deadline, api.get(f"/deployments/{DEMO_DEPLOYMENT}").text
            time.sleep(0.5)
        rules = api.get("/monitoring/alerts/rules", params={"deployment": DEMO_DEPLOYMENT})
        assert len(rules.json()["rules"]) == 2

        def labelled() -> int:
            found = api.get(
                f"/monitoring/deployments/{DEMO_DEPLOYMENT}/quality", params={"window": "1d"}
            )
            return sum(p["labelled"] for p in found.json()["points"])

        deadline = time.monotonic() + 60
        while labelled() == 0:  # late labels of the served requests reach monitoring
            assert time.monotonic() < deadline
            time.sleep(1)
        quality = api.get(
            f"/monitoring/deployments/{DEMO_DEPLOYMENT}/quality", params={"window": "1d"}
        )
        point = next(p for p in quality.json()["points"] if p["labelled"])
        assert 0.3 < point["realized"]["accuracy"] <= 1.0
        run_demo(server_url, console)  # a second start adds nothing
        again = api.post("/runs/search", json={"experiment_ids": [exp["id"]]}).json()["runs"]
        assert len(again) == 8
        api.close()
    finally:
        console.file.close()
