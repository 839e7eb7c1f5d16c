"""The unmodified ``mlflow`` client against a live modelyard server (issue: MLflow drop-in).

Each test drives real client calls, asserts on what comes back, and checks that modelyard's own
API shows the same objects: one store, not a parallel one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # a 5xx must fail the test, not retry
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
)


@pytest.fixture
def client(server_url: str) -> Iterator[MlflowClient]:
    mlflow.set_tracking_uri(server_url)
    yield MlflowClient(server_url)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture
def own(server_url: str) -> Iterator[httpx.Client]:
    """modelyard's own REST API on the same server."""
    with httpx.Client(base_url=f"{server_url}/api/v1") as http:
        yield http


def code_of(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def test_experiments(client: MlflowClient, own: httpx.Client) -> None:
    exp_id = client.create_experiment("mlf-exp", tags={"team": "vision"})
    by_name = client.get_experiment_by_name("mlf-exp")
    assert by_name is not None
    exp = client.get_experiment(exp_id)
    assert (exp.name, exp.tags, exp.lifecycle_stage) == ("mlf-exp", {"team": "vision"}, "active")
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert by_name.experiment_id == exp_id
    assert client.get_experiment_by_name("no-such-experiment") is None
    with pytest.raises(
        MlflowException, match=r"^RESOURCE_ALREADY_EXISTS: experiment 'mlf-exp'"
    ) as dup:
        client.create_experiment("mlf-exp")
    assert code_of(dup) == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(
        MlflowException, match=r"^RESOURCE_DOES_NOT_EXIST: experiment 987654"
    ) as missing:
        client.get_experiment("987654")
    assert code_of(missing) == "RESOURCE_DOES_NOT_EXIST"

    client.set_experiment_tag(exp_id, "stage", "dev")
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"stage": "dev"}
    client.rename_experiment(exp_id, "mlf-exp-renamed")
    found = client.search_experiments(filter_string="name LIKE 'mlf-exp%'")
    assert [e.name for e in found] == ["mlf-exp-renamed"]
    assert [e.name for e in client.search_experiments(filter_string="tags.stage = 'dev'")] == [
        "mlf-exp-renamed"
    ]
    # modelyard's own API sees the same experiment
    mine = own.get(f"/experiments/{exp_id}").json()
    assert (mine["name"], mine["tags"]) == ("mlf-exp-renamed", {"stage": "dev"})

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    deleted = client.search_experiments(view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [exp_id]
    client.restore_experiment(exp_id)
    assert own.get(f"/experiments/{exp_id}").json()["lifecycle"] == "active"
    # more than one page asked for: the server answers a page and a token, not an error
    base = str(own.base_url).removesuffix("/api/v1/")
    big = httpx.post(f"{base}/api/2.0/mlflow/experiments/search", json={"max_results": 50_000})
    assert big.status_code == 200, big.text
    # the Default experiment is id 0, as MLflow clients assume
    assert client.get_experiment("0").name == "Default"


def test_fluent_run_with_params_metrics_tags_and_nesting(
    client: MlflowClient, own: httpx.Client
) -> None:
    exp = mlflow.set_experiment("fluent")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 3, "loss": "log"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.75, "odd": float("nan"), "big": float("inf")}, step=4)
        mlflow.set_tag("team", "ml")
        mlflow.set_tags({"a": "1", "b": "2"})
        with mlflow.start_run(
            run_name="child", nested=True, experiment_id=exp.experiment_id
        ) as child:
            mlflow.log_metric("child_metric", 3.0)
    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "parent"
    assert run.info.end_time is not None
    assert run.data.params == {"lr": "0.01", "depth": "3", "loss": "log"}
    assert run.data.metrics["loss"] == pytest.approx(0.2)
    assert run.data.metrics["acc"] == 0.75
    assert math.isnan(run.data.metrics["odd"])
    assert run.data.metrics["big"] == math.inf
    assert {"team": "ml", "a": "1", "b": "2"}.items() <= run.data.tags.items()
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
    kids = client.search_runs(
        [exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in kids] == [child.info.run_id]
    # modelyard's own API: the same run, with the parent link and the series
    mine = own.get(f"/runs/{child.info.run_id}").json()
    assert mine["parent_id"] == parent.info.run_id
    series = own.get(f"/runs/{parent.info.run_id}/metrics/history", params={"key": "loss"}).json()
    assert series["steps"] == [0, 1, 2, 3, 4]


def test_client_run_lifecycle_and_errors(client: MlflowClient, own: httpx.Client) -> None:
    exp_id = client.create_experiment("client-runs")
    run = client.create_run(exp_id, run_name="low-level", tags={"source": "test"})
    rid = run.info.run_id
    assert run.info.status == "RUNNING"
    assert run.info.artifact_uri == f"mlflow-artifacts:/{exp_id}/{rid}/artifacts"
    client.log_param(rid, "p", "1")
    client.log_param(rid, "p", "1")  # the same value again is fine
    with pytest.raises(MlflowException, match=r"^INVALID_PARAMETER_VALUE: param 'p'") as changed:
        client.log_param(rid, "p", "2")
    assert code_of(changed) == "INVALID_PARAMETER_VALUE"
    client.log_metric(rid, "m", 1.5, step=3, timestamp=1_700_000_000_000)
    client.log_batch(
        rid,
        metrics=[Metric("m", 2.5, 1_700_000_000_001, 4), Metric("m", 0.5, 1_700_000_000_002, 2)],
        params=[Param("q", "x")],
        tags=[RunTag("t", "v")],
    )
    client.set_tag(rid, "gone", "soon")
    client.delete_tag(rid, "gone")
    with pytest.raises(MlflowException, match=r"^RESOURCE_DOES_NOT_EXIST: tag 'gone'") as no_tag:
        client.delete_tag(rid, "gone")
    assert code_of(no_tag) == "RESOURCE_DOES_NOT_EXIST"
    client.set_terminated(rid, "FAILED")
    got = client.get_run(rid)
    assert got.info.status == "FAILED"
    assert got.data.metrics["m"] == 2.5  # the latest step wins
    assert "gone" not in got.data.tags
    # steps that go backwards are kept, in MLflow's history order
    assert [m.step for m in client.get_metric_history(rid, "m")] == [3, 4, 2]
    client.update_run(rid, name="renamed")
    assert client.get_run(rid).info.run_name == "renamed"
    assert own.get(f"/runs/{rid}").json()["name"] == "renamed"

    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    with pytest.raises(
        MlflowException, match=r"^INVALID_PARAMETER_VALUE: run .* is deleted"
    ) as on_deleted:
        client.log_param(rid, "new", "1")
    assert code_of(on_deleted) == "INVALID_PARAMETER_VALUE"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"
    with pytest.raises(
        MlflowException, match=r"^RESOURCE_DOES_NOT_EXIST: run 0+ does not exist"
    ) as unknown:
        client.get_run("0" * 32)
    assert code_of(unknown) == "RESOURCE_DOES_NOT_EXIST"
    # the client splits big batches; the server enforces MLflow's limits on its own
    base = str(own.base_url).removesuffix("/api/v1/")
    too_many = httpx.post(
        f"{base}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": rid, "params": [{"key": f"k{i}", "value": "v"} for i in range(101)]},
    )
    assert too_many.status_code == 400
    assert too_many.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "k0" not in client.get_run(rid).data.params  # nothing of it was written


