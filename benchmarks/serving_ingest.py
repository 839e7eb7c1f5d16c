"""modelyard serve under 16 clients with the monitoring ingest running beside it, and without.

The serving process writes its prediction log (on in both cases); the "ingest" side also runs
the loop the main server runs (``MonitoringStore.ingest`` every second) in a process of its
own, as the server would, turning the log into monitoring tables while requests are served.
Reported: the serving rate with ingest over without (ABBA order), and the ingest rate (log
records turned into typed rows per second of ingest work), measured while serving.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import serving_servers as servers
from serving_load import run_wrk, write_lua
from serving_procs import free_port, post_ok, spawn, stop, wait_until

ORDER = ("off", "on", "on", "off")
INGESTER = """
import json, sys, time
from pathlib import Path
from modelyard.monitoring.store import MonitoringStore

store = MonitoringStore(Path(sys.argv[1]), Path(sys.argv[2]))
while True:
    begin, cpu = time.perf_counter(), time.process_time()
    records = store.ingest()
    spent = time.perf_counter() - begin
    print(json.dumps([records, spent, time.process_time() - cpu]), flush=True)
    time.sleep(max(0.0, 1.0 - spent))
"""


def measure_ingest(server: servers.Server, args: Any) -> dict[str, Any]:
    folder = Path(args.scratch)
    log_dir = folder / "ingest-log"
    store = folder / "ingest-monitoring"
    body = folder / "ingest-one.json"
    body.write_bytes(server.one_row)
    script = write_lua(body)
    port = free_port()
    cmd = [c.replace("{port}", str(port)) for c in server.cmd]
    cmd += ["--prediction-log", str(log_dir)]
    url = f"http://127.0.0.1:{port}"
    out: dict[str, Any] = {}
    rates: dict[str, list[float]] = {"off": [], "on": []}
    ingested: list[tuple[int, float, float]] = []
    with (folder / "ingest-serve.log").open("wb") as log:
        proc = spawn(cmd, server.env, log, server.cwd)
        try:
            wait_until(post_ok(url + server.path, server.one_row), proc, "a prediction")
            run_wrk(url + server.path, script, 2, 16, args.warmup)
            for side in ORDER:
                ingester = None
                if side == "on":
                    ingester = subprocess.Popen(
                        [sys.executable, "-c", INGESTER, str(store), str(log_dir)],
                        stdout=subprocess.PIPE,
                        text=True,
                    )
                load = run_wrk(url + server.path, script, 2, 16, args.seconds)
                rates[side].append(load.rate)
                print(f"  monitoring ingest {side}: {load.rate:,.0f} req/s", flush=True)
                if ingester is not None:
                    ingester.terminate()
                    lines, _ = ingester.communicate(timeout=30)
                    ingested += [tuple(json.loads(x)) for x in lines.splitlines() if x]
        finally:
            stop(proc)
    records = sum(r for r, _, _ in ingested)
    seconds = sum(s for r, s, _ in ingested if r)
    cpu = sum(c for r, _, c in ingested if r)
    out["ingest_off_rate"] = sum(rates["off"]) / len(rates["off"])
    out["ingest_on_rate"] = sum(rates["on"]) / len(rates["on"])
    out["ingest_serving_ratio"] = out["ingest_on_rate"] / out["ingest_off_rate"]
    out["ingest_records"] = records
    out["ingest_records_per_s"] = records / seconds if seconds else None  # wall time in ingest
    out["ingest_records_per_cpu_s"] = records / cpu if cpu else None  # its own CPU time
    out["ingest_cpu_pct_of_machine"] = 100 * cpu / (len(ORDER) / 2 * args.seconds * 2)
    out["ingest_max_pass_s"] = max((s for _, s, _ in ingested), default=None)
    return out
