"""The SDK on an embedded store calls the services in process; clients of a server share a pool."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelyard as my
from modelyard import embedded
from modelyard.datasets.backends import HttpDatasets
from modelyard.datasets.client import DatasetRegistry
from modelyard.errors import DigestMismatch, InvalidState
from modelyard.registry.client import ModelRegistry
from modelyard.store.artifacts.blobs import blob_key
from modelyard.tracking.http_client import HttpClient
from modelyard.tracking.local_client import LocalClient
from modelyard.tracking.shared import Shared

pytestmark = pytest.mark.usefixtures("fresh_sdk")


def _fit(seed: int) -> tuple[Any, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), x


def _writers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "modelyard-sqlite-writer"}


def test_the_sdk_on_an_embedded_store_never_imports_the_server(tmp_path: Path) -> None:
    script = f"""
import sys
import numpy as np
from sklearn.linear_model import LogisticRegression
import modelyard as my

my.set_tracking_uri("sqlite:///{tmp_path / "s.db"}")
x = np.arange(40.0).reshape(20, 2)
model = LogisticRegression().fit(x, (x[:, 0] > 15).astype(int))
with my.start_run(experiment="e", capture_code=False) as run:
    run.log_metric("loss", 0.5)
    v = my.models.log(model, "m", input_example=x[:2], aliases=["champion"])
my.models.set_alias("m", "staging", v["version"])
assert my.models.load("models:/m@staging").predict(x).tolist() == model.predict(x).tolist()
d = my.datasets.register("table", {str(tmp_path / "data.csv")!r})
assert my.datasets.get("table")["version"] == d["version"] == 1
with my.Client(my.get_tracking_uri()) as client:
    assert client.get_run(run.id).metrics["loss"].last == 0.5
loaded = [m for m in ("modelyard.server", "uvicorn", "fastapi", "starlette") if m in sys.modules]
print("loaded:", loaded)
"""
    (tmp_path / "data.csv").write_text("a,b\n1,x\n2,y\n")
    env = {"MODELYARD_HOME": str(tmp_path / "home"), "MODELYARD_SYSTEM_METRICS_INTERVAL": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "loaded: []"


def test_every_client_of_an_embedded_store_shares_one_writer(tmp_path: Path) -> None:
    before = _writers()
    uri = f"sqlite:///{tmp_path / 'one.db'}"
    model, x = _fit(1)
    with my.Client(uri) as client, ModelRegistry(uri) as reg, DatasetRegistry(uri) as data:
        assert isinstance(client, LocalClient)
        reg.log(model, "shared", aliases=["champion"])
        data.register("d", _csv(tmp_path))
        assert client.list_experiments()
        ours = _writers() - before
        assert len(ours) == 1  # one Database (one SQLite writer) for the three
        assert [t for t in threading.enumerate() if t.name == "modelyard-embedded-server"] == []
        with my.Client(str(tmp_path / "one.db")) as same:  # a plain path names the same store
            assert isinstance(same, LocalClient)
            assert same.service is client.service
    with ModelRegistry(uri) as reg:  # warm: the store stayed open
        assert np.array_equal(reg.load("models:/shared@champion").predict(x), model.predict(x))
    assert _writers() - before == ours
    embedded.close_all()
    assert not _writers() & ours


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "d.csv"
    path.write_text("a\n1\n2\n")
    return path


def test_loading_from_an_embedded_store_checks_the_files(
    tmp_path: Path, modelyard_home: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'checked.db'}"
    model, _x = _fit(2)
    with ModelRegistry(uri) as reg:
        version = reg.log(model, "checked")
        files = reg.api.version("checked", "v1", files=True)["files"]
    # tamper with the model file's stored bytes: the copy into the cache refuses it
    model_file = next(f for f in files if f["path"] == version["package"]["model_file"])
    stored = tmp_path / "artifacts" / blob_key(model_file["digest"])
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes() + b"tampered")
    with ModelRegistry(uri) as reg, pytest.raises(DigestMismatch, match="does not match"):
        reg.load("models:/checked/1")
    assert not (modelyard_home / "models" / version["package_digest"]).exists()


def test_raw_rest_calls_on_an_embedded_store_name_the_server(tmp_path: Path) -> None:
    with (
        ModelRegistry(f"sqlite:///{tmp_path / 'x.db'}") as reg,
        pytest.raises(InvalidState, match="running `modelyard server`"),
    ):
        reg.backend.call("GET", "/models")


def test_clients_of_a_server_share_one_pool(server_url: str) -> None:
    with my.Client(server_url) as a, my.Client(server_url) as b, ModelRegistry(server_url) as r:
        assert isinstance(a, HttpClient)
        assert isinstance(b, HttpClient)
        assert a.backend is b.backend is r.backend
        with DatasetRegistry(server_url) as d:
            assert isinstance(d.api, HttpDatasets)
            assert d.api.backend is a.backend
        a.list_experiments()
        pool = a.backend.http
    with my.Client(server_url) as again:  # released, kept warm, reused
        assert isinstance(again, HttpClient)
        assert again.backend.http is pool
        assert again.list_experiments()
    assert not pool.is_closed


def test_shared_values_close_when_idle_beyond_the_limit() -> None:
    closed: list[str] = []
    shared: Shared[str] = Shared(lambda k: f"value {k}", closed.append, keep=2)
    held = shared.acquire("held")
    assert shared.acquire("held") is held  # opened once
    for key in "abc":
        shared.acquire(key)
        shared.release(key)
    assert closed == ["value a"]  # b and c stay warm; a is the oldest idle one
    shared.release("held")  # one user left: still open
    shared.release("held")  # idle now: the oldest idle (b) closes
    assert closed == ["value a", "value b"]
    shared.close_all()
    assert sorted(closed) == ["value a", "value b", "value c", "value held"]
