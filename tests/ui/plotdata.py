"""An experiment of known runs for the plot and chart-panel tests, with images logged by the SDK."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import modelyard as my
from modelyard.tracking.batches import new_run_id
from tests.conftest import close_sdk

EXPERIMENT = "plots-e2e"
# run index -> the steps it logs "samples" at (run 3 and later log none)
IMAGE_STEPS = {0: [0, 5, 10], 1: [5, 10], 2: [0]}


@dataclass(frozen=True)
class PlotRuns:
    url: str
    experiment_id: int
    runs: list[dict[str, Any]]  # id, name, params, and the last acc, loss and delta


def image(run: int, step: int) -> np.ndarray:
    """Sized so the page can tell which image it shows: (4 + run) high, (4 + step) wide."""
    return np.full((4 + run, 4 + step, 3), (40 * run) % 256, np.uint8)


def fill_plot_runs(url: str, home: Path, count: int = 12) -> PlotRuns:
    runs: list[dict[str, Any]] = []
    batches = []
    for i in range(count):
        rid = new_run_id()
        params = {
            "lr": ("0.0001", "0.001", "0.01", "0.1")[i % 4],
            "optimizer": ("adam", "sgd", "rmsprop")[i % 3],
        }
        last = {"acc": round(0.4 + 0.05 * i, 4), "loss": 2.0 / (i + 1), "delta": float(i - 4)}
        batches.append(
            {
                "run_id": rid,
                "create": {
                    "experiment_name": EXPERIMENT,
                    "name": f"p-{i:02d}",
                    "start_time": 1_700_000_000_000 + i,
                },
                "params": params,
                "metrics": [{"key": k, "values": [v / 2, v * 2, v]} for k, v in last.items()],
                "update": {"status": "FINISHED", "end_time": 1_700_000_060_000 + i},
            }
        )
        runs.append({"id": rid, "name": f"p-{i:02d}", "params": params, **last})
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as api:
        assert api.post("/ingest", json={"batches": batches}).status_code == 200
        experiment_id = int(api.get(f"/experiments/by-name/{EXPERIMENT}").json()["id"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELYARD_HOME", str(home))
        mp.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0")
        my.set_tracking_uri(url)
        try:
            for index, steps in IMAGE_STEPS.items():
                with my.start_run(run_id=runs[index]["id"]):
                    for step in steps:
                        my.log_image("samples", image(index, step), step=step)
                    if index == 0:
                        my.log_image("val/pred", image(index, 3), step=3)
        finally:
            close_sdk()
    return PlotRuns(url, experiment_id, runs)
