"""The SDK on an embedded store against MLflow's local store (SQLite + a local artifact folder).

    python benchmarks/embedded.py [--repeat 20]

Each figure is the median of ``--repeat`` timed calls of what a user writes, in one process:

* register: ``my.models.log(model, name)`` end to end (package with skops, store the files by
  digest, register the next version); MLflow: ``mlflow.sklearn.log_model(model, name=...,
  registered_model_name=..., pip_requirements=["scikit-learn"])`` inside an active run
  (requirements given: inferring them costs MLflow seconds a call). Each call logs a different fit.
* load by alias, warm: ``my.models.load("models:/NAME@champion")`` after a first load (the
  digest-checked local copy); MLflow: ``mlflow.sklearn.load_model("models:/NAME@champion")``.
* set alias: ``my.models.set_alias(name, "champion", v)``; MLflow:
  ``MlflowClient().set_registered_model_alias(name, "champion", v)``.

Both sides run in this process; MLflow 3.x is installed in the venv.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REQS = ["scikit-learn"]  # given, so MLflow does not infer them in a subprocess each call
TARGETS_MS = {"register": 30.0, "load by alias (warm)": 10.0, "set alias": 5.0}


def _fits(n: int) -> list[Any]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        x = rng.normal(size=(200, 8))
        out.append(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)))
    return out


def _median_ms(calls: list[Callable[[], object]]) -> float:
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def modelyard_side(root: Path, models: list[Any], repeat: int) -> dict[str, float]:
    os.environ["MODELYARD_HOME"] = str(root / "home")
    os.environ["MODELYARD_SYSTEM_METRICS_INTERVAL"] = "0"
    import modelyard as my

    my.set_tracking_uri(f"sqlite:///{root / 'modelyard.db'}")
    my.models.log(models[0], "warmup", aliases=["champion"])  # opens the store once
    out = {"register": _median_ms([lambda m=m: my.models.log(m, "churn") for m in models])}
    my.models.set_alias("churn", "champion", 1)
    my.models.load("models:/churn@champion")  # cold: copies the package into the cache
    load = lambda: my.models.load("models:/churn@champion")  # noqa: E731
    out["load by alias (warm)"] = _median_ms([load] * repeat)
    versions = [1 + i % len(models) for i in range(repeat)]
    out["set alias"] = _median_ms(
        [lambda v=v: my.models.set_alias("churn", "champion", v) for v in versions]
    )
    return out


def mlflow_side(root: Path, models: list[Any], repeat: int) -> dict[str, float]:
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_experiment("bench")  # its artifact root: ./mlartifacts-like local folder below
    client = MlflowClient()
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            models[0], name="warmup", registered_model_name="warmup", pip_requirements=REQS
        )
        out = {
            "register": _median_ms(
                [
                    lambda m=m: mlflow.sklearn.log_model(
                        m, name="model", registered_model_name="churn", pip_requirements=REQS
                    )
                    for m in models
                ]
            )
        }
    client.set_registered_model_alias("churn", "champion", 1)
    mlflow.sklearn.load_model("models:/churn@champion")
    load = lambda: mlflow.sklearn.load_model("models:/churn@champion")  # noqa: E731
    out["load by alias (warm)"] = _median_ms([load] * repeat)
    versions = [str(1 + i % len(models)) for i in range(repeat)]
    out["set alias"] = _median_ms(
        [lambda v=v: client.set_registered_model_alias("churn", "champion", v) for v in versions]
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    models = _fits(args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-embedded-") as tmp:
        root = Path(tmp)
        os.chdir(root)  # MLflow's default artifact folder (./mlruns) lands here
        mine = modelyard_side(root, models, args.repeat)
        peer = mlflow_side(root, models, args.repeat)
    print(f"{'median ms':<24}{'modelyard':>10}{'mlflow':>10}{'mlflow/my':>10}{'target':>8}")
    for name, target in TARGETS_MS.items():
        ratio = peer[name] / mine[name]
        print(f"{name:<24}{mine[name]:>10.1f}{peer[name]:>10.1f}{ratio:>9.1f}x{target:>8.0f}")


if __name__ == "__main__":
    main()
