"""What one small write costs the server, and runs stored one at a time through the SDK.

Usage:
    .venv/bin/python benchmarks/server_cost.py [--rounds 20] [--size 50] [--runs 200]
    .venv/bin/python benchmarks/server_cost.py --peer        # also `mlflow server`
    .venv/bin/python benchmarks/server_cost.py --floor       # also a bare FastAPI app
    .venv/bin/python benchmarks/server_cost.py --profile mlflow_log_metric   # py-spy

Starts `modelyard server` (embedded SQLite store in a fresh temporary folder, default
durability, access control off, as `modelyard server` runs by default) as a subprocess and
measures, in alternating rounds:

* **server CPU per request** (p50 and mean, ms) of MLflow ``POST runs/log-metric`` (one metric,
  ``MlflowClient.log_metric``), MLflow ``POST runs/create`` (``MlflowClient.create_run``) and a
  native ``POST /api/v1/ingest`` of one small batch (one run, 5 points; ``Client.ingest``).
  The server's CPU is the sum of its threads' on-CPU time (``/proc/PID/task/*/schedstat``,
  nanoseconds); each round sends ``--size`` requests of one kind, and the p50 is the median
  over ``--rounds`` rounds of the per-request average of a round; the mean is the whole
  process's utime + stime (``/proc/PID/stat``) over all rounds divided by all requests.
* **SDK runs/s, one at a time**: ``my.start_run`` (no system metrics, no code capture), 25
  ``run.log_metric`` values, ``run.end(wait=True)`` (returns once the server has stored it:
  committed per its durability setting), before the next run starts. Runs/s, the server's
  and the client's CPU per run, median over rounds of ``--runs`` runs.
* ``--peer``: the same run workload through the mlflow client (``create_run``, one
  ``log_batch`` of the 25 values, ``set_terminated``) against `modelyard server` and against
  `mlflow server` (``.venv``'s MLflow, SQLite, its default uvicorn), server CPU of its process
  tree.
* ``--floor``: a bare FastAPI app on the same uvicorn configuration answering ``{}`` to a
  POST: the least CPU a request to a Python ASGI server costs on this machine.

``--profile WORKLOAD`` records the server with py-spy during that workload (``--size`` x
``--rounds`` requests) and prints the heaviest frames (``.venv/bin/pip install py-spy``).
Results go to ``results/server_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import free_port, wait_up  # noqa: E402

VALUES_PER_RUN = 25
_FLOOR_APP = """
from fastapi import FastAPI
from starlette.responses import Response
from modelyard.listener import uvicorn_config
import uvicorn, sys
app = FastAPI()
@app.post("/{rest:path}")
async def anything() -> Response:
    return Response(b"{}", media_type="application/json")
uvicorn.Server(uvicorn_config(app, "127.0.0.1", int(sys.argv[1]), log_level="warning")).run()
"""


def cpu_ns(pid: int) -> int:
    """On-CPU time of every live thread of ``pid``, in nanoseconds."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    return total


