"""Compaction: a closed hour of typed predictions rewritten as one file, crash-safe."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from modelyard.monitoring import layout
from modelyard.monitoring.store import MonitoringStore

from ._traffic import HOUR, T0, record, write_log

NOW = T0 + 5 * HOUR  # hours 0..2 are closed (ended 2 hours ago or more), hours 3 and 4 are not


@pytest.fixture
def store(tmp_path: Path) -> MonitoringStore:
    return MonitoringStore(tmp_path / "monitoring", tmp_path / "log")


def _traffic(store: MonitoringStore, log: Path) -> None:
    """Hours 0, 1 and 3, each in several raw files (several flushes), live and shadow answers,
    a failed request, an SDK batch in hour 1; all ingested, some labelled."""
    for flush in range(3):
        recs = []
        for hour in (0, 1, 3):
            for i in range(5):
                at = T0 + hour * HOUR + flush * 60_000 + i
                rid = f"h{hour}-f{flush}-{i}"
                recs.append(record(rid, [[float(i), "Paris"], [i + 0.5, "Lyon"]], [1, 0], at=at))
                if i == 0:
                    recs.append(record(rid, [[1.0, "Nice"]], [0], at=at + 1, role="shadow"))
        recs.append(record(f"bad{flush}", [[1, "A"]], {"error": "x"}, at=T0 + flush, status=500))
        write_log(log, recs)
    store.write_predictions(
        "churn", pa.table({"x": [1.0, 2.0], "city": ["Lille", None]}), [1, 1], model_version=2,
        ids=["sdk-a", "sdk-b"], time_ms=T0 + HOUR + 99,
    )  # fmt: skip
    assert store.ingest() == 3 * (3 * 6 + 1)
    store.add_labels("churn", [("h0-f0-0", 0, 1), ("h1-f2-3", 1, 1), ("sdk-a", 0, 0)])


def _rows(store: MonitoringStore) -> list[tuple[Any, ...]]:
    files = layout.prediction_files(store.root, "churn")
    con = duckdb.connect()
    return con.sql(
        f"""SELECT * FROM read_parquet({layout.sql_list(files)}, union_by_name = true)
            ORDER BY ALL"""
    ).fetchall()


def _answers(store: MonitoringStore) -> tuple[Any, ...]:
    quality = store.quality("churn", window_s=3600, segment="city").to_json()
    health = [p.to_json() for p in store.health("churn", window_s=60)]
    features = store.features("churn").sort_by([("x", "ascending"), ("city", "ascending")])
    return quality, health, features.to_pylist()


def _on_disk(store: MonitoringStore, hour: int) -> list[str]:
    folder = layout.hour_path(layout.tables_dir(store.root, "churn"), T0 + hour * HOUR)
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".ingest"))


def test_a_closed_hour_becomes_one_file_with_the_same_rows(
    store: MonitoringStore, tmp_path: Path
) -> None:
    _traffic(store, tmp_path / "log")
    rows, answers = _rows(store), _answers(store)
    assert len(_on_disk(store, 0)) == 3
    assert len(_on_disk(store, 1)) == 4
    assert store.compact(NOW) == 2  # hours 0 and 1; hour 3 is not closed
    assert _rows(store) == rows
    assert _answers(store) == answers
    files = layout.prediction_files(store.root, "churn")
    assert [f.name.startswith("compact-") for f in files] == [True, True, False, False, False]
    # the compacted files' sources stay on disk a grace period (a query may have listed them)
    assert len(_on_disk(store, 1)) == 5
    assert store.compact(NOW) == 0  # nothing new to compact
    assert len(_on_disk(store, 1)) == 5
    assert store.compact(NOW, grace_s=0) == 0  # later: they go
    assert [n.startswith("compact-") for n in _on_disk(store, 1)] == [True]
    assert _rows(store) == rows
    assert _answers(store) == answers
    # the raw files of a compacted hour are not ingested again (a restarted server too)
    assert store.ingest() == 0
    assert MonitoringStore(store.root, tmp_path / "log").ingest() == 0
    assert _rows(store) == rows
    # labels still find the compacted predictions
    assert store.add_labels("churn", [("h0-f1-2", 1, 0)]) == 1
    (first,) = (p for p in store.quality("churn", window_s=3600).points if p.start_ms == T0)
    assert first.labelled == 3  # h0-f0-0 (live and shadow answers) and h0-f1-2


def test_a_late_file_in_a_compacted_hour_is_merged(store: MonitoringStore, tmp_path: Path) -> None:
    _traffic(store, tmp_path / "log")
    store.compact(NOW)
    store.write_predictions(  # a late batch, logged with an old time
        "churn", pa.table({"x": [7.0]}), [0], model_version=2, ids=["late"], time_ms=T0 + HOUR + 5
    )
    rows = _rows(store)
    assert len(rows) == 3 * (3 * 11 + 1) + 3
    assert store.compact(NOW) == 1
    assert _rows(store) == rows
    assert store.compact(NOW, grace_s=0) == 0
    (only,) = _on_disk(store, 1)
    assert only.startswith("compact-")
    assert _rows(store) == rows
    assert store.ingest() == 0


def test_a_crash_between_steps_leaves_a_readable_state(
    store: MonitoringStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _traffic(store, tmp_path / "log")
    rows, answers = _rows(store), _answers(store)
    before = {h: _on_disk(store, h) for h in (0, 1)}
    # a crash before the rename: the new file never appears, nothing else changed
    real_replace = os.replace

    def crash(src: Any, dst: Any) -> None:
        if Path(dst).name.startswith("compact-"):
            raise OSError("killed")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        store.compact(NOW)
    monkeypatch.setattr(os, "replace", real_replace)
    assert {h: _on_disk(store, h) for h in (0, 1)} == before
    assert _rows(store) == rows
    # a process killed while writing leaves a hidden .part: never read, removed an hour later
    hour1 = layout.hour_path(layout.tables_dir(store.root, "churn"), T0 + HOUR)
    part = hour1 / ".compact-dead.parquet.part"
    part.write_bytes(b"PAR1 half")
    assert _rows(store) == rows
    # a crash after the rename, before any delete: both the new file and its sources on disk
    assert store.compact(NOW) == 2
    assert _rows(store) == rows
    fresh = MonitoringStore(store.root, tmp_path / "log")  # a restarted server, nothing cached
    layout._sources.clear()
    assert _rows(fresh) == rows
    assert _answers(fresh) == answers
    assert fresh.ingest() == 0
    old = (NOW // 1000) - 2 * 3600
    os.utime(part, (old, old))
    assert fresh.compact(NOW, grace_s=0) == 0
    assert not part.exists()
    assert _rows(fresh) == rows
