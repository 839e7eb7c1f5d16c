"""Dataset versions through a live server on both metadata backends: content, profile, lineage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import modelyard as my
from modelyard.datasets.client import DatasetRegistry
from modelyard.server.app import ServerSettings
from modelyard.testing.server import live_server
from modelyard.tracking.http import HttpBackend

pytestmark = pytest.mark.usefixtures("fresh_sdk")


@pytest.fixture
def server(store_uri: str, tmp_path: Path, modelyard_home: Path) -> Iterator[str]:
    with live_server(ServerSettings(store_uri, str(tmp_path / "artifacts"))) as url:
        yield url


def _frame(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    age = rng.normal(40, 10, n)
    age[:7] = np.nan
    return pd.DataFrame(
        {
            "age": age,
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
            "churned": rng.random(n) < 0.2,
            "visits": rng.integers(0, 30, n),
        }
    )


def test_tables_get_schema_profile_and_immutable_versions(server: str, tmp_path: Path) -> None:
    df = _frame()
    with DatasetRegistry(server) as reg:
        v1 = reg.register("customers", df, description="first pull")
        assert (v1["version"], v1["created"], v1["num_rows"]) == (1, True, 500)
        assert [c["name"] for c in v1["schema"]] == ["age", "plan", "churned", "visits"]
        age = v1["profile"]["age"]
        assert (age["kind"], age["missing"], age["count"]) == ("numeric", 7, 500)
        finite = df["age"].dropna()
        assert age["mean"] == pytest.approx(finite.mean())
        assert age["std"] == pytest.approx(finite.std())
        assert age["quantiles"]["0.5"] == pytest.approx(finite.median())
        assert sum(age["histogram"]["counts"]) == 493
        plan = v1["profile"]["plan"]
        assert plan["top"][0]["value"] == "basic"
        assert plan["distinct"] == 3
        assert v1["profile"]["churned"]["kind"] == "boolean"

        # the same content again is the same version; polars and Arrow of it too
        again = reg.register("customers", df)
        assert (again["version"], again["created"]) == (1, False)
        assert reg.register("customers", pa.Table.from_pandas(df))["version"] == 1
        assert reg.register("customers", pl.from_pandas(df))["version"] == 1
        changed = reg.register("customers", df.iloc[:400])
        assert (changed["version"], changed["num_rows"]) == (2, 400)
        assert reg.get("customers")["version"] == 2  # latest

        csv = tmp_path / "c.csv"
        df.to_csv(csv, index=False)
        from_csv = reg.register("customers-csv", csv)
        assert from_csv["num_rows"] == 500
        assert from_csv["profile"]["visits"]["max"] == df["visits"].max()

        back = reg.download("customers", 1, tmp_path / "out")
        assert pq.read_table(back / "data.parquet").num_rows == 500


def test_folders_move_only_changed_content(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "images"
    for i in range(2000):
        (root / f"c{i % 10}").mkdir(parents=True, exist_ok=True)
        (root / f"c{i % 10}" / f"{i}.bin").write_bytes(f"img {i}".encode())
    sent: list[int] = []
    real = HttpBackend.upload

    def count(self: HttpBackend, path: str, stream, **kw):
        if path == "/blobs/pack":
            data = stream.read()
            sent.append(len(data))
            import io

            stream = io.BytesIO(data)
        return real(self, path, stream, **kw)

    monkeypatch.setattr(HttpBackend, "upload", count)
    with DatasetRegistry(server) as reg:
        v1 = reg.register("images", root)
        assert (v1["num_files"], v1["num_rows"]) == (2000, None)
        first = sum(sent)
        sent.clear()
        (root / "c3" / "3.bin").write_bytes(b"edited")
        (root / "c3" / "new.bin").write_bytes(b"added")
        v2 = reg.register("images", root)
        assert (v2["version"], v2["num_files"]) == (2, 2001)
        assert sum(sent) < first / 50  # two small files, not the folder
        files = {f["path"] for f in reg.get("images", 2, files=True)["files"]}
        assert "c3/new.bin" in files
        assert len(files) == 2001


def test_runs_record_what_they_read_and_wrote(server: str) -> None:
    my.set_tracking_uri(server)
    df = _frame(50)
    train = my.datasets.register("train", df)
    with my.start_run(experiment="lineage", capture_code=False) as run:
        my.datasets.log_input("train")
        preds = my.datasets.register("predictions", df.assign(score=0.5))
        my.datasets.log_output("predictions", preds["version"], context="scoring")
        run.log_params({"max_iter": "50"})
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(max_iter=50).fit(df[["age", "visits"]].fillna(0), df["churned"])
        my.models.log(clf, "churner")
    api = httpx.Client(base_url=f"{server}/api/v1")
    try:
        uses = api.get(f"/runs/{run.id}/datasets").json()
        assert [(u["name"], u["version"], u["direction"], u["context"]) for u in uses] == [
            ("predictions", 1, "output", "scoring"),
            ("train", train["version"], "input", "training"),
        ]
        assert [u["run_id"] for u in api.get("/datasets/train/runs").json()] == [run.id]
        # a model version's lineage: its run, the run's params and the data it read and wrote
        lineage = api.get("/models/churner/versions/1/lineage").json()
        assert lineage["run"]["id"] == run.id
        assert lineage["run"]["params"] == {"max_iter": "50"}
        assert [(d["name"], d["direction"]) for d in lineage["datasets"]] == [
            ("predictions", "output"),
            ("train", "input"),
        ]
        bad = api.post(f"/runs/{run.id}/datasets", json={"name": "train", "version": 9})
        assert (bad.status_code, bad.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
        wrong = api.post(
            f"/runs/{run.id}/datasets",
            json={"name": "train", "version": 1, "direction": "sideways"},
        )
        assert wrong.status_code == 400
        escape = api.post("/datasets/x/versions", json={"files": {"../a": "0" * 64}})
        assert escape.json()["error_code"] == "PATH_NOT_ALLOWED"
        missing = api.post("/datasets/x/versions", json={"files": {"a": "1" * 64}})
        assert missing.status_code == 404
        assert api.get("/datasets/x/versions").status_code == 404  # nothing half-written
    finally:
        api.close()


def test_cli_registers_and_shows_a_profile(server: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    csv = tmp_path / "people.csv"
    _frame(100).to_csv(csv, index=False)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelyard.cli", "datasets", *args, "-u", server],
            capture_output=True,
            text=True,
            timeout=60,
            env={**__import__("os").environ, "COLUMNS": "200"},
        )

    first = cli("register", "people", str(csv))
    assert first.returncode == 0, first.stderr
    assert "new version 1" in first.stdout
    assert "100 rows" in first.stdout
    assert "same content as version 1" in cli("register", "people", str(csv)).stdout
    shown = cli("show", "people").stdout
    assert "plan" in shown
    assert "basic" in shown
    missing = cli("register", "people", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr


def test_deleting_a_version_releases_its_files_after_gc(server: str) -> None:
    api = httpx.Client(base_url=f"{server}/api/v1")
    try:
        with DatasetRegistry(server) as reg:
            v1 = reg.register("scratch", _frame(30))
            digest = reg.get("scratch", 1, files=True)["files"][0]["digest"]
            gone = api.delete("/datasets/scratch/versions/1").json()
            assert gone["deleted_at"] is not None
            assert reg.get("scratch", 1, files=True)["files"] == []
            dry = api.post("/gc", json={"older_than_seconds": 0, "dry_run": True}).json()
            assert dry["blobs"] >= 1
            assert api.get(f"/blobs/{digest}").status_code == 200  # a dry run keeps it
            api.post("/gc", json={"older_than_seconds": 0, "dry_run": False})
            assert api.get(f"/blobs/{digest}").status_code == 404
            # the profile and the version stay for lineage; the same content brings it back
            assert reg.get("scratch", 1)["profile"] == v1["profile"]
            back = reg.register("scratch", _frame(30))
            assert (back["version"], back["created"], back["deleted_at"]) == (1, True, None)
            assert api.get(f"/blobs/{digest}").status_code == 200
    finally:
        api.close()
