"""`modelyard import mlflow` from a real `mlflow server` filled by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelyard.datasets.service import DatasetsService
from modelyard.registry.service import RegistryService
from modelyard.store.stores import open_stores
from modelyard.tracking.entities import Lifecycle
from modelyard.tracking.service import TrackingService
from tests.importers.mlflow_source import ENV, running_mlflow_server

mlflow = pytest.importorskip("mlflow")
CONTEXT = "mlflow.data.context"
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
    _fill_mlflow3(client, x)
    np.save(root / "x.npy", x)
    mlflow.set_tracking_uri(None)


def _fill_mlflow3(client: Any, x: np.ndarray) -> None:
    """What the import used to lose: deleted experiments and runs, dataset inputs with tags,
    logged-model metrics, model inputs and outputs, versions copied from other versions."""
    from mlflow.entities import LoggedModelInput
    from sklearn.linear_model import LogisticRegression

    y = (x[:, 0] > 0.5).astype(int)
    train = mlflow.data.from_numpy(x, targets=y, name="train-set", source="s3://bucket/train")
    test = mlflow.data.from_numpy(x[:10], targets=y[:10], name="test-set")
    exp = mlflow.set_experiment("evaluated")
    with mlflow.start_run(run_name="fit"):
        mlflow.log_input(train, context="training", tags={"split": "a", "owner": "ml"})
        mlflow.log_input(test, context="eval")
        model = LogisticRegression().fit(x, y)
        info = mlflow.sklearn.log_model(model, name="clf", params={"C": "1.0"})
        for step in range(3):
            mlflow.log_metric("loss", 0.5 - step / 10, step=step)  # the run's own
            mlflow.log_metric("acc", 0.7 + step / 10, step=step, model_id=info.model_id)
        mlflow.log_metric("auc", 0.88, model_id=info.model_id, dataset=test)
        mlflow.log_metric("auc", 0.91, model_id=info.model_id, dataset=train)
    with mlflow.start_run(run_name="eval"):
        mlflow.log_input(test, context="eval", tags={"round": "2"})
        mlflow.log_input(model=LoggedModelInput(info.model_id))
        mlflow.log_metric("f1", 0.8, model_id=info.model_id, dataset=test)
    mlflow.sklearn.autolog(log_models=True, log_datasets=True)
    try:
        with mlflow.start_run(run_name="autolog"):
            LogisticRegression(max_iter=50).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    with mlflow.start_run(run_name="discarded") as discarded:
        mlflow.log_param("p", 1)
        mlflow.log_metric("m", 1.0)
        mlflow.log_input(train, context="training")
    client.delete_run(discarded.info.run_id)
    client.set_experiment_tag(exp.experiment_id, "stage", "eval")

    gone = mlflow.set_experiment("retired")
    for i in range(2):
        with mlflow.start_run(run_name=f"old-{i}"):
            mlflow.log_param("i", i)
            mlflow.log_metrics({"m": float(i), "n": 2.0}, step=1)
            mlflow.log_text("old", "old.txt")
            mlflow.log_input(train, context="training", tags={"era": "old"})
    with mlflow.start_run(run_name="old-model"):
        mlflow.sklearn.log_model(model, name="m", registered_model_name="retired-model")
    client.delete_experiment(gone.experiment_id)

    # versions made from other versions, by number and by alias
    client.copy_model_version("models:/churn/1", "churn-copy")
    client.copy_model_version("models:/churn@champion", "churn-copy")
    client.copy_model_version("models:/churn-copy/2", "churn")
    mlflow.set_experiment("imported")


def _import(source: str, store: str, artifacts: Path, *flags: str) -> subprocess.Popen[str]:
    cmd = [
        sys.executable, "-m", "modelyard.cli", "import", "mlflow",
        "--from", source, "--store", store, "--artifacts", str(artifacts), *flags,
    ]  # fmt: skip
    return subprocess.Popen(
        cmd,
        env={**os.environ, **ENV, "COLUMNS": "200"},
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
    assert int(copied["runs skipped"]) == len(_source_runs(source))


def _source_runs(source: Any) -> list[Any]:
    """Every run of the source, deleted ones and those of deleted experiments too."""
    from mlflow.entities import ViewType

    exps = source.search_experiments(view_type=ViewType.ALL)
    return list(source.search_runs([e.experiment_id for e in exps], run_view_type=ViewType.ALL))


def _rows(out: str) -> dict[str, list[str]]:
    """The cells of each row of a table printed, by the row's first cell."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            rows[cells[0]] = cells[1:]
    return rows


