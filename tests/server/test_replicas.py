"""Two server replicas on one PostgreSQL and one S3 answer as one server, whichever a client
reaches: ingest and search (raw and through the SDK's batcher), single blobs, packs, multipart
uploads whose parts alternate, and the registry (log, alias, load, versions, history)."""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

import modelyard as my
from modelyard.errors import NotTrusted
from modelyard.registry.client import ModelRegistry
from modelyard.server.app import ServerSettings
from modelyard.server.background import serve_in_background
from modelyard.testing.postgres import create_database
from modelyard.tracking.batches import new_run_id

pytestmark = pytest.mark.postgres
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def urls(postgres_admin_url: str, s3_artifacts_uri: str) -> Iterator[list[str]]:
    """The base URLs of two servers, each its own app, on one new database and one bucket."""
    store = create_database(postgres_admin_url, f"t_{uuid.uuid4().hex[:12]}")
    settings = ServerSettings(store_uri=store, artifacts_uri=s3_artifacts_uri)
    with serve_in_background(settings) as a, serve_in_background(settings) as b:
        yield [a, b]


@pytest.fixture
def replicas(urls: list[str]) -> Iterator[list[httpx.Client]]:
    with (
        httpx.Client(base_url=urls[0], timeout=60) as one,
        httpx.Client(base_url=urls[1], timeout=60) as two,
    ):
        yield [one, two]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_multipart_upload_takes_parts_on_alternating_replicas(
    replicas: list[httpx.Client],
) -> None:
    one, two = replicas
    parts = [os.urandom(5 << 20), os.urandom((5 << 20) + 7), b"a short tail"]
    whole = b"".join(parts)
    upload_id = one.post("/api/v1/uploads", content=b"").json()["upload_id"]
    for n, (part, http) in enumerate(zip(parts, itertools.cycle([two, one]), strict=False), 1):
        sent = http.put(f"/api/v1/uploads/{upload_id}/{n}", content=part, headers=OCTET)
        assert sent.json() == {"number": n, "size": len(part), "sha256": sha(part)}, sent.text
    for http in replicas:  # either replica knows every part
        listed = http.get(f"/api/v1/uploads/{upload_id}").json()["parts"]
        assert [(p["number"], p["sha256"]) for p in listed] == [
            (1, sha(parts[0])),
            (2, sha(parts[1])),
            (3, sha(parts[2])),
        ]
    wrong = two.post(f"/api/v1/uploads/{upload_id}/complete", json={"digest": sha(b"x")})
    assert wrong.status_code == 400
    assert wrong.json()["error_code"] == "DIGEST_MISMATCH"
    done = one.post(f"/api/v1/uploads/{upload_id}/complete", json={"digest": sha(whole)})
    assert done.json() == {"digest": sha(whole), "size": len(whole)}, done.text
    assert two.get(f"/api/v1/blobs/{sha(whole)}").content == whole
    assert two.get(f"/api/v1/uploads/{upload_id}").status_code == 404