def test_search_runs_grammar_order_and_pages(client: MlflowClient) -> None:
    exp_id = client.create_experiment("search")
    for i in range(12):
        run = client.create_run(exp_id, run_name=f"r{i:02d}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", i / 10, 0, 0)],
            params=[Param("lr", "0.01" if i % 2 else "0.1")],
        )
        client.set_terminated(run.info.run_id)
    found = client.search_runs(
        [exp_id], "metrics.acc > 0.5 and params.lr = '0.01'", order_by=["metrics.acc DESC"]
    )
    assert [r.info.run_name for r in found] == ["r11", "r09", "r07"]
    # modelyard's richer grammar on the same route: OR, IN, NOT, regex
    richer = client.search_runs(
        [exp_id], "attributes.run_name IN ('r01', 'r02') OR attributes.run_name ~ '^r1[01]$'"
    )
    assert sorted(r.info.run_name for r in richer) == ["r01", "r02", "r10", "r11"]
    page = client.search_runs([exp_id], max_results=5, order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in page] == [f"r{i:02d}" for i in range(5)]
    assert page.token
    nxt = client.search_runs(
        [exp_id], max_results=5, order_by=["attributes.run_name ASC"], page_token=page.token
    )
    assert [r.info.run_name for r in nxt] == [f"r{i:02d}" for i in range(5, 10)]
    frame = mlflow.search_runs([exp_id], filter_string="metrics.acc >= 1.0")
    assert set(frame["tags.mlflow.runName"]) == {"r10", "r11"}
    with pytest.raises(MlflowException, match=r"^INVALID_PARAMETER_VALUE: expected a value") as bad:
        client.search_runs([exp_id], "metrics.acc >")
    assert code_of(bad) == "INVALID_PARAMETER_VALUE"
    assert "position" in str(bad.value)


