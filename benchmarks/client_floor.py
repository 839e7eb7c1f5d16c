"""How fast can any server look to the unmodified mlflow client? The client's own floor.

One run, one mlflow client (PEER_SPEC, in benchmarks/.peer-venv-floor), three servers:

* **mlflow**: `mlflow server` (SQLite, proxied artifacts, one worker) from that venv, which has
  uvloop, so its uvicorn runs on uvloop as a tuned install would;
* **modelyard**: `modelyard server` on the embedded default (SQLite, default durability);
* **floor**: the modelyard answers recorded through a small proxy, then replayed from memory
  (no server work at all, only a minimal HTTP server): the client's own cost.

Each workload is the mlflow client's run.py workload (per-call logging, log_batch, runs created
one at a time, search all 1,000, a filtered search, a 5,000-point history, register a version,
load by alias). The table gives each server's time over the floor: 1.25x means the server adds
a quarter on top of what the client itself costs.

    python benchmarks/client_floor.py [--points 500] [--runs 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import free_port, wait_up

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv-floor"
PEER_SPEC = ["mlflow==3.17.2", "uvloop", "httpx"]  # the client of every side, and mlflow's server
KEYS = ["per_call_us", "batched_points_per_s", "runs_per_s", "search_all_ms"]
KEYS += ["search_filtered_ms", "history_5000_ms", "register_version_ms", "load_by_alias_ms"]
RATES = {"batched_points_per_s", "runs_per_s"}


def ensure_floor_peer() -> str:
    """The venv with the one mlflow client version (and its server, with uvloop)."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *PEER_SPEC], check=True)
    return str(python)


class Tape:
    """Answers by (method, path, body digest), and the last answer per (method, path)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=300)
        self.exact: dict[tuple[str, str, str], tuple[int, str, bytes]] = {}
        self.last: dict[tuple[str, str], tuple[int, str, bytes]] = {}
        self.recording = True
        self.lock = threading.Lock()

    def answer(self, method: str, path: str, body: bytes, ctype: str) -> tuple[int, str, bytes]:
        key = (method, path, hashlib.sha1(body).hexdigest())
        route = (method, path.split("?", 1)[0])
        if not self.recording:
            return self.exact.get(key) or self.last[route]
        r = self.upstream.request(method, path, content=body, headers={"content-type": ctype})
        found = (r.status_code, r.headers.get("content-type", "application/json"), r.content)
        with self.lock:
            self.exact[key] = self.last[route] = found
        return found


def serve(tape: Tape) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every small request

        def handle_any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ctype = self.headers.get("Content-Type", "application/json")
            status, out_type, data = tape.answer(self.command, self.path, body, ctype)
            self.send_response(status)
            self.send_header("Content-Type", out_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def workload(python: str, url: str, out: Path, points: int, runs: int) -> dict[str, float]:
    env = {**os.environ, "BENCH_OUT": str(out), "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [python, str(HERE / "workloads.py"), "mlflow", url, str(points), str(runs)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    found: dict[str, float] = json.loads(out.read_text())
    return found


def _best(samples: list[dict[str, float]]) -> dict[str, float]:
    """Per measure, the best of the rounds (the least disturbed by a noisy machine)."""
    return {k: (max if k in RATES else min)(s[k] for s in samples) for k in KEYS if k in samples[0]}


def _server(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(url, "/health", proc)
    except Exception:
        proc.kill()
        raise
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def one_round(python: str, tmp: Path, points: int, runs: int) -> dict[str, dict[str, float]]:
    """The three sides once, each on a fresh store."""
    out: dict[str, dict[str, float]] = {}
    env = {
        **os.environ,
        "MODELYARD_HOME": str(tmp / "home"),
        "MODELYARD_SYSTEM_METRICS_INTERVAL": "0",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow_cmd = [
        str(Path(python).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
        "--artifacts-destination", str(tmp / "mlflow-artifacts"), "--workers", "1",
    ]  # fmt: skip
    proc = _server(mlflow_cmd, {**env, "MLFLOW_DISABLE_TELEMETRY": "true"}, url)
    try:
        out["mlflow"] = workload(python, url, tmp / "mlflow.json", points, runs)
    finally:
        _stop(proc)
    for side in ("modelyard", "floor"):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        home = {**env, "MODELYARD_HOME": str(tmp / f"home-{side}")}
        cmd = [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)]
        proc = _server(cmd, home, url)
        try:
            if side == "modelyard":
                out[side] = workload(python, url, tmp / f"{side}.json", points, runs)
                continue
            tape = Tape(url)
            server, proxy = serve(tape)
            workload(python, proxy, tmp / "record.json", points, runs)
            tape.recording = False
            out[side] = workload(python, proxy, tmp / "floor.json", points, runs)
            server.shutdown()
        finally:
            _stop(proc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    python = ensure_floor_peer()
    version = subprocess.run(
        [python, "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    rounds: dict[str, list[dict[str, float]]] = {"mlflow": [], "modelyard": [], "floor": []}
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            for side, found in one_round(python, Path(tmp), args.points, args.runs).items():
                rounds[side].append(found)
        print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
    best = {side: _best(samples) for side, samples in rounds.items()}
    rows = {}
    for key in KEYS:
        floor = best["floor"][key]

        def over(value: float, floor: float = floor, key: str = key) -> float:
            return floor / value if key in RATES else value / floor

        rows[key] = {
            "client floor": floor,
            "modelyard": best["modelyard"][key],
            "mlflow (uvloop)": best["mlflow"][key],
            "modelyard / floor": over(best["modelyard"][key]),
            "mlflow / floor": over(best["mlflow"][key]),
        }
    (HERE / "results").mkdir(exist_ok=True)
    result = {"mlflow_client": version, "rounds": args.rounds, "rows": rows, "samples": rounds}
    (HERE / "results" / "client_floor.json").write_text(json.dumps(result, indent=2))
    print(f"mlflow client {version}, best of {args.rounds} rounds")
    head = ("measure", "floor", "modelyard", "mlflow", "my/floor", "mlflow/floor")
    print(f"{head[0]:22} {head[1]:>11} {head[2]:>11} {head[3]:>11} {head[4]:>9} {head[5]:>12}")
    for key, row in rows.items():
        v = list(row.values())
        print(f"{key:22} {v[0]:11.2f} {v[1]:11.2f} {v[2]:11.2f} {v[3]:8.2f}x {v[4]:11.2f}x")


if __name__ == "__main__":
    main()