def test_blobs_packs_ingest_and_search_agree(replicas: list[httpx.Client]) -> None:
    one, two = replicas
    blob = os.urandom(1000)
    assert one.put(f"/api/v1/blobs/{sha(blob)}", content=blob, headers=OCTET).status_code == 201
    assert two.get(f"/api/v1/blobs/{sha(blob)}").content == blob
    small = [os.urandom(100) for _ in range(5)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for data in small:
            info = tarfile.TarInfo(sha(data))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    packed = two.post(
        "/api/v1/blobs/pack", content=buf.getvalue(), headers={"Content-Type": "application/x-tar"}
    )
    assert packed.status_code == 201, packed.text
    assert one.post("/api/v1/blobs/missing", json={"digests": [sha(d) for d in small]}).json() == {
        "missing": []
    }

    runs = []
    for i, http in zip(range(6), itertools.cycle(replicas), strict=False):
        rid = new_run_id()
        runs.append(rid)
        batch = {
            "run_id": rid,
            "batch_id": rid,
            "create": {"experiment_name": "replicas", "name": f"r{i}"},
            "params": {"i": str(i)},
            "metrics": [{"key": "loss", "steps": [0, 1], "values": [1.0, 1.0 / (i + 1)]}],
        }
        assert http.post("/api/v1/ingest", json={"batches": [batch]}).status_code == 200
    listed = two.get("/api/v1/experiments").json()
    exp = next(e["id"] for e in listed if e["name"] == "replicas")
    query = {"experiment_ids": [exp], "filter": "metrics.loss < 0.3", "order_by": ["params.i"]}
    answers = [http.post("/api/v1/runs/search", json=query).json() for http in replicas]
    assert answers[0] == answers[1]
    assert [r["id"] for r in answers[0]["runs"]] == runs[3:]


@pytest.mark.usefixtures("fresh_sdk")
def test_sdk_runs_logged_through_alternating_replicas_search_alike(urls: list[str]) -> None:
    ids = []
    for i, url in zip(range(6), itertools.cycle(urls), strict=False):
        my.set_tracking_uri(url)
        with my.start_run(f"r{i}", experiment="sdk", params={"i": i}, capture_code=False) as run:
            run.log_metric("loss", 1.0)
            run.log_metric("loss", 1.0 / (i + 1))
        run.flush()  # reads flush only their own URI's buffer: send each run where it went
        ids.append(run.id)
    my.set_tracking_uri(urls[0])  # a run started on one replica and resumed on the other
    with my.start_run("resumed", experiment="sdk", capture_code=False) as run:
        run.log_metrics({"loss": 0.9, "acc": 0.1})
    run.flush()
    my.set_tracking_uri(urls[1])
    with my.start_run(run_id=run.id, capture_code=False) as again:
        again.log_metrics({"loss": 0.2, "acc": 0.7})  # step 1: replica two knew step 0
    again.flush()

    clients = [my.Client(url) for url in urls]
    try:
        exp = clients[1].get_experiment_by_name("sdk").id
        pages = [c.search_runs([exp], "metrics.loss < 0.3", ["params.i"]) for c in clients]
        assert pages[0] == pages[1]
        assert [r.id for r in pages[0].runs] == [*ids[3:], run.id]  # no param i sorts last
        histories = [c.metric_history(run.id, "loss") for c in clients]
        assert histories[0] == histories[1]
        assert (histories[0]["steps"], histories[0]["values"]) == ([0, 1], [0.9, 0.2])
        runs = [c.get_run(run.id) for c in clients]
        assert runs[0] == runs[1]
        assert runs[0].status.value == "FINISHED"
        assert (runs[0].metrics["acc"].last, runs[0].metrics["acc"].count) == (0.7, 2)
    finally:
        for c in clients:
            c.close()


def fit(seed: int) -> tuple[Any, np.ndarray]:
    """A small LogisticRegression whose predictions depend on ``seed``, and its inputs."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(80, 3))
    y = (x[:, seed % 3] > 0).astype(int)
    return LogisticRegression().fit(x, y), x


@pytest.mark.usefixtures("fresh_sdk")
def test_registry_answers_alike_whichever_replica_is_asked(urls: list[str]) -> None:
    """Pickled (joblib) models: trust is then a record on one replica that the other honours,
    and skops' import of all of scikit-learn (seconds) stays out of this file."""
    one, two = urls
    model1, x = fit(0)
    model2, _ = fit(1)
    assert not np.array_equal(model1.predict(x), model2.predict(x))
    my.set_tracking_uri(one)
    with my.start_run(experiment="registry", capture_code=False) as run:
        v1 = my.models.log(model1, "churn", input_example=x[:3], serialization="pickle")
    with ModelRegistry(two) as reg:  # its files go through replica two
        v2 = reg.log(model2, "churn", input_example=x[:3], serialization="pickle")
        assert (v1["version"], v1["run_id"], v2["version"]) == (1, run.id, 2)
        reg.set_alias("churn", "champion", 1, reason="first")
    with pytest.raises(NotTrusted, match="runs code when loaded"):
        my.models.load("models:/churn@champion")
    with ModelRegistry(two) as reg:
        reg.trust("churn", 1, reason="we trained it")

    loaded = my.models.load("models:/churn@champion")  # asked of replica one
    assert np.array_equal(loaded.predict(x), model1.predict(x))
    my.models.trust("churn", 2, reason="we trained it too")
    with ModelRegistry(two) as reg:
        reg.set_alias("churn", "champion", 2, reason="v2 wins")
    assert np.array_equal(my.models.load("models:/churn@champion").predict(x), model2.predict(x))
    with ModelRegistry(two) as reg:
        assert reg.rollback("churn", "champion", reason="v2 misbehaves")["version"] == 1

    answers = []
    for url in urls:
        with ModelRegistry(url) as reg:
            versions = reg.backend.call("GET", "/models/churn/versions")["versions"]
            answers.append((versions, reg.history("churn"), reg.get("churn", alias="champion")))
    assert answers[0] == answers[1]
    versions, history, champion = answers[0]
    assert [(v["version"], v["aliases"], v["trusted"]) for v in versions] == [
        (2, [], True),
        (1, ["champion"], True),
    ]
    assert champion["version"] == 1
    assert [(e["action"], e["version"]) for e in history] == [
        ("created", None),
        ("version_created", 1),
        ("version_created", 2),
        ("alias_set", 1),
        ("trusted", 1),
        ("trusted", 2),
        ("alias_set", 2),
        ("alias_set", 1),
    ]
