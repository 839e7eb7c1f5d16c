"""Monitoring data: prediction-log ingest rate, and a quality query over 10 M logged predictions.

    .venv/bin/python benchmarks/monitoring_data.py [--records 200000] [--predictions 10000000]
        [--labels 1000000] [--scratch DIR] [--only ingest|quality]

1. Ingest: raw log files as the serving processes write them (the real PredictionLog's schema and
   LZ4, files of 20,000 records, one row of 8 numeric and 2 text features each, plus the class
   probabilities column), turned into typed tables by MonitoringStore.ingest(); records/s.
2. Quality: 10 M typed predictions over 10 days (one compacted file per hour, as written by the
   store's own writer) of a binary classifier with probabilities, 2 versions, and 1 M labels sent
   through MonitoringStore.add_labels in 20 batches (each label row carries its prediction's
   columns); MonitoringStore.quality() by day and version, cold (first query of the process:
   every prediction file scanned and its aggregate kept) and warm (the files' aggregates kept,
   the labels read again), and by segment (its own first query). ``--old-labels`` writes the labels as files without the predictions'
   columns instead (as before labels carried them: the query joins them on the request id).
3. Compaction: one hour of one serving instance as ingest leaves it (3,600 typed files, one per
   second, 20 rows each), some labelled; quality and health of that hour and a label add, before
   and after MonitoringStore.compact() rewrote it as one file (and how long that took).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.monitoring import layout
from modelyard.monitoring.store import MonitoringStore
from modelyard.serving.predlog import folder_name, schema

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
FEATURES = [f"n{i}" for i in range(8)] + ["city", "plan"]
BASE = (
    "request_id", "deployment", "model_version", "role", "time_ms", "latency_ms", "status",
    "inputs", "outputs",
)  # fmt: skip


def write_raw_log(root: Path, records: int, per_file: int = 20_000) -> int:
    """Raw prediction-log files with the serving processes' schema (plus ``scores``)."""
    rng = np.random.default_rng(1)
    written = 0
    cities = ["Paris", "Lyon", "Nice", "Lille", "Nantes"]
    for start in range(0, records, per_file):
        n = min(per_file, records - start)
        at = T0 + start  # one ms apart: one hour holds the lot
        nums = rng.normal(size=(n, 8)).round(4).tolist()
        proba = rng.uniform(size=n).round(4)
        inputs = [
            orjson.dumps({"columns": FEATURES, "data": [[*nums[i], cities[i % 5], "pro"]]}).decode()
            for i in range(n)
        ]
        outputs = [orjson.dumps([int(p > 0.5)]).decode() for p in proba]
        scores = [
            orjson.dumps({"classes": [0, 1], "proba": [[1 - p, p]]}).decode()
            for p in proba.tolist()
        ]
        table = pa.table(
            {
                "request_id": pa.array([f"{start + i:032x}" for i in range(n)]),
                "deployment": pa.array(["bench"] * n),
                "model_version": pa.array(np.ones(n, np.int64)),
                "role": pa.array(["live"] * n),
                "time_ms": pa.array(at + np.arange(n, dtype=np.int64)),
                "latency_ms": pa.array(rng.uniform(1, 20, n)),
                "status": pa.array(np.full(n, 200, np.int32)),
                "inputs": pa.array(inputs),
                "outputs": pa.array(outputs),
            },
            schema=pa.schema([schema().field(c) for c in BASE]),
        ).append_column("scores", pa.array(scores, pa.string()))
        hour = datetime.fromtimestamp(at // 1000, UTC)
        folder = root / folder_name("bench") / hour.strftime("%Y-%m-%d") / hour.strftime("%H")
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / f"bench-1-{at}-{start:06d}.parquet", compression="lz4")
        written += n
    return written


def bench_ingest(scratch: Path, records: int) -> dict[str, float]:
    log_root = scratch / "log"
    write_raw_log(log_root, records)
    store = MonitoringStore(scratch / "monitoring", log_root)
    started = time.perf_counter()
    got = store.ingest()
    seconds = time.perf_counter() - started
    assert got == records, got
    again = time.perf_counter()
    assert store.ingest() == 0
    nothing_new = time.perf_counter() - again
    return {
        "ingest_records": records,
        "ingest_s": round(seconds, 3),
        "ingest_records_per_s": round(records / seconds),
        "ingest_nothing_new_ms": round(nothing_new * 1000, 2),
    }