def _run_and_wait(*args: Any) -> tuple[int, str, str]:
    with _import(*args) as proc:
        out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def test_import_copies_deleted_inputs_model_metrics_and_copied_versions_once(
    mlflow_server: str, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    store, artifacts = f"sqlite:///{tmp_path / 'my.db'}", tmp_path / "artifacts"
    source = MlflowClient(mlflow_server)
    for attempt in range(2):  # the second import copies nothing and doubles nothing
        code, out, err = _run_and_wait(mlflow_server, store, artifacts, "--verify")
        assert code == 0, err
        copied_table, _, compared = out.partition("and modelyard")
        copied, rows = _rows(copied_table), _rows(compared)
        for what in (
            "experiments (deleted)",
            "runs (deleted)",
            "dataset inputs",
            "run model inputs and outputs",
            "logged-model metrics",
            "versions",
            "metric points",
            "artifact files",
        ):
            theirs, mine, mark = rows[what]
            assert theirs == mine, (what, out)
            assert int(theirs) > 0
            assert not mark
        assert "every count is the same" in out
        if attempt == 1:
            for what in ("runs", "metric points", "model metric points", "dataset inputs"):
                assert copied[what] == ["0"], (what, out)
            for what in ("model links", "versions", "deleted", "logged models"):
                assert copied[what] == ["0"], (what, out)

    tracking, registry = _services(store, artifacts)
    datasets = DatasetsService(registry.db, registry.artifacts)
    try:
        retired = tracking.get_experiment_by_name("retired")
        assert retired.lifecycle == Lifecycle.DELETED
        by_name = {r.info.run_name: r for r in _source_runs(source)}
        for name in ("old-0", "old-1", "old-model", "discarded"):
            gone = tracking.get_run(by_name[name].info.run_id)
            assert gone.lifecycle == Lifecycle.DELETED, name
            assert gone.params == by_name[name].data.params
        old = tracking.get_run(by_name["old-0"].info.run_id)
        assert old.experiment_id == retired.id
        assert {k: m.last for k, m in old.metrics.items()} == by_name["old-0"].data.metrics
        assert tracking.get_experiment_by_name("evaluated").lifecycle == Lifecycle.ACTIVE

        # dataset inputs with their tags, and the models each run read and produced
        uses = datasets.inputs(list(_ids(by_name)))
        links = registry.run_models(list(_ids(by_name)))
        for name, run in by_name.items():
            full = source.get_run(run.info.run_id)
            assert full.inputs is not None
            assert full.outputs is not None
            source_inputs = sorted(
                (d.dataset.name, d.dataset.digest, sorted((t.key, t.value) for t in d.tags))
                for d in full.inputs.dataset_inputs
            )
            mine_inputs = sorted(
                (
                    version.name,
                    version.tags["reference.digest"],
                    sorted(
                        {**use.tags, CONTEXT: use.context}.items()
                        if use.context
                        else use.tags.items()
                    ),
                )
                for use, version in uses.get(run.info.run_id, [])
            )
            assert mine_inputs == source_inputs, name
            read = [(m.model_id, 0) for m in full.inputs.model_inputs or []]
            made = [(m.model_id, m.step) for m in full.outputs.model_outputs or []]
            got = links.get(run.info.run_id, {})
            assert sorted(got.get("input", [])) == sorted(read), name
            assert sorted(got.get("output", [])) == sorted(made), name
        assert sorted(v.name for _u, v in uses[by_name["fit"].info.run_id]) == [
            "test-set",
            "train-set",
        ]
        fit_train = next(u for u, v in uses[by_name["fit"].info.run_id] if v.name == "train-set")
        assert fit_train.tags == {"split": "a", "owner": "ml"}
        assert fit_train.context == "training"
        assert links[by_name["eval"].info.run_id]["input"]

        # logged-model metrics as the source answers them, and each run's series once
        exps = [e.experiment_id for e in source.search_experiments()]
        models = source.search_logged_models(experiment_ids=exps)
        assert sum(len(m.metrics or []) for m in models) >= 14
        for model in models:
            theirs_m = sorted(
                (p.key, p.value, p.step, p.run_id, p.dataset_name, p.dataset_digest)
                for p in model.metrics or []
            )
            mine_m = sorted(
                (p.key, p.value, p.step, p.run_id, p.dataset_name, p.dataset_digest)
                for p in registry.get_logged_model(model.model_id).metrics
            )
            assert mine_m == theirs_m, model.name
        for name in ("fit", "eval", "autolog"):
            rid = by_name[name].info.run_id
            for key in by_name[name].data.metrics:
                series, total = tracking.metric_history(rid, key)
                expected = sorted(
                    (m.step, m.timestamp, m.value) for m in source.get_metric_history(rid, key)
                )
                got_points = sorted(
                    zip(
                        series.steps.tolist(),
                        series.timestamps.tolist(),
                        series.values.tolist(),
                        strict=True,
                    )
                )
                assert got_points == expected, (name, key)
                assert total == len(expected)

        # versions made from other versions (by number and by alias): same numbers, files
        for name in ("churn", "churn-copy"):
            theirs_v = {
                int(v.version): v.source for v in source.search_model_versions(f"name='{name}'")
            }
            mine_v, _ = registry.search_versions(f"name = '{name}'")
            assert {v.version: v.source for v in mine_v} == theirs_v
        assert registry.get_version("churn-copy", 2).source == "models:/churn/2"
        copy = registry.get_version("churn", 3)  # of churn-copy 2, itself of churn 2
        assert {a.path for a in registry.version_artifacts(copy).list()} == {
            a.path for a in registry.version_artifacts(registry.get_version("churn", 2)).list()
        }
        assert registry.get_version("retired-model", 1).run_id == by_name["old-model"].info.run_id
    finally:
        tracking.close()


def _ids(by_name: dict[str, Any]) -> list[str]:
    return [r.info.run_id for r in by_name.values()]


def test_verify_exits_1_and_marks_what_is_missing(mlflow_server: str, tmp_path: Path) -> None:
    from modelyard.importers.mlflow import MlflowImporter

    store, artifacts = f"sqlite:///{tmp_path / 'my.db'}", tmp_path / "artifacts"
    tracking, registry = _services(store, artifacts)
    try:
        report = MlflowImporter(mlflow_server, tracking, registry).run()
        assert not report.refused
        code, out, err = _run_and_wait(mlflow_server, store, artifacts, "--verify-only")
        assert code == 0, err
        assert "copied" not in out  # no import, the comparison only

        # a run deleted in modelyard, and a file removed from another
        page = tracking.search_runs([tracking.get_experiment_by_name("imported").id])
        child = next(r for r in page.runs if r.name == "child")
        tracking.delete_run(child.id)
        noted = next(r for r in page.runs if r.name == "run-1")
        assert tracking.delete_artifacts(noted.id, "notes/readme.txt") == 1
    finally:
        tracking.close()
    code, out, err = _run_and_wait(mlflow_server, store, artifacts, "--verify-only")
    assert code == 1, out
    rows = _rows(out)
    active, deleted, files = rows["runs (active)"], rows["runs (deleted)"], rows["artifact files"]
    assert int(active[1]) == int(active[0]) - 1
    assert active[2] == "missing"
    assert int(deleted[1]) == int(deleted[0]) + 1
    assert deleted[2] == "extra"
    assert int(files[1]) == int(files[0]) - 1
    assert files[2] == "missing"
    assert rows["params"][2] == ""
    assert rows["metric points"][2] == ""
    assert "differ:" in err