def test_artifacts_round_trip(client: MlflowClient, tmp_path: Path, own: httpx.Client) -> None:
    exp = mlflow.set_experiment("artifacts")
    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b é.txt").write_text("beta")
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
        mlflow.log_artifact(str(folder / "a.txt"), "single")
        mlflow.log_artifacts(str(folder), "tree")
    rid = run.info.run_id
    assert [f.path for f in client.list_artifacts(rid)] == [
        "config.json",
        "notes",
        "single",
        "tree",
    ]
    assert [f.path for f in client.list_artifacts(rid, "tree/sub")] == ["tree/sub/b é.txt"]
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes/hello.txt") == "hello"
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/config.json") == {"k": [1, 2]}
    local = Path(client.download_artifacts(rid, "tree", str(tmp_path / "dl")))
    assert (local / "sub" / "b é.txt").read_text() == "beta"
    # modelyard's own API lists the same files
    listed = own.get(f"/runs/{rid}/artifacts", params={"path": "tree"}).json()
    assert {a["path"] for a in listed} == {"a.txt", "sub"}
    # the proxied artifact API refuses paths that leave the run's artifacts
    base = str(own.base_url).removesuffix("/api/v1/")
    root = f"{base}/api/2.0/mlflow-artifacts/artifacts/{exp.experiment_id}/{rid}/artifacts"
    for bad in ("../../x", "..%2f..%2fx", "%252e%252e/x", "a/../../x"):
        r = httpx.put(f"{root}/{bad}", content=b"x")
        assert r.status_code == 400, bad
        assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = httpx.get(f"{root}/tree")  # a directory is 404 for a GET, as the client expects
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def _train() -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.random((60, 3))
    y = (x[:, 0] > 0.5).astype(int)
    return LogisticRegression().fit(x, y), x


def test_log_register_and_load_by_alias(
    client: MlflowClient, own: httpx.Client, tmp_path: Path
) -> None:
    model, x = _train()
    exp = mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="clf", input_example=x[:2]
        )
    assert str(info.registered_model_version) == "1"
    logged = client.get_logged_model(info.model_id)
    assert (logged.name, logged.source_run_id, logged.status) == (
        "model",
        run.info.run_id,
        mlflow.entities.LoggedModelStatus.READY,
    )
    found = mlflow.search_logged_models(
        experiment_ids=[exp.experiment_id], filter_string="name = 'model'", output_format="list"
    )
    assert [m.model_id for m in found] == [info.model_id]
    client.set_logged_model_tags(info.model_id, {"quality": "good"})
    assert client.get_logged_model(info.model_id).tags["quality"] == "good"
    client.delete_logged_model_tag(info.model_id, "quality")
    assert "quality" not in client.get_logged_model(info.model_id).tags

    client.set_registered_model_alias("clf", "champion", "1")
    expected = model.predict(x[:5])
    by_alias = mlflow.pyfunc.load_model("models:/clf@champion")
    assert list(by_alias.predict(x[:5])) == list(expected)
    assert list(mlflow.sklearn.load_model("models:/clf/1").predict(x[:5])) == list(expected)
    runs_uri = f"runs:/{run.info.run_id}/model"
    assert list(mlflow.sklearn.load_model(runs_uri).predict(x[:5])) == list(expected)
    version = client.get_model_version_by_alias("clf", "champion")
    assert (version.version, version.run_id) == ("1", run.info.run_id)
    # a version keeps its own copy of the names (same blobs): changing the logged model's
    # files later does not change what version 1 loads; its files are read-only
    assert client.get_model_version_download_uri("clf", "1") == (
        "mlflow-artifacts:/versions/1/1/artifacts"
    )
    logged_files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    version_dir = mlflow.artifacts.download_artifacts(
        "models:/clf/1", dst_path=str(tmp_path / "v1")
    )
    assert logged_files <= {p.name for p in Path(version_dir).iterdir()}
    root = str(own.base_url).split("/api/v1")[0]
    refused = httpx.put(
        f"{root}/api/2.0/mlflow-artifacts/artifacts/versions/1/1/artifacts/MLmodel", content=b"x"
    )
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    # modelyard's own registry API shows the version, its lineage and its history
    mine = own.get("/models/clf/versions/1").json()
    assert (mine["run_id"], mine["logged_model_id"]) == (run.info.run_id, info.model_id)
    assert mine["aliases"] == ["champion"]
    actions = [(e["action"], e["version"]) for e in own.get("/models/clf/history").json()]
    assert actions == [("created", None), ("version_created", 1), ("alias_set", 1)]
    with pytest.raises(
        MlflowException, match=r"^RESOURCE_DOES_NOT_EXIST: model 'clf' has no alias 'nobody'"
    ) as no_alias:
        client.get_model_version_by_alias("clf", "nobody")
    assert code_of(no_alias) == "RESOURCE_DOES_NOT_EXIST"


