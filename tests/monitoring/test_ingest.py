"""Raw prediction-log files (written by the real PredictionLog) -> typed tables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from modelyard.monitoring import layout
from modelyard.monitoring.store import MonitoringStore

from ._traffic import HOUR, T0, record, write_log, write_scored


def _typed(root: Path) -> list[dict[str, Any]]:
    files = sorted((root / "tables").rglob("*.parquet"))
    if not files:
        return []
    rows = pq.ParquetDataset(files).read().to_pylist()
    return sorted(rows, key=lambda r: (r["request_id"], r["row"]))


@pytest.fixture
def store(tmp_path: Path) -> MonitoringStore:
    return MonitoringStore(tmp_path / "monitoring", tmp_path / "log")


def test_rows_features_and_failed_requests(store: MonitoringStore, tmp_path: Path) -> None:
    write_log(
        tmp_path / "log",
        [
            record("a", [[1.5, "Paris"], [2, "Lyon"]], [0, 1], at=T0 + 10),
            record("b", [[3, None]], [1], at=T0 + 20, version=2, latency_ms=7.5),
            record("c", [[4, "Nice"]], {"error_code": "PREDICTION_FAILED"}, at=T0 + 30, status=500),
        ],
    )
    assert store.ingest() == 3
    rows = _typed(store.root)
    assert [(r["request_id"], r["row"]) for r in rows] == [("a", 0), ("a", 1), ("b", 0), ("c", 0)]
    a0, a1, b0, c0 = rows
    assert (a0["f.x"], a0["f.city"], a1["f.x"], a1["f.city"]) == (1.5, "Paris", 2.0, "Lyon")
    assert (a0["prediction_value"], a0["prediction_class"], a1["prediction_class"]) == (
        0.0,
        "0",
        "1",
    )
    assert (b0["model_version"], b0["latency_ms"], b0["f.city"]) == (2, 7.5, None)
    assert (a0["source"], a0["role"], a0["status"], a0["time_ms"]) == (
        "serving",
        "live",
        200,
        T0 + 10,
    )
    # a failed request: one row 0, no prediction, no features (health counts it once)
    assert (c0["status"], c0["prediction_class"], c0["f.x"]) == (500, None, None)
    assert a0["confidence"] is None
    assert a0["score"] is None
    # the typed file sits in the raw file's hour, named after it
    raw = sorted((tmp_path / "log").rglob("*.parquet"))
    typed = sorted((store.root / "tables").rglob("*.parquet"))
    assert [t.name for t in typed] == [f"s-{r.name}" for r in raw]
    assert typed[0].parent.relative_to(store.root / "tables") == raw[0].parent.relative_to(
        tmp_path / "log"
    )


def test_scores_give_confidence_and_score(store: MonitoringStore, tmp_path: Path) -> None:
    recs = [
        record("a", [[1, "P"], [2, "L"]], ["no", "yes"], at=T0),
        record("b", [[3, "N"]], [2], at=T0 + 1, version=2),
        record("c", [[4, "N"]], ["yes"], at=T0 + 2),
    ]
    scores = [
        {"classes": ["no", "yes"], "proba": [[0.8, 0.2], [0.35, 0.65]]},
        {"classes": [0, 1, 2], "proba": [[0.1, 0.2, 0.7]]},
        None,
    ]
    write_scored(tmp_path / "log", recs, scores)
    assert store.ingest() == 3
    rows = _typed(store.root)
    assert [(r["confidence"], r["score"]) for r in rows] == [
        (0.8, 0.2),
        (0.65, 0.65),
        (0.7, None),  # three classes: no score
        (None, None),
    ]


def test_ingest_is_idempotent_and_crash_safe(store: MonitoringStore, tmp_path: Path) -> None:
    log = tmp_path / "log"
    write_log(log, [record(f"r{i}", [[i, "A"]], [i % 2], at=T0 + i) for i in range(50)])
    write_log(log, [record(f"s{i}", [[i, "B"]], [1], at=T0 + HOUR + i) for i in range(30)])
    # a half-written raw file (a writer that died) and a half-written typed file (an ingest that died)
    hour = next(log.rglob("*.parquet")).parent
    (hour / ".churn-1-000009.parquet.part").write_bytes(b"PAR1 half")
    out = store.root / "tables" / hour.relative_to(log)
    out.mkdir(parents=True)
    (out / ".s-x.parquet.part").write_bytes(b"PAR1")
    assert store.ingest("churn") == 80
    assert store.ingest("churn") == 0
    assert len(_typed(store.root)) == 80
    # a crash after one typed file was lost (or never renamed): only that file comes again
    typed = sorted((store.root / "tables").rglob("s-*.parquet"))
    typed[-1].unlink()
    fresh = MonitoringStore(store.root, log)  # a restarted server: nothing in memory
    assert fresh.ingest() == 30
    assert fresh.ingest() == 0
    assert len(_typed(store.root)) == 80


def test_new_files_in_a_seen_hour_are_ingested(store: MonitoringStore, tmp_path: Path) -> None:
    log = tmp_path / "log"
    write_log(log, [record("a", [[1, "A"]], [1], at=T0)])
    hour = next(log.rglob("*.parquet")).parent
    old = (T0 // 1000) - 3600
    os.utime(hour, (old, old))  # a folder quiet for an hour: the pass remembers it done
    assert store.ingest() == 1
    write_log(log, [record("b", [[1, "A"]], [1], at=T0 + 5)])
    assert store.ingest() == 1
    assert [r["request_id"] for r in _typed(store.root)] == ["a", "b"]


def test_a_damaged_raw_file_is_skipped_and_others_go_on(
    store: MonitoringStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "log"
    write_log(log, [record("a", [[1, "A"]], [1], at=T0)])
    hour = next(log.rglob("*.parquet")).parent
    (hour / "broken-1-000001.parquet").write_bytes(b"not parquet")
    assert store.ingest() == 1
    assert "broken-1-000001.parquet" in caplog.text
    assert store.deployments() == ["churn"]


def test_mixed_columns_in_one_file(store: MonitoringStore, tmp_path: Path) -> None:
    write_log(
        tmp_path / "log",
        [
            record("a", [[1, "A"]], [1], at=T0),
            record("b", [[5, 6]], [0], at=T0 + 1, columns=("x", "y")),
            record("c", [["text", "A"]], [1], at=T0 + 2),
        ],
    )
    store.ingest()
    got = {r["request_id"]: r for r in _typed(store.root)}
    assert (got["a"]["f.y"], got["b"]["f.y"], got["b"]["f.city"]) == (None, 6.0, None)
    assert (got["a"]["f.x"], got["b"]["f.x"], got["c"]["f.x"]) == ("1", "5", "text")


def test_old_hours_are_not_opened(store: MonitoringStore, tmp_path: Path) -> None:
    write_log(
        tmp_path / "log",
        [record(f"r{d}", [[d, "A"]], [1], at=T0 + d * 24 * HOUR) for d in range(3)],
    )
    store.ingest()
    files = layout.prediction_files(store.root, "churn", T0 + 24 * HOUR, T0 + 25 * HOUR)
    assert len(files) == 1
    found = duckdb.sql(f"SELECT request_id FROM read_parquet({layout.sql_list(files)})")
    assert found is not None
    got = found.fetchall()
    assert got == [("r1",)]
