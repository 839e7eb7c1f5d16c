"""System metrics: with a short interval, system/* metrics appear on the run while it runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import modelyard as my


def test_system_metrics_are_sampled_onto_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0.05")
    my.set_tracking_uri(f"sqlite:///{tmp_path / 'sys.db'}")
    run = my.start_run("sampled", capture_code=False)
    try:
        deadline = time.monotonic() + 30
        while True:  # get_run sends what is buffered first: poll until two samples arrived
            metrics = my.get_run(run.id).metrics
            cpu = metrics.get("system/cpu_percent")
            if cpu is not None and cpu.count >= 2:
                break
            assert time.monotonic() < deadline, f"no system metrics after 30 s: {sorted(metrics)}"
            time.sleep(0.05)
    finally:
        run.end(wait=True)
    assert {"system/memory_percent", "system/memory_used_mb", "system/disk_read_mb"} <= set(metrics)
    assert 0 < metrics["system/memory_percent"].last <= 100
    assert cpu.step >= 1  # one step per sample


def test_no_sampling_when_the_interval_is_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0")
    my.set_tracking_uri(f"sqlite:///{tmp_path / 'sys.db'}")
    run = my.start_run("quiet", capture_code=False, log_system_metrics=True)
    run.log_metric("loss", 1.0)
    run.end(wait=True)
    assert sorted(my.get_run(run.id).metrics) == ["loss"]