def write_typed(
    root: Path, predictions: int, labels: int, hours: int = 240, old_labels: bool = False
) -> float:
    """Typed prediction tables (one file an hour) and labels; returns the seconds adding the
    labels took (``old_labels``: label files without the predictions' columns, written directly)."""
    rng = np.random.default_rng(2)
    per_hour = predictions // hours
    base = layout.tables_dir(root, "bench")
    chosen = np.sort(rng.choice(predictions, labels, replace=False))
    label_ids: list[np.ndarray] = []
    label_y: list[np.ndarray] = []
    for h in range(hours):
        first = h * per_hour
        n = per_hour if h < hours - 1 else predictions - first
        idx = np.arange(first, first + n)
        score = rng.beta(2, 2, n)
        y = rng.uniform(size=n) < score
        pred = (score > 0.5).astype(np.int64)
        ids = np.char.add("r", idx.astype(str))
        table = pa.table(
            {
                "request_id": pa.array(ids),
                "row": pa.array(np.zeros(n, np.int32)),
                "model_version": pa.array(np.where(idx % 10 == 0, 2, 1).astype(np.int64)),
                "role": pa.array(np.full(n, "live", dtype=object), pa.string()),
                "source": pa.array(np.full(n, "serving", dtype=object), pa.string()),
                "time_ms": pa.array(T0 + h * HOUR + np.sort(rng.integers(0, HOUR, n))),
                "latency_ms": pa.array(rng.uniform(1, 20, n)),
                "status": pa.array(np.full(n, 200, np.int32)),
                "prediction_value": pa.array(pred.astype(np.float64)),
                "prediction_class": pa.array(pred.astype(str)),
                "confidence": pa.array(np.where(pred == 1, score, 1 - score)),
                "score": pa.array(score),
                "f.n0": pa.array(rng.normal(size=n)),
                "f.city": pa.array(np.array(["Paris", "Lyon", "Nice"])[idx % 3]),
            }
        )
        layout.write_table(layout.hour_path(base, T0 + h * HOUR) / "compact-bench.parquet", table)
        mine = chosen[(chosen >= first) & (chosen < first + n)]
        label_ids.append(np.char.add("r", mine.astype(str)))
        label_y.append(y[mine - first].astype(np.int64))
    ids = np.concatenate(label_ids)
    ys = np.concatenate(label_y)
    batches = np.array_split(np.arange(len(ids)), 20)
    if not old_labels:
        store = MonitoringStore(root, None)
        started = time.perf_counter()
        for chunk in batches:
            store.add_labels(
                "bench",
                list(zip(ids[chunk].tolist(), [0] * len(chunk), ys[chunk].tolist(), strict=True)),
            )
        return time.perf_counter() - started
    folder = layout.day_path(layout.labels_dir(root, "bench"), T0 + hours * HOUR)
    for part, chunk in enumerate(batches):
        table = pa.table(
            {
                "request_id": pa.array(ids[chunk]),
                "row": pa.array(np.zeros(len(chunk), np.int32)),
                "label_value": pa.array(ys[chunk].astype(np.float64)),
                "label_class": pa.array(ys[chunk].astype(str)),
                "received_ms": pa.array(np.full(len(chunk), T0 + hours * HOUR + part, np.int64)),
            }
        )
        layout.write_table(folder / f"labels-{part:02d}.parquet", table)
    return 0.0


def bench_quality(
    scratch: Path, predictions: int, labels: int, old_labels: bool = False
) -> dict[str, object]:
    root = scratch / ("monitoring-q-old" if old_labels else "monitoring-q")
    started = time.perf_counter()
    label_s = write_typed(root, predictions, labels, old_labels=old_labels)
    write_s = time.perf_counter() - started - label_s
    store = MonitoringStore(root, None)
    times = []
    result = None
    for _ in range(4):
        started = time.perf_counter()
        result = store.quality("bench", window_s=86_400)
        times.append(time.perf_counter() - started)
    assert result is not None
    total = sum(p.predictions for p in result.points)
    labelled = sum(p.labelled for p in result.points)
    assert (total, labelled) == (predictions, labels), (total, labelled)
    first = result.points[0]
    seg = time.perf_counter()
    store.quality("bench", window_s=86_400, segment="city")
    seg_s = time.perf_counter() - seg
    return {
        "quality_predictions": predictions,
        "quality_labels": labels,
        "quality_label_format": "joined (old files)" if old_labels else "with predictions",
        "quality_write_s": round(write_s, 1),
        "quality_add_labels_s": round(label_s, 1),
        "quality_add_labels_per_s": round(labels / label_s) if label_s else None,
        "quality_points": len(result.points),
        "quality_cold_s": round(times[0], 3),
        "quality_warm_s": round(min(times[1:]), 3),
        "quality_by_city_s": round(seg_s, 3),
        "quality_first_point": {
            "realized_accuracy": first.realized["accuracy"],
            "estimated_accuracy": first.estimated.get("accuracy"),
            "calibration": result.calibration,
        },
    }


