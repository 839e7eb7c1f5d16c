"""Traces (MLflow 3) in the metadata store: one row each, and the runs they belong to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, select, update

from modelyard.errors import NotFound
from modelyard.store.metadata.sql import now_ms
from modelyard.store.metadata.tables import trace_runs, traces
from modelyard.tracking.trace_entities import TraceInfo, TraceState

_CHUNK = 500  # ids per IN list


def _runs_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        query = select(trace_runs).where(trace_runs.c.trace_id.in_(chunk))
        for row in conn.execute(query.order_by(trace_runs.c.run_id)):
            out.setdefault(row.trace_id, []).append(row.run_id)
    return out


def _to_infos(conn: Connection, rows: Sequence[Row[Any]]) -> list[TraceInfo]:
    runs = _runs_of(conn, [r.id for r in rows])
    out = []
    for row in rows:
        m = row._mapping
        out.append(
            TraceInfo(
                id=m["id"],
                experiment_id=int(m["experiment_id"]),
                request_time=int(m["request_time"]),
                execution_duration=m["execution_duration"],
                state=TraceState(m["state"]),
                metadata=orjson.loads(m["metadata_doc"]),
                tags=orjson.loads(m["tags_doc"]),
                request_preview=m["request_preview"],
                response_preview=m["response_preview"],
                client_request_id=m["client_request_id"],
                run_ids=tuple(runs.get(m["id"], ())),
            )
        )
    return out


def _values(info: TraceInfo) -> dict[str, Any]:
    return {
        "experiment_id": info.experiment_id,
        "request_time": info.request_time,
        "execution_duration": info.execution_duration,
        "state": info.state.value,
        "client_request_id": info.client_request_id,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "metadata_doc": orjson.dumps(info.metadata).decode(),
        "tags_doc": orjson.dumps(info.tags).decode(),
    }


def find(conn: Connection, trace_id: str) -> TraceInfo | None:
    rows = conn.execute(select(traces).where(traces.c.id == trace_id)).all()
    return _to_infos(conn, rows)[0] if rows else None


def get(conn: Connection, trace_id: str) -> TraceInfo:
    found = find(conn, trace_id)
    if found is None:
        raise NotFound(f"trace {trace_id!r} does not exist", trace_id=trace_id)
    return found


def get_many(conn: Connection, ids: Sequence[str]) -> list[TraceInfo]:
    """The traces of these ids that exist, in no particular order."""
    rows: list[Row[Any]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        rows += conn.execute(select(traces).where(traces.c.id.in_(chunk))).all()
    return _to_infos(conn, rows)


def put(conn: Connection, info: TraceInfo) -> TraceInfo:
    """Insert the trace, or replace what a repeated start sent (the client retries)."""
    values = _values(info)
    if find(conn, info.id) is None:
        conn.execute(traces.insert().values(id=info.id, created_at=now_ms(), **values))
    else:
        conn.execute(update(traces).where(traces.c.id == info.id).values(**values))
    link(conn, [info.id], info.run_ids)
    return get(conn, info.id)


def set_tags(conn: Connection, trace_id: str, tags: dict[str, str]) -> None:
    conn.execute(
        update(traces).where(traces.c.id == trace_id).values(tags_doc=orjson.dumps(tags).decode())
    )


def link(conn: Connection, trace_ids: Sequence[str], run_ids: Sequence[str]) -> None:
    """Each trace belongs to each run (already linked pairs stay as they are)."""
    for trace_id in trace_ids:
        have = set(
            conn.execute(
                select(trace_runs.c.run_id).where(trace_runs.c.trace_id == trace_id)
            ).scalars()
        )
        new = [{"trace_id": trace_id, "run_id": r} for r in dict.fromkeys(run_ids) if r not in have]
        if new:
            conn.execute(trace_runs.insert(), new)


def list_in(
    conn: Connection, experiment_ids: Sequence[int], run_ids: Sequence[str] | None = None
) -> list[TraceInfo]:
    """The traces of these experiments (with ``run_ids``, only those of one of these runs)."""
    query = select(traces).where(traces.c.experiment_id.in_(list(experiment_ids)))
    if run_ids is not None:
        linked = select(trace_runs.c.trace_id).where(trace_runs.c.run_id.in_(list(run_ids)))
        query = query.where(traces.c.id.in_(linked))
    return _to_infos(conn, conn.execute(query).all())


def older(
    conn: Connection, experiment_id: int, max_time: int | None, limit: int | None
) -> list[str]:
    """Ids of the experiment's traces made at or before ``max_time``, oldest first."""
    query = select(traces.c.id).where(traces.c.experiment_id == experiment_id)
    if max_time is not None:
        query = query.where(traces.c.request_time <= max_time)
    query = query.order_by(traces.c.request_time, traces.c.id)
    if limit is not None:
        query = query.limit(limit)
    return list(conn.execute(query).scalars())


def delete_many(conn: Connection, ids: Sequence[str]) -> int:
    gone = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        conn.execute(delete(trace_runs).where(trace_runs.c.trace_id.in_(chunk)))
        gone += conn.execute(delete(traces).where(traces.c.id.in_(chunk))).rowcount
    return gone
