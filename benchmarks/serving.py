"""Serve one scikit-learn model with modelyard, MLflow and BentoML in turn; print one table of ratios.

    python benchmarks/serving.py                      # all three, 10 s per load run
    python benchmarks/serving.py --only mlflow --only bentoml --seconds 5 --json out.json

Needs wrk (``apt-get install -y wrk``). MLflow 3.x goes in benchmarks/.peer-venv and BentoML in
benchmarks/.bentoml-venv, both installed by this script on first use. Servers run one at a time,
each stopped before the next starts; see benchmarks/README.md ("Serving") for what each figure is.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import serving_servers as servers
from serving_load import (
    Load,
    raw_predict,
    run_httpx,
    run_wrk,
    tree_cpu_seconds,
    tree_rss_mib,
    write_lua,
    wrk_path,
)

HERE = Path(__file__).resolve().parent
BUILDERS: dict[str, Callable[[servers.Model], servers.Server]] = {
    "modelyard": servers.modelyard,
    "mlflow": servers.mlflow,
    "bentoml": servers.bentoml,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def predictions(answer: httpx.Response) -> list[Any]:
    """MLflow's ``{"predictions": [...]}`` or a bare list."""
    got = answer.json()
    return list(got["predictions"] if isinstance(got, dict) else got)


