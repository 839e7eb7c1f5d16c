"""The benchmark workloads, run against one tracking server by one client library.

Usage (the runner calls this in each tool's own virtualenv):
    python workloads.py modelyard|mlflow URL [--scale-per-call N]
Prints one JSON object of measurements.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import httpx

METRICS, STEPS = 10, 5000  # 50,000 points
RUNS, PARAMS, RUN_METRICS, TAGS = 1000, 20, 5, 3


def timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_modelyard(url: str, per_call_points: int) -> dict[str, float]:
    import modelyard as my

    my.set_tracking_uri(url)
    out: dict[str, float] = {}
    # per-call logging: the cost in the training process, then until stored
    run = my.start_run("per-call", experiment="bench", log_system_metrics=False, capture_code=False)
    start = time.perf_counter()
    n = 0
    for m in range(METRICS):
        for s in range(per_call_points // METRICS):
            run.log_metric(f"m{m}", s * 0.001, step=s)
            n += 1
    call_cost = time.perf_counter() - start
    run.end(wait=True)  # until every point is stored
    total = time.perf_counter() - start
    out["per_call_us"] = call_cost / n * 1e6
    out["per_call_points_per_s"] = n / total
    # batched: whole series in one call each
    run = my.start_run("batched", experiment="bench", log_system_metrics=False, capture_code=False)
    client = my.Client(url)
    import numpy as np

    steps = np.arange(STEPS)
    start = time.perf_counter()
    client.ingest(
        [
            {
                "run_id": run.id,
                "create": {"experiment_name": "bench"},
                "metrics": [
                    {"key": f"b{m}", "steps": steps, "values": np.random.rand(STEPS)}
                    for m in range(METRICS)
                ],
            }
        ]
    )
    out["batched_points_per_s"] = METRICS * STEPS / (time.perf_counter() - start)
    run.end(wait=True)
    # run creation
    start = time.perf_counter()
    for i in range(RUNS):
        r = my.start_run(f"r{i}", experiment="search", log_system_metrics=False, capture_code=False)
        r.log_params({f"p{j}": j for j in range(PARAMS - 1)} | {"lr": "0.01" if i % 2 else "0.1"})
        r.log_metrics({"acc": i / RUNS} | {f"m{j}": j for j in range(RUN_METRICS - 1)})
        r.set_tags({f"t{j}": "x" for j in range(TAGS)})
        r.end()
    my.flush()
    out["runs_per_s"] = RUNS / (time.perf_counter() - start)
    exp = client.get_experiment_by_name("search").id
    http = httpx.Client(base_url=url)
    body_all = {"experiment_ids": [exp], "max_results": RUNS}
    body_filtered = {
        "experiment_ids": [exp],
        "filter": "metrics.acc > 0.9 and params.lr = '0.01'",
        "order_by": ["metrics.acc DESC"],
    }
    http.post("/api/v1/runs/search", json=body_all)
    out["search_all_ms"] = (
        min(timed(lambda: http.post("/api/v1/runs/search", json=body_all)) for _ in range(5)) * 1e3
    )
    out["search_filtered_ms"] = (
        min(timed(lambda: http.post("/api/v1/runs/search", json=body_filtered)) for _ in range(5))
        * 1e3
    )
    path = f"/api/v1/runs/{run.id}/metrics/history"
    out["history_5000_ms"] = (
        min(timed(lambda: http.get(path, params={"key": "b0"})) for _ in range(5)) * 1e3
    )
    samples = []
    for _ in range(200):
        samples.append(timed(lambda: http.get("/health")))
    samples.sort()
    out["reused_conn_p50_ms"] = samples[100] * 1e3
    out["reused_conn_p99_ms"] = samples[198] * 1e3
    http.close()
    client.close()
    out.update(register_and_load_native(url))
    return out


def bench_mlflow(url: str, per_call_points: int) -> dict[str, float]:
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    out: dict[str, float] = {}
    exp = mlflow.set_experiment("bench").experiment_id
    run = client.create_run(exp)
    rid = run.info.run_id
    start = time.perf_counter()
    n = 0
    for m in range(METRICS):
        for s in range(per_call_points // METRICS):
            client.log_metric(rid, f"m{m}", s * 0.001, step=s)
            n += 1
    elapsed = time.perf_counter() - start
    out["per_call_us"] = elapsed / n * 1e6
    out["per_call_points_per_s"] = n / elapsed
    ts = int(time.time() * 1000)
    start = time.perf_counter()
    for m in range(METRICS):
        for chunk in range(0, STEPS, 1000):  # log_batch takes at most 1000 metrics
            client.log_batch(
                rid, metrics=[Metric(f"b{m}", s * 0.5, ts, s) for s in range(chunk, chunk + 1000)]
            )
    out["batched_points_per_s"] = METRICS * STEPS / (time.perf_counter() - start)
    search_exp = client.create_experiment("search")
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else RUNS
    start = time.perf_counter()
    for i in range(runs):
        r = client.create_run(search_exp, run_name=f"r{i}")
        params = [Param(f"p{j}", str(j)) for j in range(PARAMS - 1)]
        params.append(Param("lr", "0.01" if i % 2 else "0.1"))
        metrics = [Metric("acc", i / runs, ts, 0)]
        metrics += [Metric(f"m{j}", j, ts, 0) for j in range(RUN_METRICS - 1)]
        tags = [RunTag(f"t{j}", "x") for j in range(TAGS)]
        client.log_batch(r.info.run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(r.info.run_id)
    out["runs_per_s"] = runs / (time.perf_counter() - start)
    out["search_all_ms"] = (
        min(timed(lambda: client.search_runs([search_exp], max_results=runs)) for _ in range(3))
        * 1e3
    )
    out["search_filtered_ms"] = (
        min(
            timed(
                lambda: client.search_runs(
                    [search_exp],
                    "metrics.acc > 0.9 and params.lr = '0.01'",
                    order_by=["metrics.acc DESC"],
                )
            )
            for _ in range(3)
        )
        * 1e3
    )
    out["history_5000_ms"] = (
        min(timed(lambda: client.get_metric_history(rid, "b0")) for _ in range(3)) * 1e3
    )
    if os.environ.get("BENCH_SKIP_MODELS") != "1":
        out.update(register_and_load(client, exp))
    http = httpx.Client(base_url=url)
    samples = sorted(timed(lambda: http.get("/health")) for _ in range(200))
    out["reused_conn_p50_ms"] = samples[100] * 1e3
    out["reused_conn_p99_ms"] = samples[198] * 1e3
    http.close()
    return out


def register_and_load_native(url: str) -> dict[str, float]:
    """The same small scikit-learn model through modelyard's SDK: package, upload, register;
    then load by alias (cold: first load downloads; warm: the digest-checked local copy)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from modelyard.registry.client import ModelRegistry

    rng = np.random.default_rng(0)
    x = rng.random((200, 4))
    registered, versions = [], []
    with ModelRegistry(url) as reg:
        for i in range(5):  # a different fit each time: nothing is deduplicated away
            model = LogisticRegression(C=1.0 + i).fit(x, (x[:, 0] > 0.5).astype(int))
            start = time.perf_counter()
            versions.append(reg.log(model, "bench-native", input_example=x[:2]))
            registered.append(time.perf_counter() - start)
        cold, warm = [], []
        for v in versions:
            reg.set_alias("bench-native", "champion", v["version"])
            cold.append(timed(lambda: reg.load("models:/bench-native@champion")))
            warm.append(timed(lambda: reg.load("models:/bench-native@champion")))
    return {
        "register_version_ms": min(registered) * 1e3,
        "load_by_alias_ms": min(warm) * 1e3,
        "load_by_alias_cold_ms": min(cold) * 1e3,
    }


