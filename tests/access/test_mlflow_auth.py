"""The unmodified mlflow client against a live server with auth on: MLFLOW_TRACKING_TOKEN
(Bearer) and MLFLOW_TRACKING_USERNAME / _PASSWORD (Basic) each log, search and register a model
as a user who is no admin; a wrong password or no credentials make the client raise."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

from tests.access.live import ADMIN_PASSWORD, api, auth_on, basic, unique

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # a 401 or 5xx must fail, not retry
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException, RestException  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
)
CREDENTIALS = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with auth_on(tmp_path_factory.mktemp("mlflow-auth")) as url:
        yield url


@pytest.fixture(scope="module")
def mia(server: str) -> tuple[str, str, str]:
    """A user who is no admin: name, password, and a write token of hers."""
    name, password = unique("mia"), "mia-password-1"
    with api(server, basic("admin", ADMIN_PASSWORD)) as admin:
        assert admin.post("/users", json={"name": name, "password": password}).is_success
    with api(server, basic(name, password)) as client:
        token = client.post("/tokens", json={"name": "mlflow"}).json()["secret"]
    return name, password, str(token)


@pytest.fixture
def tracking(server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(server)
    yield MlflowClient(server)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def _work(client: MlflowClient, user: str, *, log_model: bool) -> None:
    """What a training script does: log, search, register (with ``log_model``, the model's
    files go up through the artifact routes and come back by ``models:/``)."""
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(60, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    experiment = unique("mlflow-auth")
    mlflow.set_experiment(experiment)
    name = unique("clf")
    with mlflow.start_run() as run:
        mlflow.log_params({"C": 1.0, "solver": "lbfgs"})
        for step in range(3):
            mlflow.log_metric("acc", 0.5 + step / 4, step=step)
        if log_model:
            mlflow.sklearn.log_model(
                model, name="m", registered_model_name=name, pip_requirements=["scikit-learn"]
            )
        else:
            mlflow.log_text("weights", "m/weights.txt")
            client.create_registered_model(name)
            client.create_model_version(name, f"runs:/{run.info.run_id}/m", run.info.run_id)
    found = mlflow.search_runs(
        experiment_names=[experiment], filter_string="metrics.acc > 0.7", output_format="list"
    )
    assert [r.info.run_id for r in found] == [run.info.run_id]
    logged = client.get_run(run.info.run_id)
    assert logged.data.params == {"C": "1.0", "solver": "lbfgs"}
    assert logged.info.user_id == user  # the authenticated name, not the local login
    history = client.get_metric_history(run.info.run_id, "acc")
    assert {(m.step, m.value) for m in history} == {(0, 0.5), (1, 0.75), (2, 1.0)}
    (version,) = client.search_model_versions(f"name = '{name}'")
    assert (version.version, version.run_id) == ("1", run.info.run_id)
    if log_model:
        loaded = mlflow.sklearn.load_model(f"models:/{name}/1")
        assert (loaded.predict(x) == model.predict(x)).all()


def test_a_token_as_bearer(
    tracking: MlflowClient, mia: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", mia[2])
    _work(tracking, mia[0], log_model=True)


def test_a_user_name_and_password_as_basic(
    tracking: MlflowClient, mia: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", mia[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", mia[1])
    _work(tracking, mia[0], log_model=False)


def test_bad_or_missing_credentials_make_the_client_raise(
    tracking: MlflowClient, mia: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MlflowException, match="UNAUTHENTICATED") as anonymous:
        tracking.search_experiments()
    assert isinstance(anonymous.value, RestException)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", mia[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "not-her-password")
    with pytest.raises(MlflowException, match="wrong user name or password"):
        tracking.create_experiment(unique("nope"))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "myt_" + "a" * 12 + "_" + "b" * 43)
    with pytest.raises(MlflowException, match="UNAUTHENTICATED"):
        tracking.search_experiments()


def test_another_user_is_refused_mia_s_runs(
    server: str, tracking: MlflowClient, mia: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", mia[2])
    experiment = tracking.create_experiment(unique("private"))
    run = tracking.create_run(experiment)
    tracking.log_metric(run.info.run_id, "acc", 0.9)
    other = unique("leo")
    with api(server, basic("admin", ADMIN_PASSWORD)) as admin:
        admin.post("/users", json={"name": other, "password": "leo-password-1"})
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", other)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "leo-password-1")
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        tracking.get_run(run.info.run_id)
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        tracking.log_metric(run.info.run_id, "acc", 0.1)
    assert experiment not in {e.experiment_id for e in tracking.search_experiments()}
