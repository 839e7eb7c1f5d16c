"""The cost of access control and the audit log: the same workloads with auth off and on.

Usage:
    .venv/bin/python benchmarks/auth.py [--rounds 5]

Starts `modelyard server` (SQLite, default durability) twice on one machine, one as it runs
by default (no auth; the audit log still records every write) and once with `--auth`, and runs
each workload through what a user calls:

* ``ingest``: the SDK's ``Client.ingest`` of 50,000 points (10 series x 5,000 steps) in one call,
  until the server answered; the median of 10 calls, each to a new run (points/s);
* ``per_call``: ``run.log_metric`` 100,000 times, then ``run.end(wait=True)`` (points/s until
  stored);
* ``runs``: 300 runs created one at a time through the SDK (start, 20 params, 5 metrics, end),
  then ``my.flush()`` (runs/s);
* ``search_all`` / ``search_filtered``: ``POST /api/v1/runs/search`` over 1,000 runs, all of
  them and ``metrics.acc > 0.9 and params.lr = '0.01'`` ordered by acc (best of 30, ms);
* ``mlflow_log_metric``: the unmodified mlflow client's ``log_metric``, 500 calls (µs per call);
  with auth on it sends ``MLFLOW_TRACKING_TOKEN`` (Bearer) and, in a second row, user name and
  password (Basic).

With auth on the SDK sends an admin's API token (``MODELYARD_TOKEN``); an admin's checks are
the cheapest, so a second token of a user who holds an editor grant on the experiment runs the
search rows too (grant lookups on every request). Both servers run side by side and each round
takes every credential kind in turn (starting one further each round), so a machine whose speed
drifts slows all columns alike. Each figure is the median of ``--rounds`` (default 5).
Beside each wall-clock figure, ``*_cpu_ms`` is the CPU time the server process used over the
workload (from ``/proc``): what auth and audit add to the server, less shaken than wall time
by a shared machine's noise. Results go to ``results/auth.json``.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from run import free_port, wait_up  # noqa: E402

PASSWORD = "bench-admin-pass"
Credentials = tuple[str | None, tuple[str, str] | None]  # a token, or a user name and password
INGEST_CALLS = 10  # the median call counts
SEARCHES = 30  # each search, the fastest counts
PER_CALL_POINTS = 100_000


def _workloads(
    url: str, token: str | None, basic: tuple[str, str] | None, pid: int
) -> dict[str, float]:
    """Run every workload in a fresh process (credentials in its environment)."""
    env = {**os.environ, "MODELYARD_TRACKING_URI": url, "BENCH_SERVER_PID": str(pid)}
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


def _server_cpu() -> float:
    """Seconds of CPU the server process (all its threads) has used so far."""
    fields = Path(f"/proc/{os.environ['BENCH_SERVER_PID']}/stat").read_text().rsplit(")", 1)[1]
    utime, stime = fields.split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


def _child(url: str, basic: str | None) -> None:
    import numpy as np

    import modelyard as my

    out: dict[str, float] = {}
    token = os.environ.get("MODELYARD_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    my.set_tracking_uri(url)
    client = my.Client(url)
    steps = np.arange(5000)
    series = [{"key": f"b{m}", "steps": steps, "values": np.random.rand(5000)} for m in range(10)]
    took = []
    cpu = _server_cpu()
    for i in range(INGEST_CALLS):
        run = my.start_run(f"ingest-{i}", experiment="bench", log_system_metrics=False)
        start = time.perf_counter()
        client.ingest(
            [{"run_id": run.id, "create": {"experiment_name": "bench"}, "metrics": series}]
        )
        took.append(time.perf_counter() - start)
        run.end(wait=True)
    out["ingest_points_per_s"] = 50_000 / statistics.median(took)
    out["ingest_cpu_ms"] = (_server_cpu() - cpu) * 1e3

    run = my.start_run("per-call", experiment="bench", log_system_metrics=False, capture_code=False)
    cpu, start = _server_cpu(), time.perf_counter()
    for s in range(PER_CALL_POINTS):
        run.log_metric(f"m{s % 10}", s * 0.001, step=s // 10)
    run.end(wait=True)
    out["per_call_points_per_s"] = PER_CALL_POINTS / (time.perf_counter() - start)
    out["per_call_cpu_ms"] = (_server_cpu() - cpu) * 1e3

    cpu, start = _server_cpu(), time.perf_counter()
    for i in range(300):
        r = my.start_run(f"r{i}", experiment="runs", log_system_metrics=False, capture_code=False)
        r.log_params({f"p{j}": j for j in range(20)})
        r.log_metrics({f"m{j}": j * 0.1 for j in range(5)})
        r.end()
    my.flush()
    out["runs_per_s"] = 300 / (time.perf_counter() - start)
    out["runs_cpu_ms"] = (_server_cpu() - cpu) * 1e3

    from modelyard.errors import NotFound

    try:
        exp = client.get_experiment_by_name("search")
    except NotFound:  # the first round fills it
        exp = None
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
        cpu = _server_cpu()
        for _ in range(SEARCHES):
            start = time.perf_counter()
            answer = http.post("/api/v1/runs/search", json=body)
            times.append(time.perf_counter() - start)
            answer.raise_for_status()
        out[name] = min(times) * 1e3
        out[name.replace("_ms", "_cpu_ms")] = (_server_cpu() - cpu) * 1e3

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
    cpu, start = _server_cpu(), time.perf_counter()
    for s in range(500):
        mc.log_metric(rid, "x", s * 0.5, step=s)
    out["mlflow_log_metric_us"] = (time.perf_counter() - start) / 500 * 1e6
    out["mlflow_log_metric_cpu_ms"] = (_server_cpu() - cpu) * 1e3
    print(json.dumps(out))


@contextmanager
def _server(auth: bool) -> Iterator[tuple[str, dict[str, Credentials], int]]:
    """A `modelyard server` on a fresh SQLite store; its URL and the credentials to send."""
    home = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    store = f"sqlite:///{home / 'store.db'}"
    env = {**os.environ, "MODELYARD_HOME": str(home), "MODELYARD_ADMIN_PASSWORD": PASSWORD}
    kinds: dict[str, Credentials] = _tokens(store) if auth else {"auth off": (None, None)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "modelyard.cli", "server", "--port", str(port), "--store", store]
    cmd += ["--artifacts", str(home / "artifacts"), "--no-supervise"]
    if auth:
        cmd.append("--auth")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(url, "/health", proc)
        yield url, kinds, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _measure(rounds: int) -> dict[str, dict[str, float]]:
    """Median figures of every credential kind; both servers run side by side and each round
    takes every kind in turn, so a machine that slows down slows all of them alike."""
    with _server(False) as (off_url, off, off_pid), _server(True) as (on_url, on, on_pid):
        plan = [(off_url, k, c, off_pid) for k, c in off.items()]
        plan += [(on_url, k, c, on_pid) for k, c in on.items()]
        results: dict[str, list[dict[str, float]]] = {p[1]: [] for p in plan}
        for i in range(rounds):
            for url, kind, (token, basic), pid in plan[i % len(plan) :] + plan[: i % len(plan)]:
                results[kind].append(_workloads(url, token, basic, pid))
    return {
        kind: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        for kind, rows in results.items()
    }


def _tokens(store: str) -> dict[str, Credentials]:
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
        "auth on, admin token": (admin_token, None),
        "auth on, editor token": (editor_token, None),
        "auth on, admin basic": (admin_token, ("admin", PASSWORD)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", default=None)
    parser.add_argument("--basic", default=None)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.basic)
        return
    rows: dict[str, Any] = _measure(args.rounds)
    off = rows["auth off"]
    lower_is_better = {"search_all_ms", "search_filtered_ms", "mlflow_log_metric_us"}
    lower_is_better |= {k for k in off if k.endswith("_cpu_ms")}
    keys = list(off)
    print(f"{'workload':24}" + "".join(f"{name:>22}" for name in rows))
    for key in keys:
        cells = []
        for figures in rows.values():
            value = figures[key]
            ratio = off[key] / value if key in lower_is_better else value / off[key]
            cells.append(f"{value:12.1f} ({ratio:4.2f}x)")
        print(f"{key:24}" + "".join(f"{c:>22}" for c in cells))
    print("(ratio: speed relative to auth off; 1.00x = no cost, 0.95x = 5% slower;")
    print(" *_cpu_ms: the server process's CPU time over the whole workload)")
    out = HERE / "results" / "auth.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