def cpu_s(pid: int) -> float:
    """utime + stime of the process (ended threads included), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


@contextmanager
def modelyard_server(home: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MODELYARD_HOME": str(home / "server")}
    cmd = [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)]
    cmd += ["--store", f"sqlite:///{home / 'store.db'}", "--artifacts", str(home / "artifacts")]
    cmd += ["--no-supervise"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(url, "/health", proc)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def mlflow_server(home: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow = Path(sys.executable).parent / "mlflow"
    cmd = [str(mlflow), "server", "--port", str(port), "--host", "127.0.0.1"]
    cmd += ["--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}"]
    cmd += ["--default-artifact-root", str(home / "mlflow-artifacts")]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_up(url, "/health", proc)
        yield url, proc.pid
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


@contextmanager
def floor_server() -> Iterator[tuple[str, int]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-c", _FLOOR_APP, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(url + "/x", json={}, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the floor app did not start") from None
                time.sleep(0.05)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


Workload = Callable[[int], None]  # sends n requests


def request_workloads(url: str) -> dict[str, Workload]:
    """The small writes, each as a function sending ``n`` of them."""
    from mlflow.tracking import MlflowClient

    import modelyard as my

    mc = MlflowClient(url)
    exp_id = mc.create_experiment(f"cost-{time.time_ns()}")
    rid = mc.create_run(exp_id).info.run_id
    client = my.Client(url)
    native = my.start_run("native", experiment="cost", log_system_metrics=False, capture_code=False)
    native.end(wait=True)
    step = [0]

    def log_metric(n: int) -> None:
        for _ in range(n):
            step[0] += 1
            mc.log_metric(rid, "loss", step[0] * 0.5, step=step[0])

    def create_run(n: int) -> None:
        for _ in range(n):
            mc.create_run(exp_id)

    def ingest(n: int) -> None:
        for _ in range(n):
            step[0] += 1
            s = step[0] * 5
            batch = {
                "run_id": native.id,
                "metrics": [
                    {"key": "loss", "steps": list(range(s, s + 5)), "values": [0.5] * 5},
                ],
            }
            client.ingest([batch])

    return {"mlflow_log_metric": log_metric, "mlflow_create_run": create_run, "ingest": ingest}


def measure_requests(
    pid: int, workloads: dict[str, Workload], rounds: int, size: int
) -> dict[str, dict[str, float]]:
    per_request: dict[str, list[float]] = {k: [] for k in workloads}
    totals = dict.fromkeys(workloads, 0.0)
    walls = dict.fromkeys(workloads, 0.0)
    for w in workloads.values():
        w(5)  # warm-up
    names = list(workloads)
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start_total, start_ns, start = cpu_s(pid), cpu_ns(pid), time.perf_counter()
            workloads[name](size)
            walls[name] += time.perf_counter() - start
            per_request[name].append((cpu_ns(pid) - start_ns) / size / 1e6)
            totals[name] += cpu_s(pid) - start_total
    return {
        name: {
            "server_cpu_ms_p50": statistics.median(per_request[name]),
            "server_cpu_ms_mean": totals[name] / (rounds * size) * 1e3,
            "wall_ms_mean": walls[name] / (rounds * size) * 1e3,
        }
        for name in names
    }


def sdk_runs(pid: int, rounds: int, runs: int) -> dict[str, float]:
    """Runs one at a time through the SDK, each stored before the next starts."""
    import modelyard as my

    def one(i: int) -> None:
        run = my.start_run(f"r{i}", experiment="runs", log_system_metrics=False, capture_code=False)
        for s in range(VALUES_PER_RUN):
            run.log_metric("loss", 1.0 / (s + 1), step=s)
        run.end(wait=True)

    for i in range(10):
        one(i)
    rates, server, client = [], [], []
    for _ in range(rounds):
        c0, s0, t0 = time.process_time(), cpu_ns(pid), time.perf_counter()
        for i in range(runs):
            one(i)
        took = time.perf_counter() - t0
        rates.append(runs / took)
        server.append((cpu_ns(pid) - s0) / runs / 1e6)
        client.append((time.process_time() - c0) / runs * 1e3)
    return {
        "runs_per_s": statistics.median(rates),
        "server_cpu_ms_per_run": statistics.median(server),
        "client_cpu_ms_per_run": statistics.median(client),
    }


def mlflow_runs(url: str, pid: int, rounds: int, runs: int) -> dict[str, float]:
    """The same runs through the mlflow client: create, one log_batch of 25, terminate."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    mc = MlflowClient(url)
    exp_id = mc.create_experiment(f"runs-{time.time_ns()}")

    def one() -> None:
        now = int(time.time() * 1000)
        rid = mc.create_run(exp_id).info.run_id
        metrics = [Metric("loss", 1.0 / (s + 1), now, s) for s in range(VALUES_PER_RUN)]
        mc.log_batch(rid, metrics=metrics)
        mc.set_terminated(rid)

    for _ in range(5):
        one()
    rates, server = [], []
    for _ in range(rounds):
        s0, t0 = tree_cpu_s(pid), time.perf_counter()
        for _ in range(runs):
            one()
        rates.append(runs / (time.perf_counter() - t0))
        server.append((tree_cpu_s(pid) - s0) / runs * 1e3)
    return {
        "runs_per_s": statistics.median(rates),
        "server_cpu_ms_per_run": statistics.median(server),
    }


