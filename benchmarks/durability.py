"""What crash safety and SQLite durability cost.

    .venv/bin/python benchmarks/durability.py [per-call]

1. ``run.log_metric`` per call in the training process (1,000,000 calls on each of two runs,
   nothing sent during the loop), with the crash journal and with it replaced by a null one,
   in interleaved rounds so that a loaded machine weighs on both alike; the best of 5 rounds of
   200,000 calls each. ``per-call`` runs only this part.
2. The ingest workloads of ``workloads.py`` (50,000 points logged per call until stored, 50,000
   points in one request, 1,000 runs with params, metrics and tags) against ``modelyard
   server`` with MODELYARD_SQLITE_SYNCHRONOUS=normal and =full, once each.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import free_port, wait_up  # noqa: E402

CALLS = 1_000_000


def per_call_us(url: str) -> dict[str, float]:
    """Interleaved rounds on two runs, one with the crash journal and one without (min of 5)."""
    import modelyard as my
    from modelyard.tracking import wal
    from modelyard.tracking.batcher import Batcher
    from modelyard.tracking.fluent import ActiveRun

    client = my.Client(url)
    journaled = Batcher(client, 3600.0, 10**9)
    real = wal.open_segment
    wal.open_segment = lambda folder, uri: wal.NoSegment()  # type: ignore[assignment]
    bare = Batcher(client, 3600.0, 10**9)
    wal.open_segment = real  # type: ignore[assignment]
    best = {"with_journal_us": math.inf, "without_journal_us": math.inf}
    runs = {}
    for name, batcher in (("with_journal_us", journaled), ("without_journal_us", bare)):
        rid = uuid.uuid4().hex
        batcher.create(rid, {"experiment_name": "per-call"})
        runs[name] = ActiveRun(rid, client, batcher, None)
    step = 0
    for _round in range(5):
        for name, run in runs.items():
            start = time.perf_counter()
            for i in range(step, step + CALLS // 5):
                run.log_metric("loss", i * 0.001, step=i)
            best[name] = min(best[name], (time.perf_counter() - start) / (CALLS // 5) * 1e6)
        step += CALLS // 5
    for run in runs.values():
        run.end(wait=True)
    return best


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
    only_per_call = sys.argv[1:] == ["per-call"]
    with tempfile.TemporaryDirectory() as tmp:
        print(f"load average {os.getloadavg()[0]:.2f} (1 min)")
        print("log_metric per call:", with_server("normal", tmp, "per_call_us"))
        if only_per_call:
            return
        for level in ("normal", "full"):
            print(f"ingest, synchronous={level}:", with_server(level, tmp, "ingest"))


if __name__ == "__main__":
    main()
