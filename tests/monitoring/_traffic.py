"""Prediction-log traffic for the monitoring store's tests, written by the real PredictionLog."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.serving.predlog import PredictionLog, Record, folder_name

HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def record(
    rid: str,
    rows: Sequence[Sequence[Any]],
    answers: Sequence[Any] | dict[str, Any],
    *,
    at: int,
    deployment: str = "churn",
    version: int = 1,
    role: str = "live",
    status: int = 200,
    latency_ms: float = 5.0,
    columns: Sequence[str] = ("x", "city"),
) -> Record:
    inputs = orjson.dumps({"columns": list(columns), "data": [list(r) for r in rows]}).decode()
    return Record(
        rid,
        deployment,
        version,
        role,
        at,
        latency_ms,
        status,
        inputs,
        orjson.dumps(answers).decode(),
    )


def write_log(root: Path, records: Iterable[Record]) -> None:
    """Append records through a real PredictionLog and flush them to Parquet."""
    log = PredictionLog(root, flush_s=0.05)
    for r in records:
        log.append(r)
    log.close()


def write_scored(
    root: Path, records: Sequence[Record], scores: Sequence[dict[str, Any] | None]
) -> Path:
    """A raw log file with the serving helper's ``scores`` column (as a serving process with
    class probabilities writes it): the real log's schema plus that column."""
    from modelyard.serving.predlog import _arrow, schema

    table = pa.Table.from_batches([_arrow(list(records))], schema=schema())
    column = pa.array(
        [None if s is None else orjson.dumps(s).decode() for s in scores], pa.string()
    )
    if "scores" in table.column_names:  # the log's own schema has the column
        table = table.set_column(table.column_names.index("scores"), "scores", column)
    else:
        table = table.append_column("scores", column)
    at = records[0].time_ms
    from datetime import UTC, datetime

    hour = datetime.fromtimestamp(at // 1000, UTC)
    folder = (
        root / folder_name(records[0].deployment) / hour.strftime("%Y-%m-%d") / hour.strftime("%H")
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"test-{at}-{len(list(folder.iterdir())):06d}.parquet"
    pq.write_table(table, path)
    return path
