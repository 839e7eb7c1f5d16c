"""Packaged models through a live server on both metadata backends: log, load, trust, audit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import modelyard as my
from modelyard.errors import InvalidState, NotTrusted
from modelyard.registry.client import ModelRegistry
from modelyard.server.app import ServerSettings
from modelyard.testing.server import live_server

pytestmark = pytest.mark.usefixtures("fresh_sdk")


@pytest.fixture
def server(store_uri: str, tmp_path: Path, modelyard_home: Path) -> Iterator[str]:
    with live_server(ServerSettings(store_uri, str(tmp_path / "artifacts"))) as url:
        yield url


def _fit(seed: int) -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] > 0).astype(int)
    return LogisticRegression(C=1.0 / (seed + 1)).fit(x, y), x


def test_log_load_alias_rollback_and_audit(server: str) -> None:
    api = httpx.Client(base_url=f"{server}/api/v1")
    my.set_tracking_uri(server)
    try:
        with my.start_run(experiment="registry", capture_code=False) as run:
            run.log_params({"C": "1.0"})
            run.log_metric("accuracy", 0.91)
            model1, x = _fit(0)
            v1 = my.models.log(model1, "churn", input_example=x[:3], aliases=["champion"])
        model2, _ = _fit(1)
        with ModelRegistry(server) as reg:
            v2 = reg.log(model2, "churn", input_example=x[:3], description="stronger C")
            assert (v1["version"], v2["version"]) == (1, 2)
            assert v1["run_id"] == run.id
            assert v1["package"]["flavor"] == "sklearn"
            assert v1["needs_trust"] is False  # skops, types on skops' trusted list
            assert v1["package"]["signature"]["inputs"][0]["shape"] == [-1, 3]

            loaded = reg.load("models:/churn@champion")
            assert np.array_equal(loaded.predict(x), model1.predict(x))
            assert np.array_equal(reg.load("models:/churn/2").predict(x), model2.predict(x))
            assert np.array_equal(reg.load("models:/churn@latest").predict(x), model2.predict(x))

            before_move = int(time.time() * 1000)
            time.sleep(0.01)
            reg.set_alias("churn", "champion", 2, reason="v2 wins the A/B test")
            assert reg.get("churn", alias="champion")["version"] == 2
            at = api.get("/models/churn/aliases/champion/at", params={"time": before_move})
            assert at.json() == {"version": 1}  # which version was champion at time T
            back = reg.rollback("churn", "champion", reason="v2 misbehaves in production")
            assert back["version"] == 1
            with pytest.raises(InvalidState, match="no earlier version to roll back to"):
                reg.rollback("churn", "challenger")

        stage = api.patch(
            "/models/churn/versions/1", json={"stage": "production", "reason": "approved by risk"}
        )
        assert stage.json()["stage"] == "Production"
        retired = api.patch("/models/churn/versions/2", json={"stage": "retired"})
        assert retired.json()["stage"] == "Retired"
        card = api.put("/models/churn/card", json={"card": "# Churn\nPredicts churn."})
        assert card.json()["card"].startswith("# Churn")

        events = api.get("/models/churn/history").json()
        moves = [
            (e["action"], e["version"], e["detail"].get("reason"), e["user"])
            for e in events
            if e["action"] in {"alias_set", "stage_changed"}
        ]
        assert moves == [
            ("alias_set", 1, "", "anonymous"),
            ("alias_set", 2, "v2 wins the A/B test", "anonymous"),
            ("alias_set", 1, "v2 misbehaves in production", "anonymous"),
            ("stage_changed", 1, "approved by risk", "anonymous"),
            ("stage_changed", 2, "", "anonymous"),
        ]
        diff = api.get("/models/churn/compare", params={"a": 1, "b": 2}).json()
        assert diff["params"] == {"C": ["1.0", None]}  # v2 was logged outside the run
        assert diff["metrics"] == {"accuracy": [0.91, None]}
        assert diff["dependencies"] == {}
        assert diff["flavor"] == ["sklearn", "sklearn"]
    finally:
        api.close()
        my.set_tracking_uri(None)


class Scorer:
    """A custom Python model: saved with cloudpickle, so it carries code."""

    def predict(self, x: Any) -> Any:
        return np.asarray(x).sum(axis=1)


def test_code_carrying_models_load_only_after_recorded_trust(server: str) -> None:
    with ModelRegistry(server) as reg:
        version = reg.log(Scorer(), "scorer")
        assert version["package"]["safe"] is False
        assert version["needs_trust"] is True  # cloudpickle: from the flavor table
        assert version["trusted"] is False
        with pytest.raises(NotTrusted, match="runs code when loaded"):
            reg.load("models:/scorer/1")
        bad = httpx.post(f"{server}/api/v1/models/scorer/versions/1/trust", json={"reason": " "})
        assert (bad.status_code, bad.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        trusted = reg.trust("scorer", 1, reason="our own class, reviewed in PR 42")
        assert trusted["trusted"] is True
        assert reg.load("models:/scorer/1").predict([[1, 2], [3, 4]]).tolist() == [3, 7]
        event = next(e for e in reg.history("scorer") if e["action"] == "trusted")
        assert event["detail"]["reason"] == "our own class, reviewed in PR 42"
        assert event["detail"]["digest"] == version["package_digest"]


def test_packages_that_do_not_match_their_manifest_are_refused(server: str, tmp_path: Path) -> None:
    api = f"{server}/api/v1"
    manifest = (
        b'{"flavor": "sklearn", "model_file": "model.skops", "safe": true, "files": {"model.skops": "'
        + b"0" * 64
        + b'"}}'
    )
    import hashlib

    digest = hashlib.sha256(manifest).hexdigest()
    assert httpx.put(f"{api}/blobs/{digest}", content=manifest).status_code == 201
    other = b"not the model the manifest names"
    other_digest = hashlib.sha256(other).hexdigest()
    httpx.put(f"{api}/blobs/{other_digest}", content=other)
    body = {"files": {"modelyard.json": digest, "model.skops": other_digest}}
    refused = httpx.post(f"{api}/models/m/versions", json=body)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    escape = {"files": {"modelyard.json": digest, "../x": other_digest}}
    assert (
        httpx.post(f"{api}/models/m/versions", json=escape).json()["error_code"]
        == "PATH_NOT_ALLOWED"
    )
    assert httpx.get(f"{api}/models/m").status_code == 404  # nothing half-written


def test_cli_moves_aliases_trusts_and_shows_history(server: str) -> None:
    import subprocess
    import sys

    with ModelRegistry(server) as reg:
        reg.log(Scorer(), "cli-model")
        reg.log(Scorer(), "cli-model")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelyard.cli", "models", *args, "-u", server],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cli("alias", "cli-model", "champion", "1").returncode == 0
    assert cli("alias", "cli-model", "champion", "2", "--reason", "better").returncode == 0
    out = cli("rollback", "cli-model", "champion", "--reason", "regression")
    assert "version 1 (rolled back)" in out.stdout
    assert cli("trust", "cli-model", "1").returncode == 2  # --reason is required
    assert (
        "trusted cli-model version 1" in cli("trust", "cli-model", "1", "--reason", "ours").stdout
    )
    missing = cli("rollback", "no-such-model", "champion")
    assert missing.returncode == 1
    assert "RESOURCE_DOES_NOT_EXIST" in missing.stderr
    history = cli("history", "cli-model").stdout
    assert "regression" in history
    assert "trusted" in history
    # promotions from the command line; the Scorer's run has no metrics, so a rule fails
    gated = cli("propose", "cli-model", "2", "production", "--rule", "accuracy > 0.5")
    assert "promotion 1: cli-model v2 -> Production (open)" in gated.stdout
    refused = cli("approve", "1")
    assert refused.returncode == 1
    assert "GATE_FAILED" in refused.stderr
    cli("propose", "cli-model", "2", "staging", "--alias", "challenger")
    assert "approved: cli-model v2 -> Staging" in cli("approve", "2", "--comment", "ok").stdout
    listed = cli("list").stdout
    assert "cli-model" in listed
    assert "challenger=v2" in listed


def test_promotion_is_proposed_reviewed_and_gated_on_metrics(server: str) -> None:
    api = httpx.Client(base_url=f"{server}/api/v1")
    my.set_tracking_uri(server)
    try:
        for accuracy in (0.90, 0.85, 0.93):
            with my.start_run(experiment="promote", capture_code=False) as run:
                run.log_metric("accuracy", accuracy)
                model, _ = _fit(int(accuracy * 100))
                my.models.log(model, "gated")
        api.put("/models/gated/aliases/champion", json={"version": 1})

        rules = ["accuracy >= champion.accuracy", "accuracy > 0.5"]
        weak = api.post(
            "/models/gated/versions/2/promotions",
            json={"stage": "production", "alias": "champion", "rules": rules, "reason": "retrain"},
        ).json()
        assert (weak["status"], weak["stage"]) == ("open", "Production")
        check = api.get(f"/promotions/{weak['id']}/check").json()
        assert [(c["passed"], c["left"], c["right"]) for c in check] == [
            (False, 0.85, 0.90),
            (True, 0.85, 0.5),
        ]
        refused = api.post(f"/promotions/{weak['id']}/approve", json={"comment": "ship it"})
        assert (refused.status_code, refused.json()["error_code"]) == (409, "GATE_FAILED")
        assert refused.json()["details"]["rules"][0]["rule"] == "accuracy >= champion.accuracy"
        assert api.get("/models/gated/aliases/champion").json()["version"] == 1  # unchanged
        assert api.get("/models/gated/versions/2").json()["stage"] == "None"
        rejected = api.post(f"/promotions/{weak['id']}/reject", json={"comment": "worse"}).json()
        assert rejected["status"] == "rejected"
        again = api.post(f"/promotions/{weak['id']}/approve", json={})
        assert again.json()["error_code"] == "INVALID_STATE"

        strong = api.post(
            "/models/gated/versions/3/promotions",
            json={"stage": "production", "alias": "champion", "rules": rules},
        ).json()
        api.post(f"/promotions/{strong['id']}/comments", json={"text": "eval looks good"})
        done = api.post(f"/promotions/{strong['id']}/approve", json={"comment": "ok"}).json()
        assert done["status"] == "approved"
        assert [r["verdict"] for r in done["reviews"]] == ["comment", "approve"]
        assert all(g["passed"] for g in done["gates"])
        assert api.get("/models/gated/aliases/champion").json()["version"] == 3
        assert api.get("/models/gated/versions/3").json()["stage"] == "Production"
        actions = [e["action"] for e in api.get("/models/gated/history").json()]
        assert actions[-3:] == ["promotion_approved", "stage_changed", "alias_set"]
        bad_rule = api.post(
            "/models/gated/versions/3/promotions", json={"stage": "staging", "rules": ["acc >>> 1"]}
        )
        assert bad_rule.status_code == 400
    finally:
        api.close()
        my.set_tracking_uri(None)


def test_models_and_datasets_round_trip_on_s3(
    s3_artifacts_uri: str, tmp_path: Path, modelyard_home: Path
) -> None:
    """The whole path with artifacts in a bucket of a real S3-protocol server."""
    import boto3

    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", s3_artifacts_uri)
    with live_server(settings) as url, ModelRegistry(url) as reg:
        model, x = _fit(3)
        reg.log(model, "on-s3", input_example=x[:2], aliases=["champion"])
        assert np.array_equal(reg.load("models:/on-s3@champion").predict(x), model.predict(x))
        from modelyard.datasets.client import DatasetRegistry

        with DatasetRegistry(url) as data:
            version = data.register("s3-data", _table())
        assert version["num_rows"] == 3
    bucket, prefix = s3_artifacts_uri[len("s3://") :].split("/", 1)
    keys = [
        o["Key"]
        for o in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    ]
    assert keys
    assert all(k.startswith(f"{prefix}/blobs/sha256/") for k in keys)


def _table() -> Any:
    import pyarrow as pa

    return pa.table({"a": [1, 2, 3], "b": ["x", "y", "x"]})


def test_embedded_store_is_served_in_process_and_closed_at_exit(
    tmp_path: Path, modelyard_home: Path
) -> None:
    import threading

    from modelyard import embedded

    def writers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "modelyard-sqlite-writer"}

    before = writers()
    uri = f"sqlite:///{tmp_path / 'embedded.db'}"
    model, x = _fit(5)
    with ModelRegistry(uri) as reg:
        reg.log(model, "local", aliases=["champion"])
        assert len(writers() - before) == 1  # the process's one store for this URI
        ours = writers() - before
    assert writers() - before == ours  # kept open (warm) for the next call
    with ModelRegistry(uri) as reg:
        assert np.array_equal(reg.load("models:/local@champion").predict(x), model.predict(x))
    embedded.close_all()  # what exit does
    assert not writers() & ours