def bench_compaction(scratch: Path, files: int, rows: int) -> dict[str, object]:
    root = scratch / "monitoring-c"
    rng = np.random.default_rng(3)
    hour = layout.hour_path(layout.tables_dir(root, "bench"), T0)
    for f in range(files):
        n = rows
        score = rng.uniform(size=n)
        pred = (score > 0.5).astype(np.int64)
        table = pa.table(
            {
                "request_id": pa.array([f"c{f}-{i}" for i in range(n)]),
                "row": pa.array(np.zeros(n, np.int32)),
                "model_version": pa.array(np.ones(n, np.int64)),
                "role": pa.array(["live"] * n),
                "source": pa.array(["serving"] * n),
                "time_ms": pa.array(T0 + f * 1000 + np.arange(n, dtype=np.int64)),
                "latency_ms": pa.array(rng.uniform(1, 20, n)),
                "status": pa.array(np.full(n, 200, np.int32)),
                "prediction_value": pa.array(pred.astype(np.float64)),
                "prediction_class": pa.array(pred.astype(str)),
                "confidence": pa.array(np.where(pred == 1, score, 1 - score)),
                "score": pa.array(score),
                "f.n0": pa.array(rng.normal(size=n)),
                "f.city": pa.array(
                    ["Paris", "Lyon", "Nice", "Lille"] * (n // 4) + ["Paris"] * (n % 4)
                ),
            }
        )
        layout.write_table(hour / f"s-bench-1-{T0 + f * 1000}-{f:06d}.parquet", table)
    store = MonitoringStore(root, None)
    labelled = [
        (f"c{f}-{i}", 0, int(rng.uniform() < 0.5)) for f in range(0, files, 10) for i in range(rows)
    ]
    out: dict[str, object] = {"compaction_files": files, "compaction_rows": files * rows}

    def measure(tag: str) -> None:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            store.quality("bench", window_s=3600)
            times.append(time.perf_counter() - started)
        out[f"compaction_quality_{tag}_cold_s"] = round(times[0], 3)
        out[f"compaction_quality_{tag}_warm_s"] = round(min(times[1:]), 3)
        started = time.perf_counter()
        store.health("bench", window_s=60)
        out[f"compaction_health_{tag}_s"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        store.add_labels("bench", labelled[:100])
        out[f"compaction_add_100_labels_{tag}_s"] = round(time.perf_counter() - started, 3)

    store.add_labels("bench", labelled)
    measure("before")
    started = time.perf_counter()
    assert store.compact(T0 + 3 * HOUR) == 1
    out["compaction_compact_s"] = round(time.perf_counter() - started, 3)
    assert store.compact(T0 + 3 * HOUR, grace_s=0) == 0  # the superseded files go
    assert len(layout.parquet_files(hour)) == 1
    measure("after")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--predictions", type=int, default=10_000_000)
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--scratch", type=Path, default=None)
    parser.add_argument("--only", choices=["ingest", "quality", "compaction"], default=None)
    parser.add_argument("--hour-files", type=int, default=3600)
    parser.add_argument("--rows-per-file", type=int, default=20)
    parser.add_argument("--old-labels", action="store_true", help="labels without predictions")
    args = parser.parse_args()
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="modelyard-monbench-"))
    out: dict[str, object] = {}
    try:
        if args.only in (None, "ingest"):
            out.update(bench_ingest(scratch, args.records))
        if args.only in (None, "quality"):
            out.update(bench_quality(scratch, args.predictions, args.labels, args.old_labels))
        if args.only in (None, "compaction"):
            out.update(bench_compaction(scratch, args.hour_files, args.rows_per_file))
    finally:
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
