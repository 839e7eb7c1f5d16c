"""How fast can any server look to the unmodified mlflow client? The client's own floor.

Runs the mlflow-client workloads of run.py twice through a small recording proxy in front of
`modelyard server`: first recording every answer, then replaying them from memory (no server
work at all, only a minimal HTTP server). The replayed times are the client's floor; the best
ratio any server can reach against `mlflow server` is mlflow's time divided by that floor.

    python benchmarks/client_floor.py        # reads mlflow's figures from results/latest.json
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
from run import ensure_peer, free_port, wait_up

HERE = Path(__file__).resolve().parent
KEYS = ["per_call_us", "batched_points_per_s", "runs_per_s", "search_all_ms"]
KEYS += ["search_filtered_ms", "history_5000_ms"]
RATES = {"batched_points_per_s", "runs_per_s"}


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
    env = {**os.environ, "BENCH_OUT": str(out), "BENCH_SKIP_MODELS": "1"}
    cmd = [python, str(HERE / "workloads.py"), "mlflow", url, str(points), str(runs)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    found: dict[str, float] = json.loads(out.read_text())
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    python = ensure_peer()
    peer = json.loads((HERE / "results" / "latest.json").read_text())["mlflow"]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "MODELYARD_HOME": tmp, "MODELYARD_SYSTEM_METRICS_INTERVAL": "0"}
        cmd = [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_up(f"http://127.0.0.1:{port}", "/health", proc)
            tape = Tape(f"http://127.0.0.1:{port}")
            server, url = serve(tape)
            recorded = workload(python, url, Path(tmp) / "rec.json", args.points, args.runs)
            tape.recording = False
            floor = workload(python, url, Path(tmp) / "floor.json", args.points, args.runs)
            server.shutdown()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    rows = {}
    for key in KEYS:
        best = peer[key] / floor[key] if key not in RATES else floor[key] / peer[key]
        rows[key] = {
            "mlflow server": peer[key],
            "modelyard (via proxy)": recorded[key],
            "client floor": floor[key],
            "best possible ratio": best,
        }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "client_floor.json").write_text(json.dumps(rows, indent=2))
    print(f"{'measure':24} {'mlflow':>12} {'modelyard':>12} {'floor':>12} {'best ratio':>10}")
    for key, row in rows.items():
        values = list(row.values())
        print(f"{key:24} " + " ".join(f"{v:12.2f}" for v in values[:3]) + f" {values[3]:9.1f}x")


if __name__ == "__main__":
    main()
