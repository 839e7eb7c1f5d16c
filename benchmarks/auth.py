"""The cost of access control and the audit log: the same workloads with auth off and on.

Usage:
    .venv/bin/python benchmarks/auth.py [--rounds 3]

Starts `modelyard server` (SQLite, default durability) twice on one machine, once as it runs
by default (no auth; the audit log still records every write) and once with `--auth`, and runs
each workload through what a user calls:

* ``ingest``: the SDK's ``Client.ingest`` of 50,000 points (10 series x 5,000 steps) in one call,
  until the server answered (points/s);
* ``per_call``: ``run.log_metric`` 20,000 times, then ``run.end(wait=True)`` (points/s until
  stored);
* ``runs``: 300 runs created one at a time through the SDK (start, 20 params, 5 metrics, end),
  then ``my.flush()`` (runs/s);
* ``search_all`` / ``search_filtered``: ``POST /api/v1/runs/search`` over 1,000 runs, all of
  them and ``metrics.acc > 0.9 and params.lr = '0.01'`` ordered by acc (best of 10, ms);
* ``mlflow_log_metric``: the unmodified mlflow client's ``log_metric``, 500 calls (µs per call);
  with auth on it sends ``MLFLOW_TRACKING_TOKEN`` (Bearer) and, in a second row, user name and
  password (Basic).

With auth on the SDK sends an admin's API token (``MODELYARD_TOKEN``); an admin's checks are
the cheapest, so a second token of a user who holds an editor grant on the experiment runs the
search rows too (grant lookups on every request). Each figure is the median of ``--rounds``.
Results go to ``results/auth.json``.
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
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import free_port, wait_up  # noqa: E402

PASSWORD = "bench-admin-pass"


def _workloads(url: str, token: str | None, basic: tuple[str, str] | None) -> dict[str, float]:
    """Run every workload in a fresh process (credentials in its environment)."""
    env = {**os.environ, "MODELYARD_TRACKING_URI": url}
    env.pop("MODELYARD_TOKEN", None)
    if token:
        env["MODELYARD_TOKEN"] = token
    args = [sys.executable, str(Path(__file__).resolve()), "--child", url]
    if basic:
        args += ["--basic", f"{basic[0]}:{basic[1]}"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"workloads failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _child(url: str, basic: str | None) -> None:
    import numpy as np

    import modelyard as my

    out: dict[str, float] = {}
    token = os.environ.get("MODELYARD_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    my.set_tracking_uri(url)
    client = my.Client(url)
    run = my.start_run("ingest", experiment="bench", log_system_metrics=False, capture_code=False)
    steps = np.arange(5000)
    series = [{"key": f"b{m}", "steps": steps, "values": np.random.rand(5000)} for m in range(10)]
    start = time.perf_counter()
    client.ingest([{"run_id": run.id, "create": {"experiment_name": "bench"}, "metrics": series}])
    out["ingest_points_per_s"] = 50_000 / (time.perf_counter() - start)
    run.end(wait=True)

    run = my.start_run("per-call", experiment="bench", log_system_metrics=False, capture_code=False)
    start = time.perf_counter()
    for s in range(20_000):
        run.log_metric(f"m{s % 10}", s * 0.001, step=s // 10)
    run.end(wait=True)
    out["per_call_points_per_s"] = 20_000 / (time.perf_counter() - start)

    start = time.perf_counter()
    for i in range(300):
        r = my.start_run(f"r{i}", experiment="runs", log_system_metrics=False, capture_code=False)
        r.log_params({f"p{j}": j for j in range(20)})
        r.log_metrics({f"m{j}": j * 0.1 for j in range(5)})
        r.end()
    my.flush()
    out["runs_per_s"] = 300 / (time.perf_counter() - start)

    exp = client.get_experiment_by_name("search")
    if exp is None:
        for i in range(1000):
            r = my.start_run(
                f"s{i}", experiment="search", log_system_metrics=False, capture_code=False
            )
            r.log_params({"lr": "0.01" if i % 2 else "0.1"})
            r.log_metrics({"acc": i / 1000})
            r.end()
        my.flush()
        exp = client.get_experiment_by_name("search")
    assert exp is not None
    http = httpx.Client(base_url=url, headers=headers, timeout=60)
    every = {"experiment_ids": [exp.id], "max_results": 1000}
    filtered = {
        "experiment_ids": [exp.id],
        "filter": "metrics.acc > 0.9 and params.lr = '0.01'",
        "order_by": ["metrics.acc DESC"],
    }
    for name, body in (("search_all_ms", every), ("search_filtered_ms", filtered)):
        times = []
        for _ in range(10):
            start = time.perf_counter()
            answer = http.post("/api/v1/runs/search", json=body)
            times.append(time.perf_counter() - start)
            answer.raise_for_status()
        out[name] = min(times) * 1e3

    import mlflow
    from mlflow.tracking import MlflowClient

    if basic:
        user, password = basic.split(":", 1)
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = (
            user,
            password,
        )
    elif token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = token
    mlflow.set_tracking_uri(url)
    mc = MlflowClient(url)
    exp_id = mc.get_experiment_by_name("bench").experiment_id
    rid = mc.create_run(exp_id).info.run_id
    start = time.perf_counter()
    for s in range(500):
        mc.log_metric(rid, "x", s * 0.5, step=s)
    out["mlflow_log_metric_us"] = (time.perf_counter() - start) / 500 * 1e6
    print(json.dumps(out))


def _side(auth: bool, rounds: int) -> dict[str, dict[str, float]]:
    """Median figures of each credential kind on one server (auth off: one kind)."""
    home = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    store = f"sqlite:///{home / 'store.db'}"
    env = {**os.environ, "MODELYARD_HOME": str(home), "MODELYARD_ADMIN_PASSWORD": PASSWORD}
    kinds: dict[str, tuple[str | None, tuple[str, str] | None]] = {"off": (None, None)}
    if auth:
        kinds = _tokens(store)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "modelyard", "server", "--port", str(port), "--store", store]
    cmd += ["--artifacts", str(home / "artifacts"), "--no-supervise"]
    if auth:
        cmd.append("--auth")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(url, "/health", proc)
        results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
        for _ in range(rounds):
            for kind, (token, basic) in kinds.items():
                results[kind].append(_workloads(url, token, basic))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        kind: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        for kind, rows in results.items()
    }


def _tokens(store: str) -> dict[str, tuple[str | None, tuple[str, str] | None]]:
    """An admin's token, and an editor's (a grant on the server, looked up per request)."""
    from modelyard.access.entities import Kind, Role, Scope
    from modelyard.access.service import AccessService
    from modelyard.store.metadata.database import Database

    db = Database(store)
    try:
        access = AccessService(db)
        access.ensure_admin(PASSWORD)
        admin = access.authenticate_password("admin", PASSWORD)
        _, admin_token = access.create_token("bench", scope=Scope.WRITE, by=admin)
        access.create_user("editor", "editor-pass-1", by=admin)
        access.grant("user:editor", Kind.SERVER, "", Role.EDITOR, by=admin)
        editor = access.authenticate_password("editor", "editor-pass-1")
        _, editor_token = access.create_token("bench", scope=Scope.WRITE, by=editor)
    finally:
        db.close()
    return {
        "admin token": (admin_token, None),
        "editor token": (editor_token, None),
        "admin basic": (admin_token, ("admin", PASSWORD)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", default=None)
    parser.add_argument("--basic", default=None)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.basic)
        return
    off = _side(False, args.rounds)["off"]
    on = _side(True, args.rounds)
    rows: dict[str, Any] = {"auth off": off, **{f"auth on, {k}": v for k, v in on.items()}}
    lower_is_better = {"search_all_ms", "search_filtered_ms", "mlflow_log_metric_us"}
    keys = list(off)
    print(f"{'workload':24}" + "".join(f"{name:>22}" for name in rows))
    for key in keys:
        cells = []
        for figures in rows.values():
            value = figures[key]
            ratio = off[key] / value if key in lower_is_better else value / off[key]
            cells.append(f"{value:12.1f} ({ratio:4.2f}x)")
        print(f"{key:24}" + "".join(f"{c:>22}" for c in cells))
    print("(ratio: speed relative to auth off; 1.00x = no cost, 0.95x = 5% slower)")
    out = HERE / "results" / "auth.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
