"""`modelyard import mlflow` from a real `mlflow server` filled by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from modelyard.registry.service import RegistryService
from modelyard.store.stores import open_stores
from modelyard.tracking.service import TrackingService
from tests.importers.mlflow_source import ENV, running_mlflow_server

mlflow = pytest.importorskip("mlflow")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
    ),
]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `mlflow server` (SQLite, proxied artifacts), filled with tracking and registry data."""
    root = tmp_path_factory.mktemp("mlflow")
    with running_mlflow_server(root) as url:
        _fill(url, root)
        yield url


def _fill(url: str, root: Path) -> None:
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    exp = mlflow.set_experiment("imported")
    client.set_experiment_tag(exp.experiment_id, "team", "vision")
    for i in range(4):
        with mlflow.start_run(run_name=f"run-{i}"):
            mlflow.log_params({"lr": 0.1 * (i + 1), "i": i})
            for step in range(300):
                mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            mlflow.log_metric("odd", float("nan"))
            mlflow.set_tag("kind", "sweep")
            mlflow.log_text(f"notes of run {i}", "notes/readme.txt")
            if i == 0:
                with mlflow.start_run(
                    run_name="child", nested=True, experiment_id=exp.experiment_id
                ):
                    mlflow.log_metric("c", 1.0)
    rng = np.random.default_rng(0)
    x = rng.random((40, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))
    with mlflow.start_run(run_name="trainer"):
        mlflow.sklearn.log_model(model, name="model", registered_model_name="churn")
        mlflow.sklearn.log_model(model, name="model2", registered_model_name="churn")
    client.set_registered_model_alias("churn", "champion", "2")
    client.set_registered_model_tag("churn", "owner", "ml")
    client.transition_model_version_stage("churn", "1", "Staging")
    np.save(root / "x.npy", x)
    mlflow.set_tracking_uri(None)


def _import(source: str, store: str, artifacts: Path) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, "-m", "modelyard.cli", "import", "mlflow",
        "--from", source, "--store", store, "--artifacts", str(artifacts),
    ]  # fmt: skip
    return subprocess.Popen(
        cmd,
        env={**os.environ, **ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _services(store: str, artifacts: Path) -> tuple[TrackingService, RegistryService]:
    stores = open_stores(store, str(artifacts))
    return TrackingService(stores.db, stores.artifacts), RegistryService(
        stores.db, stores.artifacts
    )


def test_import_copies_everything_once_and_resumes(mlflow_server: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    store, artifacts = f"sqlite:///{tmp_path / 'my.db'}", tmp_path / "artifacts"
    source = MlflowClient(mlflow_server)
    exp_id = source.get_experiment_by_name("imported").experiment_id  # type: ignore[union-attr]
    source_runs = {r.info.run_id: r for r in source.search_runs([exp_id])}

    # interrupt the first import after it reported two runs, then run it again
    lines = []
    with _import(mlflow_server, store, artifacts) as first:
        assert first.stdout is not None
        for line in first.stdout:
            lines.append(line)
            if line.startswith("runs 2/"):
                first.send_signal(signal.SIGKILL)
                break
        first.wait(timeout=60)
    assert any(line.startswith("runs 2/") for line in lines), lines

    with _import(mlflow_server, store, artifacts) as second:
        out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err

    tracking, registry = _services(store, artifacts)
    try:
        mine = tracking.get_experiment_by_name("imported")
        assert mine.tags == {"team": "vision"}
        page = tracking.search_runs([mine.id], max_results=100)
        assert {r.id for r in page.runs} == set(source_runs)
        for run in page.runs:
            theirs = source_runs[run.id]
            assert run.name == theirs.info.run_name
            assert run.params == theirs.data.params
            assert run.status.value == theirs.info.status
            # who logged it is the source's word: kept beside, not as the run's user
            assert run.user == "mlflow-import"
            assert run.tags["modelyard.recorded_as"] == theirs.info.user_id
            assert "mlflow.user" not in run.tags
            if "loss" in theirs.data.metrics:
                series, total = tracking.metric_history(run.id, "loss")
                assert total == 300  # the whole history, each point once
                expected = sorted(
                    (m.step, m.value) for m in source.get_metric_history(run.id, "loss")
                )
                assert (
                    list(zip(series.steps.tolist(), series.values.tolist(), strict=True))
                    == expected
                )
                assert run.metrics["loss"].last == pytest.approx(theirs.data.metrics["loss"])
                assert np.isnan(run.metrics["odd"].last)
                with tracking.run_artifacts(run.id).open("notes/readme.txt") as handle:
                    assert handle.read().decode().startswith("notes of run")
        child = next(r for r in page.runs if r.name == "child")
        assert child.parent_id == next(r.id for r in page.runs if r.name == "run-0")

        champion = registry.version_by_alias("churn", "champion")
        assert champion.version == 2
        assert registry.get_version("churn", 1).stage.value == "Staging"
        # the version's history names the importer (MLflow records no user for its versions)
        assert registry.get_version("churn", 1).user == "mlflow-import"
        assert registry.get_model("churn").tags == {"owner": "ml"}
        # the imported model loads from modelyard's own artifacts
        files = registry.version_artifacts(champion)
        names = {a.path for a in files.list()}
        assert "MLmodel" in names
    finally:
        tracking.close()

    # a third import copies nothing
    with _import(mlflow_server, store, artifacts) as third:
        out, err = third.communicate(timeout=300)
    assert third.returncode == 0, err
    copied = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") >= 3
    }
    assert copied["runs"] == "0"
    assert copied["metric points"] == "0"
    assert copied["artifact files"] == "0"
    assert copied["versions"] == "0"
    assert int(copied["runs skipped"]) == len(source_runs)