def wait_ready(url: str, body: bytes, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    """Until a predict request answers 200 (the server may listen before its model is loaded)."""
    deadline = time.perf_counter() + timeout
    headers = {"content-type": "application/json"}
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before its first prediction")
        try:
            if httpx.post(url, content=body, headers=headers, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"no prediction within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (it was started in a new session), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
    try:  # workers the parent left behind
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def loaded(name: str, load: Load, server_cpu: float) -> dict[str, float]:
    return {
        f"{name}_rate": load.rate,
        f"{name}_p50_ms": load.p50_ms,
        f"{name}_p99_ms": load.p99_ms,
        f"{name}_errors": load.errors,
        f"{name}_client_cpu_pct": load.client_cpu_share * 100,
        f"{name}_server_cpu_pct": server_cpu * 100,
    }


def measure(
    server: servers.Server, expected: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    """Start the server, time it to its first prediction, load it, read its RSS, stop it."""
    folder = Path(args.scratch)
    one_file = folder / f"{server.name}-one.json"
    many_file = folder / f"{server.name}-many.json"
    one_file.write_bytes(server.one_row)
    many_file.write_bytes(server.many_rows)
    one_lua, many_lua = write_lua(one_file), write_lua(many_file)
    port = free_port()
    url = f"http://127.0.0.1:{port}{server.path}"
    cmd = [c.replace("{port}", str(port)) for c in server.cmd]
    log = (folder / f"{server.name}.log").open("wb")
    begin = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **server.env},
        cwd=server.cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out: dict[str, Any] = {"cmd": " ".join(cmd)}
    try:
        wait_ready(url, server.one_row, proc)
        out["start_s"] = time.perf_counter() - begin
        answer = httpx.post(
            url, content=server.many_rows, headers={"content-type": "application/json"}
        )
        out["predictions_match"] = predictions(answer) == expected
        run_wrk(url, one_lua, 2, 16, args.warmup)  # not counted: lets batchers settle
        runs: list[tuple[str, Callable[[], Load]]] = [
            ("wrk_1row_1c", lambda: run_wrk(url, one_lua, 1, 1, args.seconds)),
            ("httpx_1row_1c", lambda: run_httpx(url, server.one_row, args.seconds)),
            ("wrk_1row_16c", lambda: run_wrk(url, one_lua, 2, 16, args.seconds)),
            ("wrk_100rows_16c", lambda: run_wrk(url, many_lua, 2, 16, args.seconds)),
        ]
        for name, run in runs:
            cpu, wall = tree_cpu_seconds(proc.pid), time.perf_counter()
            load = run()
            share = (tree_cpu_seconds(proc.pid) - cpu) / (time.perf_counter() - wall)
            out.update(loaded(name, load, share / (os.cpu_count() or 1)))
            print(f"  {name}: {load.rate:,.0f} req/s, p50 {load.p50_ms:.2f} ms", flush=True)
        out["rss_mib"] = tree_rss_mib(proc.pid)
    except Exception:
        log.flush()
        print((folder / f"{server.name}.log").read_text(errors="replace")[-3000:])
        raise
    finally:
        stop(proc)
        log.close()
    out["errors"] = sum(v for k, v in out.items() if k.endswith("_errors"))
    return out


# (key, label, target, whether a modelyard figure meets it)
ROWS: list[tuple[str, str, str, Callable[[float], bool] | None]] = [
    ("raw_1row_prebuilt_calls_s", "raw, 1 row, predict on prebuilt: calls/s", "", None),
    ("raw_1row_build_calls_s", "raw, 1 row, build DataFrame + predict", "", None),
    ("raw_100rows_prebuilt_rows_s", "raw, 100 rows, predict on prebuilt: rows/s", "", None),
    ("raw_100rows_build_rows_s", "raw, 100 rows, build DataFrame + predict", "", None),
    ("wrk_1row_1c_rate", "1 row, 1 client, wrk: req/s", "", None),
    (
        "wrk_1row_1c_pct_prebuilt",
        "  % of raw predict (prebuilt DataFrame)",
        ">= 70%",
        lambda v: v >= 70,
    ),
    ("wrk_1row_1c_pct_build", "  % of raw build DataFrame + predict", "", None),
    ("wrk_1row_1c_p50_ms", "  p50 ms", "", None),
    ("wrk_1row_1c_client_cpu_pct", "  wrk CPU, % of machine", "", None),
    ("httpx_1row_1c_rate", "1 row, 1 client, httpx: req/s", "", None),
    (
        "httpx_1row_1c_pct_prebuilt",
        "  % of raw predict (prebuilt DataFrame)",
        ">= 70%",
        lambda v: v >= 70,
    ),
    ("httpx_1row_1c_p50_ms", "  p50 ms", "", None),
    ("httpx_1row_1c_client_cpu_pct", "  httpx client CPU, % of machine", "", None),
    ("wrk_1row_16c_rate", "1 row, 16 clients: req/s", ">= 3,000", lambda v: v >= 3000),
    ("wrk_1row_16c_p50_ms", "  p50 ms", "", None),
    ("wrk_1row_16c_p99_ms", "  p99 ms", "<= 20", lambda v: v <= 20),
    ("wrk_1row_16c_client_cpu_pct", "  wrk CPU, % of machine", "", None),
    ("wrk_1row_16c_server_cpu_pct", "  server CPU, % of machine", "", None),
    ("wrk_100rows_16c_rows", "100-row requests, 16 clients: rows/s", "", None),
    (
        "wrk_100rows_16c_pct_prebuilt",
        "  % of raw predict (prebuilt DataFrame)",
        ">= 70%",
        lambda v: v >= 70,
    ),
    ("wrk_100rows_16c_pct_build", "  % of raw build DataFrame + predict", "", None),
    ("wrk_100rows_16c_p99_ms", "  p99 ms", "", None),
    ("start_s", "start to first prediction, s", "<= 2", lambda v: v <= 2),
    ("rss_mib", "RSS of the process tree after load, MiB", "<= 300", lambda v: v <= 300),
    ("errors", "failed requests (non-2xx, socket errors)", "0", lambda v: v == 0),
    ("load_avg_1m", "machine load average (1 min) before", "", None),
]
# a share of raw has the ratio of its rate; raw and the machine's load are not the server's
NO_RATIO = {key for key, *_ in ROWS if "_pct_" in key or key.startswith(("raw_", "load_"))}


def derive(out: dict[str, Any], rows: int) -> None:
    """Rows/s and shares of the raw in-process rate measured just before this server."""
    out["wrk_100rows_16c_rows"] = out["wrk_100rows_16c_rate"] * rows
    for run in ("wrk_1row_1c", "httpx_1row_1c"):
        out[f"{run}_pct_prebuilt"] = 100 * out[f"{run}_rate"] / out["raw_1row_prebuilt_calls_s"]
        out[f"{run}_pct_build"] = 100 * out[f"{run}_rate"] / out["raw_1row_build_calls_s"]
    many = out["wrk_100rows_16c_rows"]
    out["wrk_100rows_16c_pct_prebuilt"] = 100 * many / out["raw_100rows_prebuilt_rows_s"]
    out["wrk_100rows_16c_pct_build"] = 100 * many / out["raw_100rows_build_rows_s"]


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def table(results: dict[str, dict[str, Any]]) -> None:
    print(
        "\nraw: the fitted model's predict in this process on a pandas DataFrame of the decoded"
        " JSON rows,\nmeasured just before each server (other load on the machine moves it)"
    )
    head = ["metric", *servers.NAMES, "modelyard/mlflow", "modelyard/bentoml", "target"]
    widths = [44, 10, 10, 10, 16, 17, 14]
    print(
        "\n"
        + " ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    )
    for key, label, target, meets in ROWS:
        values = [results.get(n, {}).get(key) for n in servers.NAMES]
        mine = values[0]
        ratios = [
            f"{mine / peer:,.2f}x" if mine is not None and peer and key not in NO_RATIO else ""
            for peer in values[1:]
        ]
        if target and meets is not None and mine is not None:
            target += " ok" if meets(mine) else " MISS"
        cells = [label, *(fmt(v) for v in values), *ratios, target]
        print(
            " ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    for name, out in results.items():
        if not out.get("predictions_match", True):
            print(f"WARNING: {name}'s predictions differ from the model's own")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=servers.NAMES, help="repeatable")
    parser.add_argument("--seconds", type=float, default=10, help="each load run")
    parser.add_argument("--warmup", type=float, default=2, help="16 clients, not counted")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "serving.json")
    args = parser.parse_args()
    wrk_path()
    names = args.only or list(servers.NAMES)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as scratch:
        args.scratch = scratch
        model, fitted = servers.fit(Path(scratch))
        one, many = servers.bodies([fitted.one])[0], servers.bodies(fitted.many)[0]
        expected = [int(p) for p in model.predict(servers.frame(fitted.many))]
        for name in names:
            if name == "modelyard" and not servers.modelyard_available():
                print("modelyard: skipped (`modelyard serve` is not in this checkout yet)")
                continue
            print(f"{name}: preparing", flush=True)
            server = BUILDERS[name](fitted)
            out = {"load_avg_1m": os.getloadavg()[0], **raw_predict(model, one, many)}
            out.update(measure(server, expected, args))
            derive(out, len(fitted.many))
            results[name] = out
    table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    config = {"seconds": args.seconds, "warmup": args.warmup, "cores": os.cpu_count()}
    args.json.write_text(json.dumps({"config": config, **results}, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
