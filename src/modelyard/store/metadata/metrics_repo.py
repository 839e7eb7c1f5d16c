"""Metric points stored as chunks of packed arrays, plus one summary row per (run, key)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from modelyard.errors import NotFound
from modelyard.store.metadata.database import Prepared, PreparedIn
from modelyard.store.metadata.sql import chunked
from modelyard.store.metadata.tables import metric_chunks, metric_summaries
from modelyard.tracking.entities import MetricPoints, MetricSummary

STEP = np.dtype("<i8")
VALUE = np.dtype("<f8")
TIME = np.dtype("<i8")
COMPACT_EVERY = 32  # look at the tail every this many appends
SMALL_CHUNK = 8192  # trailing chunks smaller than this are merged


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _summarise(points: MetricPoints) -> tuple[MetricPoints, tuple[int, int, float], float, float]:
    steps = np.ascontiguousarray(points.steps, dtype=STEP)
    values = np.ascontiguousarray(points.values, dtype=VALUE)
    stamps = np.ascontiguousarray(points.timestamps, dtype=TIME)
    last = int(np.lexsort((stamps, steps))[-1])
    return (
        MetricPoints(points.key, steps, values, stamps),
        (int(steps[last]), int(stamps[last]), float(values[last])),
        float(np.fmin.reduce(values)),
        float(np.fmax.reduce(values)),
    )


_SUMMARY_COLUMNS = tuple(c.key for c in metric_summaries.c)
_CHUNK_COLUMNS = ("run_id", "key", "n", "step_min", "step_max", "steps", "values", "timestamps")
_SUMMARIES_OF = PreparedIn(
    lambda _, ids: (
        select(metric_summaries).where(metric_summaries.c.run_id.in_(ids)).with_for_update()
    )
)
_INSERT_CHUNKS = Prepared(metric_chunks.insert().inline(), _CHUNK_COLUMNS)


def _upsert_summaries(dialect: str) -> Any:
    stmt = (postgresql if dialect == "postgresql" else sqlite).insert(metric_summaries)
    keys = ("run_id", "key")
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: stmt.excluded[c] for c in _SUMMARY_COLUMNS if c not in keys},
    )


_UPSERT_SUMMARIES = Prepared(_upsert_summaries, _SUMMARY_COLUMNS)


def append_many(
    conn: Connection, items: list[tuple[str, MetricPoints]], created: AbstractSet[str] = frozenset()
) -> dict[str, dict[str, MetricSummary]]:
    """Append one chunk per (run, key) and fold the points into the summary rows.

    Several items for the same (run, key) are concatenated in order first. Returns every
    summary of each run touched, for the run's read copy. Runs in ``created`` were made in
    this transaction: they have no stored summaries to read.
    """
    merged: dict[tuple[str, str], list[MetricPoints]] = {}
    for run_id, points in items:
        if len(points):
            merged.setdefault((run_id, points.key), []).append(points)
    if not merged:
        return {}
    run_ids = sorted({r for r, _ in merged})
    prev: dict[tuple[str, str], dict[str, Any]] = {}
    stored = [r for r in run_ids if r not in created]
    for values in _SUMMARIES_OF.rows(conn, stored) if stored else ():
        row = dict(zip(_SUMMARY_COLUMNS, values, strict=True))
        prev[(row["run_id"], row["key"])] = row
    chunk_rows: list[dict[str, Any]] = []
    summary_rows: list[dict[str, Any]] = []
    to_compact: list[tuple[str, str]] = []
    for (run_id, key), parts in merged.items():
        if len(parts) > 1:
            joined = MetricPoints(
                key,
                np.concatenate([np.asarray(p.steps, dtype=STEP) for p in parts]),
                np.concatenate([np.asarray(p.values, dtype=VALUE) for p in parts]),
                np.concatenate([np.asarray(p.timestamps, dtype=TIME) for p in parts]),
            )
        else:
            joined = parts[0]
        series, last, vmin, vmax = _summarise(joined)
        n = len(series.values)
        chunks, count = 1, n
        old = prev.get((run_id, key))
        if old is not None:
            chunks += int(old["chunks"])
            count += int(old["count"])
            if (old["last_step"], old["last_timestamp"]) > last[:2]:
                last = (
                    int(old["last_step"]),
                    int(old["last_timestamp"]),
                    _none_to_nan(old["last_value"]),
                )
            vmin = float(np.fmin(vmin, _none_to_nan(old["min_value"])))
            vmax = float(np.fmax(vmax, _none_to_nan(old["max_value"])))
        chunk_rows.append(
            {
                "run_id": run_id,
                "key": key,
                "n": n,
                "step_min": int(series.steps.min()),
                "step_max": int(series.steps.max()),
                "steps": series.steps.tobytes(),
                "values": series.values.tobytes(),
                "timestamps": series.timestamps.tobytes(),
            }
        )
        summary_rows.append(
            {
                "run_id": run_id,
                "key": key,
                "last_value": _nan_to_none(last[2]),
                "last_step": last[0],
                "last_timestamp": last[1],
                "min_value": _nan_to_none(vmin),
                "max_value": _nan_to_none(vmax),
                "count": count,
                "chunks": chunks,
            }
        )
        if chunks % COMPACT_EVERY == 0:
            to_compact.append((run_id, key))
    _INSERT_CHUNKS.many(conn, chunk_rows)
    _UPSERT_SUMMARIES.many(conn, summary_rows)
    for run_id, key in to_compact:
        _compact_tail(conn, run_id, key)
    touched: dict[str, dict[str, MetricSummary]] = {r: {} for r in run_ids}
    for (run_id, key), row in prev.items():
        touched[run_id][key] = _to_summary(row)
    for values in summary_rows:
        touched[values["run_id"]][values["key"]] = _to_summary(values)
    return touched


def _compact_tail(conn: Connection, run_id: str, key: str) -> None:
    """Merge the trailing small chunks of a series into one row (order is kept)."""
    rows = conn.execute(
        select(metric_chunks.c.id, metric_chunks.c.n)
        .where(metric_chunks.c.run_id == run_id, metric_chunks.c.key == key)
        .order_by(metric_chunks.c.id.desc())
        .limit(4 * COMPACT_EVERY)
    ).all()
    tail = []
    for row in rows:
        if row.n >= SMALL_CHUNK:
            break
        tail.append(int(row.id))
    if len(tail) < COMPACT_EVERY // 2:
        return
    tail.reverse()
    series = _load(conn, run_id, key, ids=tail)
    conn.execute(metric_chunks.delete().where(metric_chunks.c.id.in_(tail)))
    conn.execute(
        metric_chunks.insert().values(
            run_id=run_id,
            key=key,
            n=len(series.values),
            step_min=int(series.steps.min()),
            step_max=int(series.steps.max()),
            steps=series.steps.tobytes(),
            values=series.values.tobytes(),
            timestamps=series.timestamps.tobytes(),
        )
    )
    conn.execute(
        metric_summaries.update()
        .where(metric_summaries.c.run_id == run_id, metric_summaries.c.key == key)
        .values(chunks=metric_summaries.c.chunks - len(tail) + 1)
    )


def _load(conn: Connection, run_id: str, key: str, ids: list[int] | None = None) -> MetricPoints:
    query = (
        select(metric_chunks.c.steps, metric_chunks.c["values"], metric_chunks.c.timestamps)
        .where(metric_chunks.c.run_id == run_id, metric_chunks.c.key == key)
        .order_by(metric_chunks.c.id)
    )
    if ids is not None:
        query = query.where(metric_chunks.c.id.in_(ids))
    rows = conn.execute(query).all()
    if not rows:
        empty_i = np.empty(0, dtype=STEP)
        return MetricPoints(key, empty_i, np.empty(0, dtype=VALUE), empty_i.copy())
    return _joined(key, rows)


def history(conn: Connection, run_id: str, key: str) -> MetricPoints:
    """Every point of one metric, ordered by step (points logged at the same step keep order)."""
    series = _load(conn, run_id, key)
    if len(series.values) == 0:
        raise NotFound(f"metric {key!r} was not logged on run {run_id}", run_id=run_id, key=key)
    return _by_step(series)


_CHUNKS_OF = PreparedIn(
    lambda _, ids: (
        select(
            metric_chunks.c.run_id,
            metric_chunks.c.steps,
            metric_chunks.c["values"],
            metric_chunks.c.timestamps,
        )
        .where(metric_chunks.c.key == bindparam("key"), metric_chunks.c.run_id.in_(ids))
        .order_by(metric_chunks.c.run_id, metric_chunks.c.id)
    )
)
_COUNTS_OF = PreparedIn(
    lambda _, ids: select(metric_summaries.c.run_id, metric_summaries.c.count).where(
        metric_summaries.c.key == bindparam("key"), metric_summaries.c.run_id.in_(ids)
    )
)
READ_POINTS = 2_000_000  # points of many runs read at once (about 48 MB of arrays)


def counts(conn: Connection, run_ids: list[str], key: str) -> dict[str, int]:
    """How many points of ``key`` each run holds, in the order of ``run_ids`` (a run that
    never logged it has no entry)."""
    found = {r: int(n) for r, n in _COUNTS_OF.rows(conn, run_ids, {"key": key})}
    return {r: found[r] for r in dict.fromkeys(run_ids) if r in found}


def histories(
    conn: Connection, sizes: dict[str, int], key: str
) -> Iterator[tuple[str, MetricPoints]]:
    """Like :func:`history` for many runs (``sizes``: their :func:`counts`), one query per
    group of runs holding at most READ_POINTS points together, so memory stays bounded."""
    group: list[str] = []
    points = 0
    for run_id, n in [*sizes.items(), ("", READ_POINTS)]:  # the sentinel reads the last group
        if group and points + n > READ_POINTS:
            parts: dict[str, list[Any]] = {}
            for rid, steps, values, stamps in _CHUNKS_OF.rows(conn, group, {"key": key}):
                parts.setdefault(rid, []).append((steps, values, stamps))
            for rid in group:
                rows = parts.pop(rid, [])
                if rows:
                    yield rid, _by_step(_joined(key, rows))
            group, points = [], 0
        group.append(run_id)
        points += n


def _joined(key: str, rows: Sequence[Any]) -> MetricPoints:
    return MetricPoints(
        key,
        np.frombuffer(b"".join(r[0] for r in rows), dtype=STEP),
        np.frombuffer(b"".join(r[1] for r in rows), dtype=VALUE),
        np.frombuffer(b"".join(r[2] for r in rows), dtype=TIME),
    )


def _by_step(series: MetricPoints) -> MetricPoints:
    order = np.argsort(series.steps, kind="stable")
    if np.array_equal(order, np.arange(len(order))):
        return series
    return MetricPoints(
        series.key, series.steps[order], series.values[order], series.timestamps[order]
    )


def _to_summary(m: Any) -> MetricSummary:
    return MetricSummary(
        key=m["key"],
        last=_none_to_nan(m["last_value"]),
        step=int(m["last_step"]),
        timestamp=int(m["last_timestamp"]),
        min=_none_to_nan(m["min_value"]),
        max=_none_to_nan(m["max_value"]),
        count=int(m["count"]),
    )


def delete_for_runs(conn: Connection, run_ids: list[str]) -> None:
    for ids in chunked(run_ids):
        conn.execute(metric_chunks.delete().where(metric_chunks.c.run_id.in_(ids)))
        conn.execute(metric_summaries.delete().where(metric_summaries.c.run_id.in_(ids)))
