"""The monitoring store: SDK-logged predictions, labels, health, features, figures, retention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.errors import InvalidInput, NotFound
from modelyard.monitoring import layout
from modelyard.monitoring.store import MonitoringStore

from ._traffic import HOUR, T0, record, write_log

DAY = 24 * HOUR


@pytest.fixture
def store(tmp_path: Path) -> MonitoringStore:
    return MonitoringStore(tmp_path / "monitoring", tmp_path / "log")


def _labels(store: MonitoringStore, deployment: str = "churn") -> list[dict[str, Any]]:
    files = layout.label_files(store.root, deployment)
    return pq.ParquetDataset(files).read().to_pylist() if files else []


def test_write_predictions(store: MonitoringStore) -> None:
    features = pa.table({"x": [1, 2, 3], "city": ["a", "b", None], "ok": [True, False, True]})
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    ids = store.write_predictions(
        "batch", features, np.array([0, 1, 0]), model_version=3, proba=proba, classes=[0, 1],
        time_ms=T0 + 5,
    )  # fmt: skip
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert all(len(i) == 32 for i in ids)
    files = layout.prediction_files(store.root, "batch")
    assert len(files) == 1
    assert files[0].name.startswith("sdk-")
    rows = pq.read_table(files[0]).to_pylist()
    assert [r["request_id"] for r in rows] == ids
    assert [(r["row"], r["source"], r["model_version"], r["time_ms"]) for r in rows] == [
        (0, "sdk", 3, T0 + 5)
    ] * 3
    assert [r["prediction_class"] for r in rows] == ["0", "1", "0"]
    assert [r["confidence"] for r in rows] == [0.9, 0.8, 0.6]
    assert [r["score"] for r in rows] == [0.1, 0.8, 0.4]
    assert [(r["f.x"], r["f.city"], r["f.ok"]) for r in rows] == [
        (1.0, "a", True), (2.0, "b", False), (3.0, None, True)
    ]  # fmt: skip
    # given ids; labels find them at once
    assert store.write_predictions(
        "batch", features, ["a", "b", "c"], model_version=3, ids=["i1", "i2", "i3"]
    ) == ["i1", "i2", "i3"]
    assert store.add_labels("batch", [("i2", 0, "b"), (ids[0], 0, 0)]) == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"predictions": [1, 2]}, "predictions"),
        ({"ids": ["a", "a", "b"]}, "ids"),
        ({"ids": ["a", "b"]}, "ids"),
        ({"proba": np.ones((3, 3)), "classes": [0, 1]}, "proba"),
        ({"proba": np.ones((3, 2))}, "proba"),
    ],
)
def test_write_predictions_checks_its_input(
    store: MonitoringStore, kwargs: dict[str, Any], field: str
) -> None:
    args = {"predictions": [1, 0, 1], **kwargs}
    with pytest.raises(InvalidInput) as err:
        store.write_predictions("d", pa.table({"x": [1, 2, 3]}), model_version=1, **args)
    assert err.value.details["field"] == field
    assert not (store.root / "tables").exists()


def test_labels_are_checked_whole(store: MonitoringStore, tmp_path: Path) -> None:
    write_log(
        tmp_path / "log",
        [
            record("cls", [[1, "A"], [2, "B"]], [0, 1], at=T0),
            record("txt", [[1, "A"]], ["setosa"], at=T0 + 1),
            record("reg", [[1, "A"]], [3.25], at=T0 + 2, deployment="price"),
        ],
    )
    # the log was never ingested: add_labels ingests the deployment's pending files first
    assert store.add_labels("churn", [("cls", 0, 1), ("cls", 1, "0"), ("txt", 0, "virginica")]) == 3
    with pytest.raises(NotFound) as err:
        store.add_labels("churn", [("cls", 0, 1), ("nope", 0, 1), ("cls", 2, 1)])
    assert err.value.details["request_ids"] == ["cls", "nope"]
    with pytest.raises(InvalidInput) as bad:
        store.add_labels("price", [("reg", 0, 3.0), ("reg", 0, "expensive")])
    assert bad.value.details["field"] == "label"
    with pytest.raises(InvalidInput) as bad:
        store.add_labels("churn", [("txt", 0, 2)])  # a number for a text classifier
    assert bad.value.details["field"] == "label"
    for wrong in (None, float("nan"), [1], ""):
        with pytest.raises(InvalidInput):
            store.add_labels("churn", [("cls", 0, wrong)])
    with pytest.raises(NotFound):
        store.add_labels("unknown", [("cls", 0, 1)])
    # nothing of the refused batches was kept
    got = sorted(
        (r["request_id"], r["row"], r["label_value"], r["label_class"]) for r in _labels(store)
    )
    assert got == [("cls", 0, 1.0, "1"), ("cls", 1, 0.0, "0"), ("txt", 0, None, "virginica")]
    assert store.add_labels("price", [("reg", 0, "3.5")]) == 1  # numeric text for a regressor


def test_health(store: MonitoringStore, tmp_path: Path) -> None:
    lat = np.arange(1, 101, dtype=float)
    recs = [
        record(
            f"r{i}",
            [[1, "A"]],
            [1],
            at=T0 + i * 100,
            latency_ms=float(lat[i]),
            status=200 if i % 10 else 500,
        )
        for i in range(100)
    ]
    recs += [record("bad", [[1, "A"]], {"error_code": "X"}, at=T0 + 50, status=400)]
    recs += [record("sh", [[1, "A"]], [1], at=T0 + 60, role="shadow", version=2)]
    recs += [record("late", [[1, "A"], [2, "B"]], [1, 0], at=T0 + 61_000, latency_ms=3.0)]
    write_log(tmp_path / "log", recs)
    store.ingest()
    first, second = store.health("churn", window_s=60)
    assert (first.start_ms, first.requests, first.errors, first.client_errors) == (T0, 101, 10, 1)
    assert first.error_rate == pytest.approx(10 / 101)
    assert first.throughput_rps == pytest.approx(101 / 60)
    every = np.append(lat, 5.0)
    assert first.latency_p50_ms == pytest.approx(np.quantile(every, 0.5))
    assert first.latency_p99_ms == pytest.approx(np.quantile(every, 0.99))
    assert (second.start_ms, second.requests, second.errors) == (T0 + 60_000, 1, 0)
    assert store.health("churn", window_s=60, version=2) == []  # only a shadow: not health
    assert store.health("churn", window_s=60, since_ms=T0 + 5 * DAY) == []
    assert store.health("nothing", window_s=60) == []
    figures = store.figures("churn", window_s=60, now_ms=T0 + 60_000)
    assert figures["requests"] == 101
    assert figures["availability"] is None
    assert figures["accuracy"] is None
    assert figures["estimated_accuracy"] is None


def test_features_are_the_current_data(store: MonitoringStore, tmp_path: Path) -> None:
    write_log(
        tmp_path / "log",
        [record(f"r{i}", [[float(i), "A"], [i + 0.5, "B"]], [0, 1], at=T0 + i) for i in range(100)]
        + [record("sh", [[1, "A"]], [1], at=T0, role="shadow", version=2)],
    )
    store.ingest()
    table = store.features("churn")
    assert table.column_names == ["x", "city", "prediction"]
    assert table.num_rows == 200
    assert sorted(table.column("x").to_pylist())[:3] == [0.0, 0.5, 1.0]
    assert set(table.column("prediction").to_pylist()) == {0.0, 1.0}
    assert store.features("churn", version=2).num_rows == 1
    sample = store.features("churn", limit=50)
    assert sample.num_rows == 50
    assert sample.column_names == ["x", "city", "prediction"]
    assert store.features("churn", since_ms=T0 + DAY).num_rows == 0
    with pytest.raises(InvalidInput):
        store.features("churn", limit=0)


def test_sweep_removes_only_old_data(store: MonitoringStore, tmp_path: Path) -> None:
    now = T0 + 100 * DAY
    write_log(
        tmp_path / "log",
        [record(f"r{d}", [[1, "A"]], [1], at=now - d * DAY) for d in (0, 5, 89, 91, 120)],
    )
    store.ingest()
    store.add_labels("churn", [("r0", 0, 1)])
    old_label = layout.day_path(layout.labels_dir(store.root, "churn"), now - 95 * DAY)
    old_label.mkdir(parents=True)
    pq.write_table(
        pq.read_table(layout.label_files(store.root, "churn")[0]), old_label / "x.parquet"
    )
    assert len(layout.label_files(store.root, "churn")) == 2
    removed = store.sweep(90, now)
    assert removed == 2 + 2 + 1  # two raw files, two typed files, one label file
    kept = {
        r["request_id"]
        for r in pq.ParquetDataset(layout.prediction_files(store.root, "churn")).read().to_pylist()
    }
    assert kept == {"r0", "r5", "r89"}
    assert len(list((tmp_path / "log").rglob("*.parquet"))) == 3
    assert len(layout.label_files(store.root, "churn")) == 1
    assert store.sweep(90, now) == 0
    assert store.ingest() == 0  # swept raw files are gone, nothing comes back
