"""The main job's demo fills a live server: runs, a dataset with lineage, models and a proposal."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from rich.console import Console

from modelyard.demo import DEMO_EXPERIMENT, run_demo

pytestmark = pytest.mark.usefixtures("fresh_sdk")


def test_demo_fills_runs_models_and_datasets(server_url: str, modelyard_home: Path) -> None:
    console = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    try:
        run_demo(server_url, console)
        api = httpx.Client(base_url=f"{server_url}/api/v1")
        exp = api.get(f"/experiments/by-name/{DEMO_EXPERIMENT}").json()
        runs = api.post("/runs/search", json={"experiment_ids": [exp["id"]]}).json()["runs"]
        assert len(runs) == 7  # the sweep and its six children
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
        run_demo(server_url, console)  # a second start adds nothing
        again = api.post("/runs/search", json={"experiment_ids": [exp["id"]]}).json()["runs"]
        assert len(again) == 7
        api.close()
    finally:
        console.file.close()
