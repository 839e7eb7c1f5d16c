"""Roles through the unmodified ``mlflow`` client on a server with auth on: an editor logs a
run as herself (whatever ``mlflow.user`` the client sends) and cannot delete the experiment, a
viewer reads and cannot log, and without credentials every call is refused with nothing
written. How the client's credentials are accepted (bearer, basic, bad ones) is in
tests/access/test_mlflow_auth.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.access_world import World, world

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::DeprecationWarning", "ignore::UserWarning:mlflow.*"
)
CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world(tmp_path_factory.mktemp("mlflow-auth")) as found:
        yield found


@pytest.fixture
def as_nobody(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def error_code(exc: pytest.ExceptionInfo[MlflowException]) -> str:
    return str(exc.value.error_code)


def log_a_run(w: World, client: MlflowClient, tmp_path: Path) -> str:
    run = client.create_run(str(w.exp_id), tags={"mlflow.user": "someone-else"})
    run_id = run.info.run_id
    client.log_metric(run_id, "acc", 0.9, step=1)
    client.log_param(run_id, "lr", "0.1")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    client.log_artifact(run_id, str(notes))
    client.set_terminated(run_id)
    stored = w.services["tracking"].get_run(run_id)
    assert (stored.metrics["acc"].last, stored.params["lr"]) == (0.9, "0.1")
    assert stored.status.value == "FINISHED"
    back = Path(client.download_artifacts(run_id, "notes.txt", str(tmp_path / "back")))
    assert back.read_text() == "hello"
    return str(run_id)


def test_a_token_logs_a_run_as_its_user(
    w: World, as_nobody: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    as_nobody.setenv("MLFLOW_TRACKING_TOKEN", w.tokens["editor"])
    client = MlflowClient(w.url)
    run_id = log_a_run(w, client, tmp_path)
    got = client.get_run(run_id)
    assert (got.info.user_id, got.data.tags["mlflow.user"]) == ("editor", "editor")
    assert [e.name for e in client.search_experiments()] == ["perm-exp"]
    with pytest.raises(MlflowException) as exc:
        client.delete_experiment(str(w.exp_id))  # needs maintainer
    assert error_code(exc) == "PERMISSION_DENIED"
    made = client.create_experiment("made-through-mlflow")
    client.delete_experiment(made)  # its creator maintains it


def test_a_viewer_reads_and_cannot_log(w: World, as_nobody: pytest.MonkeyPatch) -> None:
    as_nobody.setenv("MLFLOW_TRACKING_TOKEN", w.tokens["viewer"])
    client = MlflowClient(w.url)
    assert client.get_run(w.run_id).info.run_id == w.run_id
    assert client.get_registered_model(w.model).name == w.model
    with pytest.raises(MlflowException) as exc:
        client.log_metric(w.run_id, "acc", 1.0)
    assert error_code(exc) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as exc:
        client.create_run(str(w.exp_id))
    assert error_code(exc) == "PERMISSION_DENIED"


def test_without_credentials_every_call_is_refused(w: World, as_nobody: pytest.MonkeyPatch) -> None:
    client = MlflowClient(w.url)
    calls = (
        client.search_experiments,
        lambda: client.get_run(w.run_id),
        lambda: client.create_run(str(w.exp_id)),
        lambda: client.log_metric(w.run_id, "acc", 1.0),
        lambda: client.search_registered_models(),
    )
    for call in calls:
        with pytest.raises(MlflowException) as exc:
            call()
        assert error_code(exc) == "UNAUTHENTICATED"
    assert "acc" not in w.services["tracking"].get_run(w.run_id).metrics
