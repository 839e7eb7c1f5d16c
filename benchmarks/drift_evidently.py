"""Evidently's side of benchmarks/drift.py: its DataDriftPreset on the same Parquet files.

Runs in benchmarks/.evidently-venv (Evidently 0.7.23, pandas<3), never imported by the harness:

    .evidently-venv/bin/python drift_evidently.py DATA_DIR   # prints one JSON object

The figures: seconds to read both files into pandas, RSS once they are in memory, then
``Report([DataDriftPreset()]).run(current, reference)`` timed, with its peak RSS sampled every
5 ms; and per column the method, score and threshold Evidently reports, with its verdict.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
from evidently import Report
from evidently.presets import DataDriftPreset

P_VALUE_METHODS = {"K-S p_value": "ks", "chi-square p_value": "chisquare", "Z-test p_value": "z"}
NAMES = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    **P_VALUE_METHODS,
}


class Peak:
    """The process's largest RSS while it runs, sampled every 5 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def drifted(method: str, score: float, threshold: float) -> bool:
    """Evidently's verdicts: KS p <= t, chi-square and z p < t, distances >= t."""
    if method == "K-S p_value":
        return score <= threshold
    if method in P_VALUE_METHODS:
        return score < threshold
    return score >= threshold


def main(folder: Path) -> None:
    started = time.perf_counter()
    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    read_s = time.perf_counter() - started
    rss_data = psutil.Process().memory_info().rss
    with Peak() as peak:
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
        seconds = time.perf_counter() - started
    columns = {}
    share = None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            method, score, threshold = config["method"], metric["value"], config["threshold"]
            columns[config["column"]] = {
                "method": NAMES.get(method, method),
                "score": float(score),
                "threshold": threshold,
                "drifted": bool(drifted(method, score, threshold)),
            }
        elif config["type"].endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
    json.dump(
        {
            "read_s": read_s,
            "seconds": seconds,
            "rss_data_mb": rss_data / 2**20,
            "peak_mb": peak.peak / 2**20,
            "peak_beyond_data_mb": (peak.peak - rss_data) / 2**20,
            "drifted_share": share,
            "columns": columns,
            "version": __import__("evidently").__version__,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
