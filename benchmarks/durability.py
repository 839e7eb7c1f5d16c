"""What crash safety and SQLite durability cost.

    .venv/bin/python benchmarks/durability.py

1. ``run.log_metric`` per call in the training process (1,000,000 calls, nothing sent during
   the loop), with the crash journal and with it replaced by a null one.
2. The ingest workloads of ``workloads.py`` (50,000 points logged per call until stored, 50,000
   points in one request, 1,000 runs with params, metrics and tags) against ``modelyard
   server`` with MODELYARD_SQLITE_SYNCHRONOUS=normal and =full, once each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import free_port, wait_up  # noqa: E402

CALLS = 1_000_000


def per_call_us(url: str, journal: bool) -> float:
    import modelyard as my
    from modelyard.tracking import wal

    if not journal:
        wal.open_segment = lambda folder, uri: wal.NoSegment()  # type: ignore[assignment]
    my.set_tracking_uri(url)
    run = my.start_run("per-call", log_system_metrics=False, capture_code=False)
    start = time.perf_counter()
    for i in range(CALLS):
        run.log_metric("loss", i * 0.001, step=i)
    cost = time.perf_counter() - start
    run.end(wait=True)
    return cost / CALLS * 1e6


def ingest(url: str) -> dict[str, float]:
    import numpy as np
    from workloads import METRICS, PARAMS, RUN_METRICS, RUNS, STEPS, TAGS

    import modelyard as my

    my.set_tracking_uri(url)
    out: dict[str, float] = {}
    run = my.start_run("per-call", log_system_metrics=False, capture_code=False)
    start = time.perf_counter()
    for m in range(METRICS):
        for s in range(STEPS):
            run.log_metric(f"m{m}", s * 0.001, step=s)
    run.end(wait=True)
    out["per_call_points_per_s"] = METRICS * STEPS / (time.perf_counter() - start)
    client = my.Client(url)
    start = time.perf_counter()
    client.ingest(
        [
            {
                "run_id": "b" * 32,
                "create": {"experiment_name": "bench"},
                "metrics": [
                    {"key": f"b{m}", "steps": np.arange(STEPS), "values": np.random.rand(STEPS)}
                    for m in range(METRICS)
                ],
            }
        ]
    )
    out["batched_points_per_s"] = METRICS * STEPS / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(RUNS):
        r = my.start_run(f"r{i}", experiment="runs", log_system_metrics=False, capture_code=False)
        r.log_params({f"p{j}": j for j in range(PARAMS)})
        r.log_metrics({f"m{j}": j for j in range(RUN_METRICS)})
        r.set_tags({f"t{j}": "x" for j in range(TAGS)})
        r.end()
    my.flush()
    out["runs_per_s"] = RUNS / (time.perf_counter() - start)
    client.close()
    return out


def with_server(level: str, tmp: str, task: str) -> dict[str, float]:
    env = {
        **os.environ,
        "MODELYARD_HOME": str(Path(tmp) / level),
        "MODELYARD_SQLITE_SYNCHRONOUS": level,
        "MODELYARD_SYSTEM_METRICS_INTERVAL": "0",
        "MODELYARD_BUFFER_POINTS": str(4 * CALLS + 4),  # nothing is sent during the loop
    }
    port = free_port()
    cmd = [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, "/health", server)
        code = f"import json, durability; print(json.dumps(durability.{task}({url!r})))"
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "PYTHONPATH": str(HERE)},
            capture_output=True,
            text=True,
            check=True,
        )
        result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print("log_metric per call, crash journal:", with_server("normal", tmp, "journaled"))
        print("log_metric per call, no journal:", with_server("normal", tmp, "unjournaled"))
        for level in ("normal", "full"):
            print(f"ingest, synchronous={level}:", with_server(level, tmp, "ingest"))


def journaled(url: str) -> dict[str, float]:
    return {"log_metric_us": per_call_us(url, journal=True)}


def unjournaled(url: str) -> dict[str, float]:
    return {"log_metric_us": per_call_us(url, journal=False)}


if __name__ == "__main__":
    main()