def test_registry_operations(client: MlflowClient) -> None:
    model, _x = _train()
    mlflow.set_experiment("registry")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="m")
    rm = client.create_registered_model("reg", tags={"team": "a"}, description="first")
    assert (rm.name, rm.description, rm.tags) == ("reg", "first", {"team": "a"})
    with pytest.raises(
        MlflowException, match=r"^RESOURCE_ALREADY_EXISTS: registered model 'reg'"
    ) as dup:
        client.create_registered_model("reg")
    assert code_of(dup) == "RESOURCE_ALREADY_EXISTS"
    v1 = client.create_model_version("reg", f"models:/{info.model_id}", model_id=info.model_id)
    v2 = client.create_model_version("reg", f"models:/{info.model_id}", run_id=run.info.run_id)
    v3 = client.create_model_version("reg", f"runs:/{run.info.run_id}/m", run_id=run.info.run_id)
    assert (v1.version, v2.version, v3.version, v1.status) == ("1", "2", "3", "READY")
    with pytest.raises(
        MlflowException, match=r"^INVALID_PARAMETER_VALUE: source 'file:///etc/passwd'"
    ) as outside:
        client.create_model_version("reg", "file:///etc/passwd", run_id=run.info.run_id)
    assert code_of(outside) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(
        MlflowException, match=r"^INVALID_PARAMETER_VALUE: artifact path '\.\./\.\./x'"
    ) as escape:
        client.create_model_version("reg", f"runs:/{run.info.run_id}/../../x")
    assert code_of(escape) == "INVALID_PARAMETER_VALUE"

    client.update_registered_model("reg", "updated")
    client.set_registered_model_tag("reg", "k", "v")
    client.delete_registered_model_tag("reg", "team")
    client.update_model_version("reg", "1", "v1 desc")
    client.set_model_version_tag("reg", "1", "vk", "vv")
    client.set_model_version_tag("reg", "2", "vk", "other")
    client.delete_model_version_tag("reg", "2", "vk")
    got = client.get_registered_model("reg")
    assert (got.description, got.tags) == ("updated", {"k": "v"})
    assert client.get_model_version("reg", "1").description == "v1 desc"
    assert client.get_model_version("reg", "1").tags == {"vk": "vv"}

    client.transition_model_version_stage("reg", "1", "Production")
    client.transition_model_version_stage("reg", "2", "production", archive_existing_versions=True)
    assert client.get_model_version("reg", "1").current_stage == "Archived"
    latest = client.get_latest_versions("reg", stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    with pytest.raises(
        MlflowException, match=r"^INVALID_PARAMETER_VALUE: stage 'Heaven'"
    ) as bad_stage:
        client.transition_model_version_stage("reg", "1", "Heaven")
    assert code_of(bad_stage) == "INVALID_PARAMETER_VALUE"
    assert list(mlflow.sklearn.load_model("models:/reg/Production").predict(_x[:2])) == list(
        model.predict(_x[:2])
    )

    client.set_registered_model_alias("reg", "champion", "1")
    client.set_registered_model_alias("reg", "champion", "2")  # moving an alias
    assert client.get_registered_model("reg").aliases == {"champion": "2"}
    with pytest.raises(
        MlflowException, match=r"^INVALID_PARAMETER_VALUE: alias 'latest' is reserved"
    ) as reserved:
        client.set_registered_model_alias("reg", "latest", "1")
    assert code_of(reserved) == "INVALID_PARAMETER_VALUE"
    client.delete_registered_model_alias("reg", "champion")
    assert client.get_registered_model("reg").aliases == {}

    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 're%'")] == [
        "reg"
    ]
    versions = client.search_model_versions("name = 'reg'")
    assert [v.version for v in versions] == ["3", "2", "1"]
    by_run = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert sorted(v.version for v in by_run) == ["1", "2", "3"]
    client.rename_registered_model("reg", "reg2")
    assert client.get_model_version("reg2", "2").name == "reg2"
    client.delete_model_version("reg2", "1")
    with pytest.raises(
        MlflowException, match=r"^RESOURCE_DOES_NOT_EXIST: version 1 of model 'reg2'"
    ) as gone:
        client.get_model_version("reg2", "1")
    assert code_of(gone) == "RESOURCE_DOES_NOT_EXIST"
    v4 = client.create_model_version("reg2", f"models:/{info.model_id}", model_id=info.model_id)
    assert v4.version == "4"  # numbers are never reused
    client.delete_registered_model("reg2")
    assert client.search_registered_models() == []


