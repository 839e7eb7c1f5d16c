"""Metrics for logged models (MLflow 3) through modelyard's own ingest: stored with the model
and in the run's series in one transaction, refused whole when bad, and only by a caller who
may write the model's experiment."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from modelyard.access.entities import Kind, Role
from tests.security._servers import AuthServer, auth_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("model-metrics")) as srv:
        yield srv


def _experiment(http: httpx.Client, name: str) -> str:
    r = http.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    assert r.status_code == 200, r.text
    return str(r.json()["experiment_id"])


def _run_and_model(http: httpx.Client, exp: str) -> tuple[str, str]:
    run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp}).json()
    run_id = run["run"]["info"]["run_id"]
    model = http.post(
        "/api/2.0/mlflow/logged-models",
        json={"experiment_id": exp, "name": "m", "source_run_id": run_id},
    ).json()
    return run_id, model["model"]["info"]["model_id"]


def _ingest(
    http: httpx.Client, run_id: str, model_metrics: object, **more: object
) -> httpx.Response:
    batch = {"run_id": run_id, "model_metrics": model_metrics, **more}
    return http.post("/api/v1/ingest", json={"batches": [batch]})


def _point(model_id: str, value: object = 0.5, **more: object) -> dict[str, object]:
    return {"model_id": model_id, "key": "acc", "value": value, "step": 2, "timestamp": 7, **more}


def test_points_land_with_the_model_and_the_run(server: AuthServer) -> None:
    with server.client(server.admin_token) as http:
        run_id, model_id = _run_and_model(http, _experiment(http, "mm-both"))
        point = _point(model_id, "NaN", dataset_name="eval", dataset_digest="abc")
        r = _ingest(http, run_id, [point])
        assert r.status_code == 200, r.text
        model = http.get(f"/api/2.0/mlflow/logged-models/{model_id}").json()["model"]
        assert model["data"]["metrics"] == [
            {"model_id": model_id, "key": "acc", "value": "NaN", "step": 2, "timestamp": 7,
             "run_id": run_id, "dataset_name": "eval", "dataset_digest": "abc"}
        ]  # fmt: skip
        history = http.get(
            "/api/2.0/mlflow/metrics/get-history", params={"run_id": run_id, "metric_key": "acc"}
        ).json()["metrics"]
        assert [(p["value"], p["step"]) for p in history] == [("NaN", 2)]


@pytest.mark.parametrize(
    ("points", "status"),
    [
        ([_point("m-" + "0" * 32)], 404),  # no such model
        ([_point("not-a-model-id")], 400),
        ([_point("m-" + "0" * 32, value=None)], 400),
        ("not a list", 400),
        ([_point("m-" + "1" * 32)] * 1001, 400),  # too many in one batch
    ],
    ids=["unknown-model", "bad-id", "null-value", "not-a-list", "too-many"],
)
def test_a_bad_point_writes_nothing(server: AuthServer, points: object, status: int) -> None:
    with server.client(server.admin_token) as http:
        run_id, _model_id = _run_and_model(http, _experiment(http, f"mm-bad-{status}-{id(points)}"))
        metrics = [{"key": "loss", "values": [1.0]}]
        r = _ingest(http, run_id, points, metrics=metrics, params={"p": "1"})
        assert r.status_code == status, r.text
        run = http.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
        assert run["data"]["metrics"] == []
        assert run["data"]["params"] == []


def test_an_editor_of_one_experiment_cannot_write_another_experiments_model(
    server: AuthServer,
) -> None:
    """The attack: a run the caller may write, a point naming a model they may only read."""
    with server.client(server.admin_token) as admin:
        mine, victims = _experiment(admin, "mm-mine"), _experiment(admin, "mm-victims")
        run_id, _own_model = _run_and_model(admin, mine)
        _victim_run, victim_model = _run_and_model(admin, victims)
    token = server.user(
        "mm-editor", [(Kind.EXPERIMENT, mine, Role.EDITOR), (Kind.EXPERIMENT, victims, Role.VIEWER)]
    )
    with server.client(token) as http:
        r = _ingest(http, run_id, [_point(victim_model)])
        assert r.status_code == 403, r.text
        mlflow_way = http.post(
            "/api/2.0/mlflow/runs/log-metric",
            json={
                "run_id": run_id,
                "key": "acc",
                "value": 1.0,
                "timestamp": 1,
                "model_id": victim_model,
            },
        )
        assert mlflow_way.status_code == 403, mlflow_way.text
        model = http.get(f"/api/2.0/mlflow/logged-models/{victim_model}").json()["model"]
        assert model["data"]["metrics"] == []
        assert (
            http.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]["data"][
                "metrics"
            ]
            == []
        )


def test_purging_a_run_keeps_its_models_metrics(server: AuthServer) -> None:
    with server.client(server.admin_token) as http:
        exp = _experiment(http, "mm-purge")
        run_id, model_id = _run_and_model(http, exp)
        other = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": exp}).json()
        other_id = other["run"]["info"]["run_id"]
        assert _ingest(http, other_id, [_point(model_id)]).status_code == 200
        assert _ingest(http, run_id, [_point(model_id, 0.7)]).status_code == 200
        assert (
            http.post("/api/2.0/mlflow/runs/delete", json={"run_id": other_id}).status_code == 200
        )
    report = server.app.state.services["tracking"].gc(dry_run=False)
    assert report.run_ids == [other_id]
    with server.client(server.admin_token) as http:
        model = http.get(f"/api/2.0/mlflow/logged-models/{model_id}").json()["model"]
        kept = [(m.get("run_id"), m["value"]) for m in model["data"]["metrics"]]
        assert kept == [(None, 0.5), (run_id, 0.7)]
