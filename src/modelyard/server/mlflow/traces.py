"""MLflow 3's traces (``/api/3.0/mlflow/traces``, tags and deletes under ``/api/2.0``).

The client records a trace when its root span ends (``StartTraceV3``), then uploads the spans
through the artifact API to the trace's ``mlflow.artifactLocation``
(``mlflow-artifacts:/<experiment>/traces/<trace id>/artifacts``); ``mlflow.get_trace`` reads
them back from there. The server answers no ``/version``, so the client never sends spans over
OTLP (see docs/mlflow.md, "Traces").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind, Role
from modelyard.errors import InvalidInput
from modelyard.server import permissions
from modelyard.server.deps import traces
from modelyard.server.mlflow import wire
from modelyard.server.responses import JSONOut
from modelyard.tracking.trace_entities import (
    ARTIFACT_LOCATION,
    SPANS_LOCATION,
    TraceInfo,
    TraceState,
)
from modelyard.tracking.traces import Traces

router = APIRouter()
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_DURATION = re.compile(r"^(\d{1,12})(?:\.(\d{1,9}))?s$")


# ---- proto3 JSON: Timestamp and Duration


def _millis(value: Any, name: str) -> int:
    """A Timestamp (RFC 3339 text, as the client sends it) or a number of ms."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _TIME.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f"{name} must be an RFC 3339 time, got {value!r}", field=name)
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        when = datetime.fromisoformat(match.group(1) + zone)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be an RFC 3339 time, got {value!r}", field=name) from exc
    fraction = (match.group(2) or "").ljust(3, "0")[:3]
    return int(when.timestamp()) * 1000 + int(fraction)


def _duration_ms(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidInput(f"{name} must be a duration such as '0.25s', got {value!r}", field=name)
    return int(match.group(1)) * 1000 + int((match.group(2) or "").ljust(3, "0")[:3])


def _timestamp(ms: int) -> str:
    when = datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{when}.{ms % 1000:03d}Z"


def _duration(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}s"


# ---- trace infos


def _experiment_of(location: Any) -> int:
    if not isinstance(location, dict) or not isinstance(location.get("mlflow_experiment"), dict):
        raise InvalidInput(
            "only traces in an MLflow experiment are kept here (trace_location.mlflow_experiment)",
            field="trace_location",
        )
    return wire.experiment_id(wire.required(location["mlflow_experiment"], "experiment_id"))


def _string_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"'{name}' must be an object of strings", field=name)
    return {str(k): "" if x is None else str(x) for k, x in value.items()}


def _state(value: Any) -> TraceState:
    try:
        return TraceState(value or TraceState.UNSPECIFIED.value)
    except ValueError as exc:
        raise InvalidInput(f"state {value!r} is not a trace state", field="state") from exc


def info_from(m: dict[str, Any]) -> TraceInfo:
    """A ``TraceInfoV3`` message; the server decides where the spans go (its tags)."""
    exp = _experiment_of(m.get("trace_location"))
    trace_id = str(wire.required(m, "trace_id"))
    tags = _string_map(m.get("tags"), "tags")
    tags[ARTIFACT_LOCATION] = f"mlflow-artifacts:/{exp}/traces/{trace_id}/artifacts"
    tags[SPANS_LOCATION] = "ARTIFACT_REPO"
    return TraceInfo(
        id=trace_id,
        experiment_id=exp,
        request_time=_millis(wire.required(m, "request_time"), "request_time"),
        execution_duration=_duration_ms(m.get("execution_duration"), "execution_duration"),
        state=_state(m.get("state")),
        metadata=_string_map(m.get("trace_metadata"), "trace_metadata"),
        tags=tags,
        request_preview=str(m.get("request_preview") or ""),
        response_preview=str(m.get("response_preview") or ""),
        client_request_id=wire.text(m, "client_request_id") or None,
    )


def info_json(info: TraceInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "trace_id": info.id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": str(info.experiment_id)},
        },
        "request_time": _timestamp(info.request_time),
        "state": info.state.value,
        "trace_metadata": info.metadata,
        "tags": info.tags,
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
    }
    if info.execution_duration is not None:
        out["execution_duration"] = _duration(info.execution_duration)
    if info.client_request_id:
        out["client_request_id"] = info.client_request_id
    return out