def test_history_bulk_interval_for_charts(client: MlflowClient, server_url: str) -> None:
    """The UI's chart route: several runs, a step window, a point budget that keeps the shape."""
    exp_id = client.create_experiment("charts")
    run_ids = []
    for _ in range(2):
        run = client.create_run(exp_id)
        metrics = [Metric("loss", float((s * 7919) % 1000), 0, s) for s in range(1000)]
        client.log_batch(run.info.run_id, metrics=metrics)
        run_ids.append(run.info.run_id)
    params: list[tuple[str, str | int | float | bool | None]] = [("run_ids", r) for r in run_ids]
    params += [("metric_key", "loss"), ("start_step", 100), ("end_step", 499)]
    params += [("max_results", 50)]
    r = httpx.get(
        f"{server_url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", params=params
    )
    assert r.status_code == 200, r.text
    points = r.json()["metrics"]
    for run_id in run_ids:
        mine = [p for p in points if p["run_id"] == run_id]
        assert 0 < len(mine) <= 50
        assert all(100 <= p["step"] <= 499 for p in mine)
        window = [float((s * 7919) % 1000) for s in range(100, 500)]
        assert max(p["value"] for p in mine) == max(window)  # the envelope keeps the extremes
        assert min(p["value"] for p in mine) == min(window)
    r = httpx.get(
        f"{server_url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
        params={"metric_key": "loss"},
    )
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_dataset_inputs_become_modelyard_lineage(client: MlflowClient, own: httpx.Client) -> None:
    import pandas as pd

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(df, source="s3://bucket/train.csv", name="train", targets="y")
    mlflow.set_experiment("datasets")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(dataset, context="training")  # the same dataset again: one version
    inputs = client.get_run(run.info.run_id).inputs
    assert inputs is not None
    got = inputs.dataset_inputs
    assert len(got) == 1
    assert (got[0].dataset.name, got[0].dataset.digest) == ("train", dataset.digest)
    sent = dataset._to_mlflow_entity()
    assert got[0].dataset.source_type == sent.source_type
    assert json.loads(str(got[0].dataset.schema)) == json.loads(str(sent.schema))
    assert [(t.key, t.value) for t in got[0].tags] == [("mlflow.data.context", "training")]
    found = client.search_runs([run.info.experiment_id])[0].inputs
    assert found is not None
    assert found.dataset_inputs[0].dataset.name == "train"
    # modelyard's own API shows the same lineage
    uses = own.get(f"/runs/{run.info.run_id}/datasets").json()
    assert [(u["name"], u["direction"], u["context"]) for u in uses] == [
        ("train", "input", "training")
    ]
    version = own.get("/datasets/train/versions/latest").json()
    assert version["source"] == dataset.source.to_json()
    assert version["num_files"] == 0
