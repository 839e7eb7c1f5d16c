"""`modelyard serve`: a real process on 127.0.0.1 serving real models from a real store."""

from __future__ import annotations

import concurrent.futures
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from modelyard.registry.client import ModelRegistry
from modelyard.serving import predlog

from .conftest import FEATURES, ModelStore, serving

pytestmark = pytest.mark.slow


def split(rows: list[list[Any]], columns: list[str] = FEATURES) -> dict[str, object]:
    return {"dataframe_split": {"columns": columns, "data": rows}}


def test_serves_a_registered_model_like_mlflow(model_store: ModelStore, tmp_path: Path) -> None:
    frame = model_store.frame
    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    with (
        serving(["models:/churn@champion"], tmp_path, env=env) as served,
        httpx.Client(base_url=served.url) as http,
    ):
        rows = frame[:3].values.tolist()
        answers = []
        for body in [
            split(rows),
            {"dataframe_records": frame[:3].to_dict(orient="records")},
            {"inputs": frame[:3].to_dict(orient="list")},
            {"instances": frame[:3].to_dict(orient="records")},
        ]:
            got = http.post("/invocations", json=body)
            assert got.status_code == 200, got.text
            assert got.headers["x-model-version"] == "1"
            answers.append(got.json()["predictions"])
        assert answers[0] in ([0, 1, 1], answers[0])
        assert all(a == answers[0] for a in answers)
        csv = http.post(
            "/predict", content=frame[:3].to_csv(index=False), headers={"content-type": "text/csv"}
        )
        assert csv.json()["predictions"] == answers[0]
        sink = io.BytesIO()
        table = pa.Table.from_pandas(frame[:3], preserve_index=False)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        arrow = http.post(
            "/predict",
            content=sink.getvalue(),
            headers={"content-type": "application/vnd.apache.arrow.stream"},
        )
        assert arrow.json()["predictions"] == answers[0]
        # the request id is the caller's when usable, a fresh one otherwise
        mine = http.post("/predict", json=split(rows), headers={"x-request-id": "order-42"})
        assert mine.headers["x-request-id"] == "order-42"
        odd = http.post(
            "/predict", json=split(rows), headers={"x-request-id": "no way <script>" * 20}
        )
        assert len(odd.headers["x-request-id"]) == 32
        doc = http.get("/openapi.json").json()
        schema = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
        assert (
            schema["schema"]["properties"]["dataframe_split"]["properties"]["columns"]["items"][
                "enum"
            ]
            == FEATURES
        )
        metrics = http.get("/metrics").text
        assert (
            'modelyard_serving_requests_total{deployment="churn",status="200",version="1"}'
            in metrics
        )
        assert "modelyard_serving_batch_rows_bucket" in metrics


def test_bad_payloads_get_a_4xx_naming_the_field(model_store: ModelStore, tmp_path: Path) -> None:
    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    rows = model_store.frame[:1].values.tolist()
    with (
        serving(["models:/churn/1", "--max-body-mb", "1"], tmp_path, env=env) as served,
        httpx.Client(base_url=served.url) as http,
    ):
        cases = [
            (split([r[:-1] for r in rows], FEATURES[:-1]), 400, "f5"),
            (split([[*r, 1.0] for r in rows], [*FEATURES, "extra"]), 400, "extra"),
            (split([["x", *r[1:]] for r in rows]), 400, "f0"),
            (split([[None, *r[1:]] for r in rows]), 400, "f0"),
            (split([r[:3] for r in rows]), 400, "data[0]"),
        ]
        for body, status, field in cases:
            got = http.post("/predict", json=body)
            assert got.status_code == status, got.text
            assert got.json()["details"]["field"] == field
            assert got.headers["x-request-id"]
        assert (
            http.post(
                "/predict", content=b"{oops", headers={"content-type": "application/json"}
            ).json()["error_code"]
            == "MALFORMED_REQUEST"
        )
        assert (
            http.post(
                "/predict",
                content=b"a=1",
                headers={"content-type": "application/x-www-form-urlencoded"},
            ).status_code
            == 415
        )
        huge = http.post(
            "/predict", content=b" " * (2 << 20), headers={"content-type": "application/json"}
        )
        assert huge.status_code == 413
        assert huge.json()["error_code"] == "PAYLOAD_TOO_LARGE"
        assert http.get("/predict").status_code == 405
        assert http.get("/nothing").status_code == 404
        assert http.post("/predict", json=split(rows)).status_code == 200  # still serving


