"""Serve one scikit-learn model with modelyard, MLflow and BentoML in turn; print one table of ratios.

    python benchmarks/serving.py                      # all three, then modelyard's own parts
    python benchmarks/serving.py --only mlflow --only bentoml --seconds 5 --json out.json
    python benchmarks/serving.py --only predlog --only rollouts   # modelyard's own parts

Needs wrk (``apt-get install -y wrk``). MLflow 3.x goes in benchmarks/.peer-venv and BentoML in
benchmarks/.bentoml-venv, both installed by this script on first use. Servers run one at a time,
each stopped before the next starts. Then two parts only modelyard has: its prediction log off and
on (serving_predlog.py), and rollouts under load on a supervised deployment (serving_rollouts.py).
See benchmarks/README.md ("Serving") for what each figure is.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import serving_servers as servers
from serving_ingest import measure_ingest
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
from serving_predlog import measure_predlog
from serving_procs import free_port, get_ok, post_ok, python_start_s, spawn, stop, wait_until
from serving_rollouts import measure_rollouts

HERE = Path(__file__).resolve().parent
BUILDERS: dict[str, Callable[[servers.Model], servers.Server]] = {
    "modelyard": servers.modelyard,
    "mlflow": servers.mlflow,
    "bentoml": servers.bentoml,
}

PARTS = ("predlog", "ingest", "rollouts")  # modelyard only: its log, monitoring ingest, rollouts
FLOOR = "import sklearn.linear_model"  # what any Python server of this model pays before its own


def predictions(answer: httpx.Response) -> list[Any]:
    """MLflow's ``{"predictions": [...]}`` or a bare list."""
    got = answer.json()
    return list(got["predictions"] if isinstance(got, dict) else got)


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
    """Time Python's floor, start the server, time it to ready and its first prediction, load it,
    read its RSS, stop it."""
    folder = Path(args.scratch)
    one_file = folder / f"{server.name}-one.json"
    many_file = folder / f"{server.name}-many.json"
    one_file.write_bytes(server.one_row)
    many_file.write_bytes(server.many_rows)
    one_lua, many_lua = write_lua(one_file), write_lua(many_file)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    url = base + server.path
    cmd = [c.replace("{port}", str(port)) for c in server.cmd]
    out: dict[str, Any] = {"cmd": " ".join(cmd)}
    out["floor_import_s"] = python_start_s(server.python, FLOOR, server.env)
    log = (folder / f"{server.name}.log").open("wb")
    begin = time.perf_counter()
    proc = spawn(cmd, server.env, log, server.cwd)
    try:
        wait_until(get_ok(base + server.ready_path), proc, f"{server.ready_path} 200")
        out["start_ready_s"] = time.perf_counter() - begin
        wait_until(post_ok(url, server.one_row), proc, "a first prediction")
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
    (
        "wrk_1row_16c_rate",
        "1 row, 16 clients: req/s (modelyard: log on)",
        ">= 3,000",
        lambda v: v >= 3000,
    ),
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
    ("floor_import_s", "python -c 'import sklearn.linear_model', s", "", None),
    ("start_ready_s", "start: spawn to ready (200), s", "<= 2", lambda v: v <= 2),
    ("start_s", "start: spawn to first prediction, s", "<= 2", lambda v: v <= 2),
    ("rss_mib", "RSS of the process tree after load, MiB", "<= 300", lambda v: v <= 300),
    ("errors", "failed requests (non-2xx, socket errors)", "0", lambda v: v == 0),
    ("load_avg_1m", "machine load average (1 min) before", "", None),
    ("predlog_off_rate", "1 row, 16 clients, prediction log off: req/s", "", None),
    ("predlog_on_rate", "  prediction log on (the default): req/s", "", None),
    ("predlog_ratio", "  on / off", ">= 0.95", lambda v: v >= 0.95),
    ("predlog_off_server_cpu_pct", "  server CPU, % of machine, log off", "", None),
    ("predlog_on_server_cpu_pct", "  server CPU, % of machine, log on", "", None),
    ("predlog_written_pct", "  log records written, % of requests", "100", lambda v: v >= 99.99),
    ("predlog_errors", "  failed requests", "0", lambda v: v == 0),
    ("ingest_off_rate", "1 row, 16 clients, monitoring ingest off: req/s", "", None),
    ("ingest_on_rate", "  ingest running beside it (as the server does): req/s", "", None),
    ("ingest_serving_ratio", "  on / off", ">= 0.95", lambda v: v >= 0.95),
    ("ingest_records_per_s", "  ingest: log records per second (wall, while serving)", "", None),
    (
        "ingest_records_per_cpu_s",
        "  ingest: log records per CPU second",
        ">= 50,000",
        lambda v: v >= 50_000,
    ),
    ("ingest_cpu_pct_of_machine", "  ingest CPU, % of machine while on", "", None),
    ("ingest_records", "  log records ingested", "", None),
    ("rollout_deploy_s", "deployment created to ready process, s", "", None),
    ("rollout_steady_rate", "  1 row, 16 clients, no rollout: req/s", "", None),
    ("rollout_bluegreen_switch_s", "blue-green v1 -> v2: switch, s", "", None),
    ("rollout_bluegreen_errors", "  failed requests", "0", lambda v: v == 0),
    ("rollout_bluegreen_rate", "  req/s during", "", None),
    ("rollout_bluegreen_p99_ms", "  p99 ms during", "", None),
    ("rollout_canary_step_s", "canary v2 -> v1: first step (50%), s", "", None),
    ("rollout_canary_full_s", "  last step (100%), s", "", None),
    ("rollout_canary_finish_s", "  done (stable v1), s", "", None),
    ("rollout_canary_errors", "  failed requests", "0", lambda v: v == 0),
    ("rollout_canary_rate", "  req/s during", "", None),
    ("rollout_canary_p99_ms", "  p99 ms during", "", None),
]
# the peers have nothing like these (shown as n/a)
MODELYARD_ONLY = {key for key, *_ in ROWS if key.startswith(("predlog_", "rollout_", "ingest_"))}
# a share of raw has the ratio of its rate; raw and the machine's load are not the server's
NO_RATIO = {key for key, *_ in ROWS if "_pct_" in key or key.startswith(("raw_", "load_"))}
NO_RATIO |= MODELYARD_ONLY


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
        if all(v is None for v in values):
            continue  # a part not run
        mine = values[0]
        ratios = [
            f"{mine / peer:,.2f}x" if mine is not None and peer and key not in NO_RATIO else ""
            for peer in values[1:]
        ]
        if target and meets is not None and mine is not None:
            target += " ok" if meets(mine) else " MISS"
        shown = [fmt(v) for v in values[:1]]
        shown += ["n/a" if key in MODELYARD_ONLY else fmt(v) for v in values[1:]]
        cells = [label, *shown, *ratios, target]
        print(
            " ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    for name, out in results.items():
        if not out.get("predictions_match", True):
            print(f"WARNING: {name}'s predictions differ from the model's own")
    for key, text in results.get("modelyard", {}).items():
        if key.startswith("rollout_") and key.endswith("_ended"):  # e.g. a gate rolled it back
            print(f"WARNING: the {key.split('_')[1]} rollout ended short: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choices = (*servers.NAMES, *PARTS)
    parser.add_argument(
        "--only",
        action="append",
        choices=choices,
        help="repeatable; predlog and rollouts are modelyard's prediction log off/on and rollouts",
    )
    parser.add_argument("--seconds", type=float, default=10, help="each load run")
    parser.add_argument("--warmup", type=float, default=2, help="16 clients, not counted")
    parser.add_argument(
        "--canary-max-latency-ratio",
        type=float,
        help="rollouts: the canary's latency gate (default: the deployment's own, 1.5)",
    )
    parser.add_argument("--json", type=Path, default=HERE / "results" / "serving.json")
    args = parser.parse_args()
    wrk_path()
    names = [n for n in choices if n in (args.only or choices)]
    results: dict[str, dict[str, Any]] = {}
    built: dict[str, servers.Server] = {}
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as scratch:
        args.scratch = scratch
        model, fitted = servers.fit(Path(scratch))
        one, many = servers.bodies([fitted.one])[0], servers.bodies(fitted.many)[0]
        expected = [int(p) for p in model.predict(servers.frame(fitted.many))]
        for name in names:
            builder = "modelyard" if name in PARTS else name
            if builder == "modelyard" and not servers.modelyard_available():
                print(f"{name}: skipped (`modelyard serve` is not in this checkout yet)")
                continue
            print(f"{name}: preparing", flush=True)
            if builder not in built:
                built[builder] = BUILDERS[builder](fitted)
            server = built[builder]
            out = results.setdefault(builder, {})
            out.setdefault("load_avg_1m", os.getloadavg()[0])
            if name == "predlog":
                out.update(measure_predlog(server, args))
            elif name == "ingest":
                out.update(measure_ingest(server, args))
            elif name == "rollouts":
                out.update(measure_rollouts(model, server.one_row, args))
            else:
                out.update(raw_predict(model, one, many))
                out.update(measure(server, expected, args))
                derive(out, len(fitted.many))
    table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    config = {
        "seconds": args.seconds,
        "warmup": args.warmup,
        "cores": os.cpu_count(),
        "parts": names,
        "canary_max_latency_ratio": args.canary_max_latency_ratio,
    }
    args.json.write_text(json.dumps({"config": config, **results}, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
