"""Monitoring end to end: a real model served by `modelyard serve`, its prediction log ingested by
a live server, late labels, realized quality per version, drift against the training data from
the model's lineage, and the clear 4xx answers to bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest

import modelyard as my
from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from tests.monitoring.test_notify import webhook
from tests.serving.conftest import serving

pytestmark = pytest.mark.slow

FEATURES = ["f0", "f1", "f2", "f3"]
N = 1500  # requests before the shift, and after it (fewer: the normed Wasserstein of a clean column nears 0.1 by chance)


def truth(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(scale=0.7, size=len(frame))
    answer: np.ndarray = (frame["f0"] + 0.5 * frame["f1"] + noise > 0).astype(int).to_numpy()
    return answer


@dataclass
class World:
    url: str  # the modelyard server
    answers: dict[str, int]  # request id -> the served prediction
    labels: dict[str, int]  # request id -> the true class
    shifted_at: int  # ms: requests from here on have f2 shifted by +3
    started_at: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("monitoring-live")
    store = f"sqlite:///{folder / 'store.db'}"
    log = folder / "predictions"
    rng = np.random.default_rng(11)
    train = pd.DataFrame(rng.normal(size=(3000, len(FEATURES))), columns=FEATURES)
    y = truth(train, rng)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MODELYARD_HOME", str(folder / "home"))
        env.setenv("MODELYARD_PREDICTION_LOG", str(log))
        env.setenv("MODELYARD_MONITORING_DIR", str(folder / "monitoring"))
        env.setenv("MODELYARD_MONITORING_INGEST_INTERVAL", "0.2")
        env.setenv("MODELYARD_ALERT_INTERVAL", "0.3")
        env.setenv("MODELYARD_ALERT_ALLOW_PRIVATE", "1")  # the webhook receiver is on 127.0.0.1
        env.setenv("MODELYARD_SYSTEM_METRICS_INTERVAL", "0")
        my.set_tracking_uri(store)
        dataset = my.datasets.register("churn-train", pa.Table.from_pandas(train.assign(label=y)))
        with my.start_run("train v1", log_system_metrics=False):
            my.datasets.log_input("churn-train", dataset["version"], context="training")
            my.models.log(LogisticRegression().fit(train, y), "churn", input_example=train[:5])
        with my.start_run("train v2", log_system_metrics=False):
            my.datasets.log_input("churn-train", dataset["version"], context="training")
            weak = LogisticRegression().fit(train[["f3", "f2", "f1", "f0"]][:50], y[:50][::-1])
            my.models.log(weak, "churn", input_example=train[["f3", "f2", "f1", "f0"]][:5])
        my.flush()
        settings = ServerSettings(store_uri=store, artifacts_uri=str(folder / "artifacts"))
        with serve_in_background(settings) as url:
            answers: dict[str, int] = {}
            labels: dict[str, int] = {}
            started = int(time.time() * 1000)
            shifted_at = 0
            with (
                serving(
                    ["models:/churn/1", "--prediction-log", str(log)],
                    folder,
                    env={"MODELYARD_TRACKING_URI": store},
                ) as served,
                httpx.Client(base_url=served.url) as http,
            ):
                for phase in ("a", "b"):
                    if phase == "b":
                        time.sleep(0.01)
                        shifted_at = int(time.time() * 1000)
                    rows = pd.DataFrame(rng.normal(size=(N, len(FEATURES))), columns=FEATURES)
                    wanted = truth(rows, rng)
                    if phase == "b":
                        rows["f2"] += 3.0
                    for i, row in enumerate(rows.values.tolist()):
                        rid = f"{phase}-{i}"
                        got = http.post(
                            "/predict",
                            json={"dataframe_split": {"columns": FEATURES, "data": [row]}},
                            headers={"X-Request-Id": rid},
                        )
                        assert got.status_code == 200, got.text
                        answers[rid] = got.json()["predictions"][0]
                        labels[rid] = int(wanted[i])
            yield World(url, answers, labels, shifted_at, started)
        my.set_tracking_uri(None)


def api(world: World) -> httpx.Client:
    return httpx.Client(base_url=world.url + "/api/v1/monitoring", timeout=60)


def wait_ingested(world: World, rows: int) -> None:
    """The server turns the flushed log into monitoring tables within a few passes."""
    deadline = time.monotonic() + 30
    with api(world) as http:
        while time.monotonic() < deadline:
            got = http.get("/deployments/churn/health", params={"window": "1d"}).json()
            if sum(p["requests"] for p in got["points"]) >= rows:
                return
            time.sleep(0.2)
    raise AssertionError("the prediction log was not ingested in 30 s")


def test_late_labels_give_the_realized_accuracy_of_what_was_served(world: World) -> None:
    wait_ingested(world, 2 * N)
    my.set_tracking_uri(world.url)
    try:
        accepted = my.monitoring.log_labels("churn", world.labels)
        assert accepted == 2 * N
        assert my.monitoring.log_labels("churn", world.labels) == 2 * N  # idempotent
        found = my.monitoring.quality("churn", window="1d", since=world.started_at - 1)
    finally:
        my.set_tracking_uri(None)
    expected = np.mean([world.answers[k] == world.labels[k] for k in world.labels])
    assert found["task"] == "classification"
    v1 = [p for p in found["points"] if p["version"] == 1]
    labelled = sum(p["labelled"] for p in v1)
    assert labelled == 2 * N
    realized = sum(p["realized"]["accuracy"] * p["labelled"] for p in v1) / labelled
    assert realized == pytest.approx(expected, abs=1e-9)


def test_batch_predictions_of_another_version_are_kept_apart(world: World) -> None:
    rng = np.random.default_rng(5)
    rows = pd.DataFrame(rng.normal(size=(200, len(FEATURES))), columns=FEATURES)
    preds = np.zeros(200, dtype=int)  # a model that always says 0
    truths = truth(rows, rng)
    my.set_tracking_uri(world.url)
    try:
        ids = my.monitoring.log_predictions(
            "churn", rows, preds, model_version=2, ids=[f"batch-{i}" for i in range(200)]
        )
        assert ids[:2] == ["batch-0", "batch-1"]
        my.monitoring.log_labels("churn", dict(zip(ids, truths.tolist(), strict=True)))
        found = my.monitoring.quality("churn", window="1d", version=2)
    finally:
        my.set_tracking_uri(None)
    (point,) = [p for p in found["points"] if p["labelled"]]
    assert point["version"] == 2
    assert point["realized"]["accuracy"] == pytest.approx(float(np.mean(truths == 0)))


def test_drift_flags_exactly_the_shifted_column(world: World) -> None:
    wait_ingested(world, 2 * N)
    with api(world) as http:
        before = http.get(
            "/deployments/churn/drift",
            params={"since": world.started_at - 1, "until": world.shifted_at, "version": 1},
        ).json()
        after = http.get(
            "/deployments/churn/drift", params={"since": world.shifted_at, "version": 1}
        ).json()
        windowed = http.get(
            "/deployments/churn/drift",
            params={
                "reference": "window",
                "reference_since": world.started_at - 1,
                "reference_until": world.shifted_at,
                "since": world.shifted_at,
            },
        ).json()
    for report in (before, after):
        assert report["reference"]["kind"] == "training", report
        assert report["reference"]["dataset"] == "churn-train"
        assert {c["column"] for c in report["columns"]} == set(FEATURES)
    scores = [(c["column"], c["method"], c["score"], c["n_current"]) for c in before["columns"]]
    assert [c["column"] for c in before["columns"] if c["drifted"]] == [], scores
    assert [c["column"] for c in after["columns"] if c["drifted"]] == ["f2"]
    drifted = {c["column"] for c in windowed["columns"] if c["drifted"]}
    assert "f2" in drifted
    assert drifted <= {"f2", "prediction"}


def test_health_counts_every_served_request(world: World) -> None:
    wait_ingested(world, 2 * N)
    with api(world) as http:
        found = http.get("/deployments/churn/health", params={"window": "1d"}).json()
    points = [p for p in found["points"] if p["requests"]]
    assert sum(p["requests"] for p in points) == 2 * N
    assert all(p["errors"] == 0 for p in points)
    assert all(p["latency_p99_ms"] is not None and p["latency_p99_ms"] > 0 for p in points)
    assert found["availability"]["uptime"] is None  # nothing probes a standalone serve


def test_the_report_is_one_html_page_that_loads_nothing(world: World) -> None:
    with api(world) as http:
        got = http.get("/deployments/churn/report", params={"since": world.shifted_at})
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in got.headers["content-security-policy"]
    assert "f2" in got.text
    assert "<script" not in got.text.lower()


def test_bad_input_gets_a_clear_4xx_and_writes_nothing(world: World) -> None:
    with api(world) as http:
        unknown = http.post(
            "/deployments/churn/labels",
            json={
                "labels": [{"request_id": "a-1", "label": 1}, {"request_id": "nope", "label": 0}]
            },
        )
        assert unknown.status_code == 404, unknown.text
        assert unknown.json()["details"]["request_ids"] == ["nope"]
        text = http.post(
            "/deployments/churn/labels", json={"labels": [{"request_id": "a-2", "label": "yes"}]}
        )
        assert text.status_code == 400, text.text
        assert text.json()["details"]["field"] == "label"
        nan = http.post(
            "/deployments/churn/labels",
            content=b'{"labels": [{"request_id": "a-2", "label": NaN}]}',
            headers={"content-type": "application/json"},
        )
        assert nan.status_code in (400, 422), nan.text
        nobody = http.get("/deployments/nobody/quality")
        assert nobody.status_code == 404
        window = http.get("/deployments/churn/quality", params={"window": "1x"})
        assert window.status_code == 400
        assert window.json()["details"]["field"] == "window"
        empty = http.get(
            "/deployments/churn/quality", params={"since": 1_000_000, "until": 2_000_000}
        )
        assert empty.status_code == 200
        assert empty.json()["points"] == []
        no_data = http.get(
            "/deployments/churn/drift", params={"since": 1_000_000, "until": 2_000_000}
        )
        assert no_data.status_code == 409
        assert no_data.json()["error_code"] == "INVALID_STATE"
        wide = http.post(
            "/deployments/churn/predictions",
            json={"columns": ["f0"], "data": [[1.0, 2.0]], "predictions": [1]},
        )
        assert wide.status_code == 400


def test_an_alert_on_realized_accuracy_fires_once_through_the_real_domain(world: World) -> None:
    wait_ingested(world, 2 * N)
    my.set_tracking_uri(world.url)
    try:
        my.monitoring.log_labels("churn", world.labels)
        with webhook() as hook:
            rule = my.monitoring.create_alert(
                "churn below 0.99", "churn", "accuracy", op="<", threshold=0.99, window="1d",
                channels=[{"type": "webhook", "url": hook.url}],
            )  # fmt: skip
            deadline = time.monotonic() + 30
            while not hook.got:
                assert time.monotonic() < deadline, my.monitoring.alert_rules("churn")
                time.sleep(0.1)
            time.sleep(1.5)  # several more evaluations: the firing is told once
            assert len(hook.got) == 1
            sent = orjson.loads(hook.got[0].body)
            (firing,) = my.monitoring.alert_firings("churn")
    finally:
        my.set_tracking_uri(None)
    assert (sent["status"], sent["metric"], sent["deployment"]) == ("firing", "accuracy", "churn")
    assert 0.5 < sent["value"] < 0.99
    assert firing["rule_id"] == rule["id"]
    assert firing["value"] == pytest.approx(sent["value"])