def _experiments_searched(m: dict[str, Any]) -> list[int]:
    """``locations`` (V3) or ``experiment_ids`` (V2)."""
    ids = [wire.experiment_id(e) for e in wire.strings(m, "experiment_ids")]
    locations = m.get("locations") or []
    if not isinstance(locations, list):
        raise InvalidInput("'locations' must be a list", field="locations")
    ids += [_experiment_of(loc) for loc in locations]
    return ids


def _order_by(m: dict[str, Any]) -> list[str]:
    return wire.strings(m, "order_by")


# ---- routes: fixed paths before /traces/{trace_id}


@router.post("/traces/search")
async def search(request: Request, t: Traces = Depends(traces)) -> JSONOut:
    m = await wire.fields(request)
    readable = await run_in_threadpool(permissions.readable, request, Kind.EXPERIMENT)
    found, token = await run_in_threadpool(
        t.search,
        _experiments_searched(m),
        wire.text(m, "filter"),
        _order_by(m),
        wire.integer(m, "max_results", 100) or 100,
        wire.text(m, "page_token"),
        readable,
    )
    out: dict[str, Any] = {"traces": [info_json(i) for i in found]}
    if token:
        out["next_page_token"] = token
    return JSONOut(out)


@router.post("/traces/batchGetInfos")
async def batch_get_infos(request: Request, t: Traces = Depends(traces)) -> JSONOut:
    """The traces named that exist and that the caller may read."""
    m = await wire.fields(request)
    ids = wire.strings(m, "trace_ids")
    readable = await run_in_threadpool(permissions.readable, request, Kind.EXPERIMENT)
    found = await run_in_threadpool(t.get_many, ids)
    shown = [i for i in found if readable is None or str(i.experiment_id) in readable]
    return JSONOut({"trace_infos": [info_json(i) for i in shown]})


@router.post("/traces/delete-traces")
async def delete_traces(request: Request, t: Traces = Depends(traces)) -> JSONOut:
    m = await wire.fields(request)
    exp = wire.experiment_id(wire.required(m, "experiment_id"))
    ids = wire.strings(m, "request_ids") + wire.strings(m, "trace_ids")
    gone = await run_in_threadpool(
        lambda: t.delete(
            exp,
            max_timestamp=wire.integer(m, "max_timestamp_millis"),
            max_traces=wire.integer(m, "max_traces"),
            trace_ids=ids,
        )
    )
    return JSONOut({"traces_deleted": gone})


@router.post("/traces/link-to-run")
async def link_to_run(request: Request, t: Traces = Depends(traces)) -> JSONOut:
    """The traces belong to the run too; the caller must be able to read each."""
    m = await wire.fields(request)
    run_id = str(wire.required(m, "run_id"))
    ids = wire.strings(m, "trace_ids")

    def job() -> None:
        for exp in sorted(set(t.experiments_of(ids).values())):
            permissions.require(request, Kind.EXPERIMENT, str(exp), Role.VIEWER)
        t.link_to_run(ids, run_id)

    await run_in_threadpool(job)
    return JSONOut({})


@router.post("/traces")
async def start_trace(request: Request, t: Traces = Depends(traces)) -> JSONOut:
    """``StartTraceV3``: the finished trace's info (its spans follow as an artifact)."""
    m = await wire.fields(request)
    trace = m.get("trace")
    if not isinstance(trace, dict) or not isinstance(trace.get("trace_info"), dict):
        raise InvalidInput("Missing value for required parameter 'trace.trace_info'.")
    info = await run_in_threadpool(t.start, info_from(trace["trace_info"]))
    return JSONOut({"trace": {"trace_info": info_json(info)}})


@router.get("/traces/{trace_id}")
async def get_trace_info(trace_id: str, t: Traces = Depends(traces)) -> JSONOut:
    info = await run_in_threadpool(t.get, trace_id)
    return JSONOut({"trace": {"trace_info": info_json(info)}})


@router.patch("/traces/{trace_id}/tags")
async def set_tag(trace_id: str, request: Request, t: Traces = Depends(traces)) -> JSONOut:
    m = await wire.fields(request)
    key, value = wire.required(m, "key"), m.get("value") or ""
    await run_in_threadpool(t.set_tag, trace_id, str(key), str(value))
    return JSONOut({})


@router.delete("/traces/{trace_id}/tags")
async def delete_tag(trace_id: str, request: Request, t: Traces = Depends(traces)) -> JSONOut:
    m = await wire.fields(request)
    key = wire.required(m, "key")
    await run_in_threadpool(t.delete_tag, trace_id, str(key))
    return JSONOut({})