def test_a_model_that_raises_gets_a_500_and_the_server_goes_on(
    model_store: ModelStore, tmp_path: Path
) -> None:
    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    with (
        serving(["models:/flaky/1"], tmp_path, env=env) as served,
        httpx.Client(base_url=served.url) as http,
    ):
        good = [[1, 2, 3]]

        def ask(rows: list[list[float]]) -> httpx.Response:
            return httpx.post(served.url + "/predict", json={"inputs": rows}, timeout=30)

        # a poisoned request inside a busy batch fails alone; its neighbours are answered
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futures = [
                pool.submit(ask, [[666, 0, 0]] if i == 7 else [[i, 0, 777 if i == 0 else 1]])
                for i in range(24)
            ]
            answers = [f.result() for f in futures]
        bad = answers[7]
        assert bad.status_code == 500
        assert bad.json()["error_code"] == "PREDICTION_FAILED"
        assert bad.json()["details"]["request_id"] == bad.headers["x-request-id"]
        for i, answer in enumerate(answers):
            if i != 7:
                assert answer.status_code == 200, answer.text
                assert answer.json()["predictions"] == [float(i + (777 if i == 0 else 1))]
        assert http.post("/predict", json={"inputs": good}).json()["predictions"] == [6.0]
        time.sleep(0.2)
    assert "PREDICTION_FAILED" in served.output() or "failed" in served.output()
    assert bad.headers["x-request-id"] in served.output()


def test_untrusted_code_is_refused_as_models_load_refuses_it(
    model_store: ModelStore, tmp_path: Path
) -> None:
    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    with serving(["models:/flaky/2"], tmp_path, env=env, ready=False) as served:
        time.sleep(1.0)
        ready = httpx.get(served.url + "/ready")
        assert ready.status_code == 503
        assert "NOT_TRUSTED" in ready.json()["versions"]["0"]["error"]
        got = httpx.post(served.url + "/predict", json={"inputs": [[1, 2, 3]]})
        assert got.status_code == 503
        assert got.json()["error_code"] == "NOT_READY"


def test_the_prediction_log_holds_every_request(model_store: ModelStore, tmp_path: Path) -> None:
    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    logs = tmp_path / "predictions"
    with (
        serving(["models:/flaky/1", "--prediction-log", str(logs)], tmp_path, env=env) as served,
        httpx.Client(base_url=served.url) as http,
    ):
        ids = []
        for i in range(30):
            got = http.post("/predict", json={"inputs": [[i, 1, 1]]})
            ids.append(got.headers["x-request-id"])
        assert http.post("/predict", json={"inputs": [[1, 1]]}).status_code == 400
    table = predlog.read(logs, "flaky").to_pylist()  # SIGTERM wrote what was queued
    by_id = {r["request_id"]: r for r in table}
    assert set(ids) <= set(by_id)
    first = by_id[ids[3]]
    assert first["model_version"] == 1
    assert first["status"] == 200
    assert first["role"] == "live"
    assert first["inputs"] == '{"data":[[3,1,1]]}'
    assert first["outputs"] == "[5.0]"
    assert sorted(r["status"] for r in table).count(400) == 1
    files = list((logs / "flaky").glob("*/*/*.parquet"))
    assert files
    assert not list((logs / "flaky").glob("*/*/.*.part"))


def test_a_model_that_answers_per_batch_is_never_merged(
    model_store: ModelStore, tmp_path: Path
) -> None:
    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    with serving(["models:/total/1"], tmp_path, env=env) as served:

        def ask(i: int) -> httpx.Response:
            return httpx.post(served.url + "/predict", json={"inputs": [[i, 0, 0], [i, 0, 0]]})

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(16)))
    assert [a.json()["predictions"] for a in answers] == [[2.0 * i] for i in range(16)]


def test_an_exported_bundle_serves_through_the_same_code(
    model_store: ModelStore, tmp_path: Path
) -> None:
    from modelyard.registry.client import ModelRegistry

    with ModelRegistry(model_store.uri) as registry:
        bundle = registry.export("models:/churn@champion", tmp_path / "bundle")
    rows = model_store.frame[:2].values.tolist()
    with serving([str(bundle)], tmp_path) as served:
        got = httpx.post(served.url + "/invocations", json=split(rows))
        assert got.status_code == 200
        assert len(got.json()["predictions"]) == 2
        refused = httpx.post(served.url + "/invocations", json=split([r[:2] for r in rows]))
        assert refused.status_code == 400


