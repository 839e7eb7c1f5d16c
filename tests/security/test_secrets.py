"""Secrets never land in run params, tags, error messages or the server's log: a token logged
by mistake through the SDK or the mlflow client reads back masked."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import modelyard as my
from modelyard.access.secrets import mask
from modelyard.server.errors import SecretFilter
from tests.security._servers import AuthServer, auth_server

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    with auth_server(tmp_path_factory.mktemp("secrets")) as found:
        yield found


def run_json(server: AuthServer, run_id: str) -> httpx.Response:
    with server.client(server.admin_token) as admin:
        return admin.get(f"/api/v1/runs/{run_id}")


@pytest.mark.usefixtures("fresh_sdk")
def test_a_token_logged_through_the_sdk_is_stored_masked(
    server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = server.token("sdk")
    monkeypatch.setenv("MODELYARD_TOKEN", token)
    my.set_tracking_uri(server.url)
    with my.start_run("leaky", experiment="secrets-sdk", params={"api_key": token}) as run:
        run.set_tags({"how": f"curl -H 'Authorization: Bearer {token}'", "aws": AWS_KEY})
        run.log_params({"lr": 0.1, "cloud": f"key={AWS_KEY}"})
    logged = my.get_run(run.id)  # after the SDK's batches are sent
    assert logged.params == {"api_key": "myt_****", "cloud": "key=AKIA****", "lr": "0.1"}
    assert logged.tags["how"] == "curl -H 'Authorization: Bearer myt_****'"
    assert logged.tags["aws"] == "AKIA****"
    answer = run_json(server, run.id)
    assert answer.status_code == 200, answer.text
    assert token not in answer.text
    assert AWS_KEY not in answer.text


def test_a_token_logged_through_the_mlflow_client_is_stored_masked(
    server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")
    from mlflow.entities import Param, RunTag

    token = server.token("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = mlflow.MlflowClient(server.url)
    exp = client.create_experiment("secrets-mlflow")
    run_id = client.create_run(exp, tags={"creator": token}).info.run_id
    client.log_param(run_id, "token", token)
    client.set_tag(run_id, "aws", AWS_KEY)
    client.log_batch(run_id, params=[Param("batch", f"x {token} y")], tags=[RunTag("t", token)])
    got = client.get_run(run_id).data
    assert got.params == {"token": "myt_****", "batch": "x myt_**** y"}
    assert {k: got.tags[k] for k in ("creator", "aws", "t")} == {
        "creator": "myt_****",
        "aws": "AKIA****",
        "t": "myt_****",
    }
    assert token not in run_json(server, run_id).text
    # the same value again is not a conflicting change of the param
    client.log_param(run_id, "token", token)


def test_error_messages_never_echo_a_secret(server: AuthServer) -> None:
    token = server.token("errors")
    with server.client(server.admin_token) as admin:
        run = admin.post("/api/v1/runs", json={"experiment_name": "secrets-errors"}).json()
        bad = {"metrics": [{"key": "m", "values": [token]}]}
        native = admin.post(f"/api/v1/runs/{run['id']}/log", json=bad)
        assert native.status_code == 400, native.text
        assert "myt_****" in native.text
        mlflow_bad = admin.post(
            "/api/2.0/mlflow/runs/log-metric",
            json={"run_id": run["id"], "key": "m", "value": token, "timestamp": 1},
        )
        assert mlflow_bad.status_code == 400, mlflow_bad.text
        refused_host = admin.get("/api/v1/experiments", headers={"Host": f"{token}.example"})
        assert refused_host.status_code == 400
        for answer in (native, mlflow_bad, refused_host):
            assert token not in answer.text
            assert token[4:] not in answer.text  # nor its id and secret apart


def test_the_server_log_masks_secrets_in_lines_and_tracebacks(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    token = "myt_abcdefghijkl_" + "S" * 43
    logger = logging.getLogger("modelyard.server.tests-secrets")
    logger.addFilter(SecretFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.error("a client sent %s", token)
        try:
            raise ValueError(f"the database refused ({token!r}, 'hash')")
        except ValueError:
            logger.exception("write failed")
    assert token not in caplog.text
    assert caplog.text.count("myt_****") == 2
    assert mask(token) == "myt_****"


def test_private_key_blocks_are_masked_whole() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    assert mask(f"key: {block} (done)") == "key: ----**** (done)"
    assert mask(f"{block}\n{block}") == "----****\n----****"
    unended = "-----BEGIN PRIVATE KEY-----" + "a" * 20
    assert mask(unended) == unended  # no END marker: nothing to call a key


@pytest.mark.parametrize(
    "hostile",
    [
        "-----BEGIN PRIVATE KEY-----" * 2400,  # a second of backtracking with one regex
        "-----BEGIN " + "A" * 65000,
        "-----END PRIVATE KEY-----" * 2600,
        "sk-" * 21000,
        ("myt_" + "a" * 12 + "_") * 3800,
    ],
)
def test_masking_a_hostile_64k_param_takes_linear_time(hostile: str) -> None:
    started = time.perf_counter()
    mask(hostile)
    assert time.perf_counter() - started < 0.3  # each was ~10 ms; the old regex took 1.2 s
