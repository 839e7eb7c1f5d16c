"""modelyard serve with its prediction log on (the default) and off, under the same 16 clients."""

from __future__ import annotations

import dataclasses
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import serving_servers as servers
from serving_load import run_wrk, tree_cpu_seconds, write_lua
from serving_procs import free_port, post_ok, spawn, stop, wait_until

FLUSH_PAUSE_S = (
    2.0  # the log writes what it holds every second: its last flush is not the next run's
)
ORDER = ("off", "on", "on", "off")  # ABBA: a drift of the machine's load weighs on both sides alike


def _variants(server: servers.Server, folder: Path) -> dict[str, servers.Server]:
    log_dir = folder / "prediction-log"
    return {
        "off": dataclasses.replace(server, cmd=[*server.cmd, "--no-prediction-log"]),
        "on": dataclasses.replace(server, cmd=[*server.cmd, "--prediction-log", str(log_dir)]),
    }


def _counter(metrics: str, name: str) -> float:
    """The sum of a Prometheus counter's samples in ``metrics`` (0 when absent)."""
    pattern = rf"^{name}_total(?:{{[^}}]*}})? (\S+)$"
    return sum(float(v) for v in re.findall(pattern, metrics, re.MULTILINE))


def measure_predlog(server: servers.Server, args: Any) -> dict[str, Any]:
    """Both servers up at once (the idle one waits), then 1 row x 16 clients on each, ABBA."""
    folder = Path(args.scratch)
    body = folder / "predlog-one.json"
    body.write_bytes(server.one_row)
    script = write_lua(body)
    procs, urls, logs = {}, {}, []
    out: dict[str, Any] = {}
    try:
        for side, variant in _variants(server, folder).items():
            port = free_port()
            cmd = [c.replace("{port}", str(port)) for c in variant.cmd]
            logs.append((folder / f"predlog-{side}.log").open("wb"))
            procs[side] = spawn(cmd, variant.env, logs[-1], variant.cwd)
            urls[side] = f"http://127.0.0.1:{port}"
            out[f"predlog_{side}_cmd"] = " ".join(cmd)
        for side, proc in procs.items():
            wait_until(post_ok(urls[side] + server.path, server.one_row), proc, "a prediction")
            run_wrk(urls[side] + server.path, script, 2, 16, args.warmup)  # not counted
        time.sleep(FLUSH_PAUSE_S)
        runs: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
        idle_pct = 0.0  # the other server's CPU meanwhile (it only waits)
        for side in ORDER:
            other = procs["on" if side == "off" else "off"].pid
            cpu = [tree_cpu_seconds(procs[side].pid), tree_cpu_seconds(other)]
            begin = time.perf_counter()
            load = run_wrk(urls[side] + server.path, script, 2, 16, args.seconds)
            one_pct = (time.perf_counter() - begin) * (os.cpu_count() or 1) / 100  # CPU-seconds
            share = (tree_cpu_seconds(procs[side].pid) - cpu[0]) / one_pct
            idle_pct = max(idle_pct, (tree_cpu_seconds(other) - cpu[1]) / one_pct)
            runs[side].append((load.rate, share))
            out.setdefault("predlog_runs", []).append([side, load.rate])  # in the order run
            out["predlog_errors"] = out.get("predlog_errors", 0) + load.errors
            print(f"  prediction log {side}: {load.rate:,.0f} req/s", flush=True)
            if side == "on":
                time.sleep(FLUSH_PAUSE_S)
        metrics = httpx.get(urls["on"] + "/metrics", timeout=10).text
    finally:
        for proc in procs.values():
            stop(proc)
        for log in logs:
            log.close()
    for side, got in runs.items():
        out[f"predlog_{side}_rate"] = sum(r for r, _ in got) / len(got)
        out[f"predlog_{side}_server_cpu_pct"] = sum(c for _, c in got) / len(got)
    out["predlog_idle_server_cpu_pct"] = idle_pct
    out["predlog_ratio"] = out["predlog_on_rate"] / out["predlog_off_rate"]
    answered = _counter(metrics, "modelyard_serving_requests")
    out["predlog_written_pct"] = (
        100 * _counter(metrics, "modelyard_prediction_log_written") / answered if answered else 0
    )
    out["predlog_dropped"] = _counter(metrics, "modelyard_prediction_log_dropped")
    return out
