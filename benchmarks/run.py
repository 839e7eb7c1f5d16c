"""Run the same workloads against `modelyard server` and `mlflow server` in one go; print ratios.

    python benchmarks/run.py            # both (MLflow goes in benchmarks/.peer-venv)
    python benchmarks/run.py --no-peer  # modelyard only

MLflow's per-call logging (~18 points/s) and run creation (~4 runs/s) are too slow to run at full
size; they run on fewer points/runs (see --peer-points, --peer-runs) and are reported as rates.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
MLFLOW_SPEC = "mlflow>=3,<4"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, path: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=1).status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError("server did not start")


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_side(
    name: str,
    python: str,
    server_cmd: list[str],
    args: list[str],
    env: dict[str, str],
    client: str | None = None,
) -> dict[str, float]:
    """Start a server, run one client library's workloads against it, sample the server's RSS."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [c.replace("{port}", str(port)) for c in server_cmd]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out_file = Path(env["MODELYARD_HOME"]).parent / f"{name}-{port}.json"
    try:
        startup = wait_up(url, "/health", proc)
        watcher = psutil.Process(proc.pid)
        work = subprocess.Popen(
            [python, str(HERE / "workloads.py"), client or name, url, *args],
            env={**env, "BENCH_OUT": str(out_file)},
            stdout=subprocess.DEVNULL,
        )
        peak = 0
        while work.poll() is None:
            peak = max(peak, tree_rss(watcher))
            time.sleep(0.05)
        if work.returncode != 0:
            raise RuntimeError(f"{name} workloads failed with exit code {work.returncode}")
        result: dict[str, float] = json.loads(out_file.read_text())
        result["server_start_s"] = startup
        result["server_peak_rss_mib"] = peak / 2**20
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    imp = subprocess.run(
        [
            python,
            "-c",
            f"import time; t=time.perf_counter(); import {client or name}; "
            "print(time.perf_counter()-t)",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result["import_s"] = float(imp.stdout.strip())
    return result


def ensure_peer() -> str:
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", MLFLOW_SPEC, "httpx"], check=True
        )
    return str(python)


LOWER_IS_BETTER = {
    "per_call_us",
    "search_all_ms",
    "search_filtered_ms",
    "history_5000_ms",
    "server_start_s",
    "server_peak_rss_mib",
    "import_s",
    "reused_conn_p50_ms",
    "reused_conn_p99_ms",
    "register_version_ms",
    "load_by_alias_ms",
    "load_by_alias_cold_ms",
}


def table(title: str, results: dict[str, dict[str, float]], side: str) -> None:
    print(f"\n{title}")
    print(f"{'measure':28} {'modelyard':>12} {'mlflow':>12} {'better by':>10}")
    for key, mine in results[side].items():
        peer = results.get("mlflow", {}).get(key)
        ratio = ""
        if peer and mine:
            r = peer / mine if key in LOWER_IS_BETTER else mine / peer
            ratio = f"{r:,.1f}x"
        peer_s = f"{peer:,.2f}" if peer is not None else "-"
        print(f"{key:28} {mine:>12,.2f} {peer_s:>12} {ratio:>10}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--peer-points", type=int, default=500)
    parser.add_argument("--peer-runs", type=int, default=1000)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "MODELYARD_HOME": str(Path(tmp) / "my"),
            "MODELYARD_SYSTEM_METRICS_INTERVAL": "0",
        }
        results["modelyard"] = run_side(
            "modelyard",
            sys.executable,
            [sys.executable, "-m", "modelyard.cli", "server", "--port", "{port}"],
            [],
            env,
        )
        if not args.no_peer:
            python = ensure_peer()
            # the MLflow drop-in: the same mlflow-client workloads against modelyard's server
            results["mlflow client -> modelyard"] = run_side(
                "mlflow-on-modelyard",
                python,
                [sys.executable, "-m", "modelyard.cli", "server", "--port", "{port}"],
                [str(args.peer_points), str(args.peer_runs)],
                {**env, "MODELYARD_HOME": str(Path(tmp) / "my-mlflow")},
                client="mlflow",
            )
            mlflow_bin = str(Path(python).parent / "mlflow")
            store = Path(tmp) / "mlflow"
            store.mkdir()
            results["mlflow"] = run_side(
                "mlflow",
                python,
                [
                    mlflow_bin,
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "{port}",
                    "--backend-store-uri",
                    f"sqlite:///{store}/mlflow.db",
                    "--artifacts-destination",
                    str(store / "artifacts"),
                ],
                [str(args.peer_points), str(args.peer_runs)],
                env,
            )
    table("modelyard SDK + server vs mlflow client + server", results, "modelyard")
    if "mlflow client -> modelyard" in results:
        table(
            "mlflow client: modelyard server vs mlflow server",
            results,
            "mlflow client -> modelyard",
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