def floor(rounds: int, size: int) -> dict[str, float]:
    with floor_server() as (url, pid):
        http = httpx.Client(base_url=url)
        body = {"run_id": "0" * 32, "key": "loss", "value": 0.5, "timestamp": 1, "step": 1}

        def post(n: int) -> None:
            for _ in range(n):
                http.post("/api/2.0/mlflow/runs/log-metric", json=body)

        return measure_requests(pid, {"bare_fastapi_post": post}, rounds, size)["bare_fastapi_post"]


def profile(url: str, pid: int, workload: Workload, n: int, out: Path) -> None:
    py_spy = str(Path(sys.executable).parent / "py-spy")
    extra = os.environ.get("SPY_ARGS", "").split()  # e.g. --gil, --native
    options = ["--rate", "1000", "--format", "raw", "--nonblocking", "--threads", *extra]
    spy = subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--output", str(out), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    workload(n)
    spy.send_signal(2)
    spy.wait(timeout=60)
    print(f"py-spy collapsed stacks: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--size", type=int, default=50, help="requests per round")
    parser.add_argument("--runs", type=int, default=200, help="runs per SDK round")
    parser.add_argument("--run-rounds", type=int, default=5)
    parser.add_argument("--peer", action="store_true", help="also the mlflow client and server")
    parser.add_argument("--floor", action="store_true", help="also a bare FastAPI app")
    parser.add_argument("--profile", default=None, help="a workload to record with py-spy")
    parser.add_argument("--only", default=None, help="requests | runs")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-cost-"))
    os.environ["MODELYARD_HOME"] = str(home / "client")
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    results: dict[str, Any] = {}
    with modelyard_server(home) as (url, pid):
        os.environ["MODELYARD_TRACKING_URI"] = url
        import modelyard as my

        my.set_tracking_uri(url)
        workloads = request_workloads(url)
        if args.profile:
            profile(url, pid, workloads[args.profile], args.size * args.rounds, home / "spy.txt")
            return
        if args.only in (None, "requests"):
            results["requests"] = measure_requests(pid, workloads, args.rounds, args.size)
        if args.only in (None, "runs"):
            results["sdk_runs"] = sdk_runs(pid, args.run_rounds, args.runs)
        if args.peer:
            results["mlflow_client_runs_on_modelyard"] = mlflow_runs(
                url, pid, args.run_rounds, args.runs // 2
            )
    if args.peer:
        with mlflow_server(home) as (murl, mpid):
            results["mlflow_client_runs_on_mlflow"] = mlflow_runs(
                murl, mpid, args.run_rounds, args.runs // 2
            )
    if args.floor:
        results["floor"] = floor(args.rounds, args.size)
    print(f"{'workload':34}{'server CPU p50':>16}{'mean':>10}{'wall':>10}")
    for name, row in {**results.get("requests", {}), "floor": results.get("floor")}.items():
        if row:
            print(
                f"{name:34}{row['server_cpu_ms_p50']:13.3f} ms{row['server_cpu_ms_mean']:7.3f} ms"
                f"{row['wall_ms_mean']:7.2f} ms"
            )
    print(f"\n{'runs one at a time':34}{'runs/s':>10}{'server ms/run':>15}{'client ms/run':>15}")
    for name in ("sdk_runs", "mlflow_client_runs_on_modelyard", "mlflow_client_runs_on_mlflow"):
        row = results.get(name)
        if row:
            client = row.get("client_cpu_ms_per_run")
            print(
                f"{name:34}{row['runs_per_s']:10.0f}{row['server_cpu_ms_per_run']:15.3f}"
                + (f"{client:15.3f}" if client is not None else "")
            )
    out = HERE / "results" / "server_cost.json"
    out.parent.mkdir(exist_ok=True)
    results["machine"] = {"cores": os.cpu_count(), "loadavg": os.getloadavg()[0]}
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