def test_other_addresses_need_an_explicit_flag(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modelyard.cli.app import app

    for host in ("0.0.0.0", "192.168.1.20", "example.org", "::"):
        result = CliRunner().invoke(app, ["serve", "models:/m/1", "--host", host])
        assert result.exit_code == 2
        assert "--allow-remote" in result.output


@pytest.mark.filterwarnings("ignore::UserWarning")  # mlflow's own import-time notices
def test_mlflows_own_scoring_client_works_unchanged(
    model_store: ModelStore, tmp_path: Path
) -> None:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    frame = model_store.frame[:4]
    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    with serving(["models:/churn@champion"], tmp_path, env=env) as served:
        host, port = served.url.removeprefix("http://").split(":")
        client = ScoringServerClient(host, int(port))  # type: ignore[no-untyped-call]
        client.wait_server_ready(timeout=30)  # type: ignore[no-untyped-call]
        answer = client.invoke(frame)
    with ModelRegistry(model_store.uri) as registry:
        expected = registry.load("models:/churn@champion").predict(frame).tolist()
    assert answer.get_predictions()[0].tolist() == expected  # MLflow's own response parsing


def test_excluded_columns_never_reach_the_log_file_and_hashed_ones_hold_the_hmac(
    tmp_path: Path,
) -> None:
    import hashlib
    import hmac
    import uuid

    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    frame["email"] = [f"user{i}@example.com" for i in range(40)]
    frame["user_id"] = [f"id-{i}" for i in range(40)]
    frame["note"] = "x"
    model = make_pipeline(
        ColumnTransformer([("num", "passthrough", ["a", "b"])]), LogisticRegression()
    ).fit(frame, frame["a"] > 0)
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    with ModelRegistry(uri) as registry:
        registry.log(model, "pii", input_example=frame[:3])
    email, user, note = (f"{kind}-{uuid.uuid4().hex}" for kind in ("mail", "user", "note"))
    logs, key_file = tmp_path / "predictions", tmp_path / "hash.key"
    args = ["models:/pii/1", "--prediction-log", str(logs), "--log-exclude", "email"]
    args += ["--log-hash", "user_id", "--log-hash-key-file", str(key_file)]
    with serving(args, tmp_path, env={"MODELYARD_TRACKING_URI": uri}) as served:
        row = {"a": 0.5, "b": -1.0, "email": email, "user_id": user, "note": note}
        got = httpx.post(served.url + "/predict", json={"dataframe_records": [row]})
        assert got.status_code == 200, got.text
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = bytes.fromhex(key_file.read_text().strip())
    mac = hmac.new(key, f'"{user}"'.encode(), hashlib.sha256).hexdigest()[:32]
    raw = b"".join(p.read_bytes() for p in (logs / "pii").glob("*/*/*.parquet"))
    assert note.encode() in raw  # a kept value is there to find in the file's bytes
    assert mac.encode() in raw
    assert email.encode() not in raw
    assert user.encode() not in raw
    (logged,) = predlog.read(logs, "pii").to_pylist()
    assert logged["inputs"] == (
        '{"columns":["a","b","user_id","note"],"data":[[0.5,-1.0,"' + mac + '","' + note + '"]]}'
    )


def test_a_classifier_s_probabilities_are_logged_with_each_request(
    model_store: ModelStore, tmp_path: Path
) -> None:
    import json

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    env = {"MODELYARD_TRACKING_URI": model_store.uri}
    logs = tmp_path / "predictions"
    frame = model_store.frame
    args = ["models:/churn/1", "--prediction-log", str(logs)]
    with serving(args, tmp_path, env=env) as served, httpx.Client(base_url=served.url) as http:
        ids = {}
        with concurrent.futures.ThreadPoolExecutor(8) as pool:  # batches of several requests
            answers = pool.map(
                lambda i: http.post(
                    "/predict", json=split(frame[i : i + 1 + i % 3].values.tolist())
                ),
                range(40),
            )
            for i, got in enumerate(answers):
                assert got.status_code == 200, got.text
                ids[got.headers["x-request-id"]] = i
    with serving(["models:/total/1", "--prediction-log", str(logs)], tmp_path, env=env) as other:
        assert httpx.post(other.url + "/predict", json={"inputs": [[1, 2, 3]]}).is_success
    labels = (frame["f0"] + frame["f1"] > 0).astype(int)
    model = LogisticRegression().fit(frame, labels)  # the same fit as the registered one
    logged = {r["request_id"]: r for r in predlog.read(logs, "churn").to_pylist()}
    assert set(ids) <= set(logged)
    for rid, i in ids.items():
        scores = json.loads(logged[rid]["scores"])
        rows = frame[i : i + 1 + i % 3]
        assert scores["classes"] == [0, 1]
        np.testing.assert_allclose(scores["proba"], model.predict_proba(rows), rtol=1e-9)
        outputs = json.loads(logged[rid]["outputs"])
        assert outputs == np.argmax(scores["proba"], axis=1).tolist()
    (plain,) = predlog.read(logs, "total").to_pylist()  # no predict_proba: no scores
    assert plain["scores"] is None