def register_and_load(client: Any, exp: str) -> dict[str, float]:
    """Log a small scikit-learn model, register a version, load it by alias (mlflow client)."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.random((200, 4))
    model = LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))
    with mlflow.start_run(experiment_id=exp):
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    registered = []
    for _ in range(3):
        start = time.perf_counter()
        version = mlflow.register_model(f"models:/{info.model_id}", "bench-model")
        registered.append(time.perf_counter() - start)
    client.set_registered_model_alias("bench-model", "champion", version.version)
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        mlflow.pyfunc.load_model("models:/bench-model@champion")
        loads.append(time.perf_counter() - start)
    return {"register_version_ms": min(registered) * 1e3, "load_by_alias_ms": min(loads) * 1e3}


if __name__ == "__main__":
    tool, url = sys.argv[1], sys.argv[2]
    per_call = int(sys.argv[3]) if len(sys.argv) > 3 else METRICS * STEPS
    fn = bench_modelyard if tool == "modelyard" else bench_mlflow
    result = json.dumps(fn(url, per_call))
    # the result goes to a file: a tool printing to stdout must not fill a pipe nobody reads
    out_path = os.environ.get("BENCH_OUT")
    if out_path:
        with open(out_path, "w") as handle:
            handle.write(result)
    else:
        print(result)
