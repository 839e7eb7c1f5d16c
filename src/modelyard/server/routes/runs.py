"""/api/v1/runs and /api/v1/ingest"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind
from modelyard.errors import MalformedRequest
from modelyard.server import permissions
from modelyard.server.deps import tracking
from modelyard.server.guard import parsed_json
from modelyard.server.identity import Identity, identify
from modelyard.server.responses import JSONOut
from modelyard.server.run_access import authorize_batches, require_runs
from modelyard.server.schemas import (
    GcIn,
    GcOut,
    HistoriesIn,
    HistoriesOut,
    IngestIn,
    IngestOut,
    MetricHistoryOut,
    RunBatchIn,
    RunCreateIn,
    RunOut,
    RunPageOut,
    RunUpdateIn,
    SearchIn,
    inline_schema,
)
from modelyard.tracking import batches
from modelyard.tracking.entities import MetricPoints, RunBatch, ViewType, json_float
from modelyard.tracking.field_values import MAX_LIMIT, field_values
from modelyard.tracking.service import TrackingService
from modelyard.tracking.validation import clean_run_id

router = APIRouter(tags=["runs"])
_ONE: dict[int | str, dict[str, Any]] = {200: {"model": RunOut}}


def _ingest(
    request: Request, svc: TrackingService, user: str, run_id: str | None
) -> dict[str, int]:
    payload = parsed_json(request.scope)
    if payload is None:
        raise MalformedRequest("the request needs a JSON body")
    now = int(time.time() * 1000)
    if run_id is None:
        parsed = batches.parse_batches(payload, now)
    else:
        if isinstance(payload, dict):
            payload = {**payload, "run_id": run_id}
        parsed = [batches.parse_batch(payload, now)]
    parsed = authorize_batches(request, svc, parsed)
    result = svc.ingest(parsed, user=user)
    return {"applied": result.applied, "duplicates": result.duplicates, "points": result.points}


@router.post(
    "/ingest",
    responses={200: {"model": IngestOut}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(IngestIn)}},
        }
    },
)
async def ingest(
    request: Request,
    identity: Identity = Depends(identify),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """Write batches to many runs in one request: all of them or none (the SDK's path)."""
    return JSONOut(await run_in_threadpool(_ingest, request, svc, identity.name, None))


@router.post(
    "/runs/{run_id}/log",
    responses={200: {"model": IngestOut}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(RunBatchIn)}},
        }
    },
)
async def log_batch(
    run_id: str,
    request: Request,
    identity: Identity = Depends(identify),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """Write params, tags and metric points to one run, atomically."""
    return JSONOut(await run_in_threadpool(_ingest, request, svc, identity.name, run_id))


@router.post("/runs", responses=_ONE, status_code=201)
def create_run(
    body: RunCreateIn,
    request: Request,
    identity: Identity = Depends(identify),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    spec = batches.parse_create(body.model_dump(exclude={"run_id", "tags"}))
    run_id = body.run_id or batches.new_run_id()
    batch = RunBatch(run_id=clean_run_id(run_id), create=spec, tags=body.tags)
    [batch] = authorize_batches(request, svc, [batch])
    assert batch.create is not None
    run = svc.create_run(batch.create, run_id=run_id, tags=batch.tags, user=identity.name)
    return JSONOut(run.to_json(), status_code=201)


@router.post("/runs/search", responses={200: {"model": RunPageOut}})
def search_runs(
    body: SearchIn, request: Request, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    """Runs of the experiments the caller may read (the others are never searched)."""
    page = svc.search_runs_json(
        body.experiment_ids,
        body.filter,
        body.order_by,
        body.max_results,
        body.page_token,
        ViewType(body.view),
        readable=permissions.readable(request, Kind.EXPERIMENT),
    )
    return JSONOut(page)


@router.get("/runs/{run_id}", responses=_ONE)
def get_run(run_id: str, svc: TrackingService = Depends(tracking)) -> JSONOut:
    return JSONOut(svc.get_run(run_id).to_json())


@router.patch("/runs/{run_id}", responses=_ONE)
def update_run(
    run_id: str,
    body: RunUpdateIn,
    svc: TrackingService = Depends(tracking),
    identity: Identity = Depends(identify),
) -> JSONOut:
    update = batches.parse_update(body.model_dump())
    return JSONOut(svc.update_run(run_id, update, user=identity.name).to_json())


@router.delete("/runs/{run_id}", status_code=204)
def delete_run(run_id: str, svc: TrackingService = Depends(tracking)) -> None:
    svc.delete_run(run_id)


@router.post("/runs/{run_id}/restore", status_code=204)
def restore_run(run_id: str, svc: TrackingService = Depends(tracking)) -> None:
    svc.restore_run(run_id)


@router.delete("/runs/{run_id}/tags/{key:path}", status_code=204)
def delete_run_tag(run_id: str, key: str, svc: TrackingService = Depends(tracking)) -> None:
    svc.delete_run_tag(run_id, key)


def series_json(series: MetricPoints, total: int) -> dict[str, Any]:
    values: Any = series.values
    bad = ~np.isfinite(values)
    if bad.any():
        values = values.tolist()
        for i in np.flatnonzero(bad):
            values[i] = json_float(values[i])
    return {
        "key": series.key,
        "steps": series.steps,
        "values": values,
        "timestamps": series.timestamps,
        "total": total,
    }


class FieldValuesOut(BaseModel):
    field: str
    values: list[str]


@router.get("/experiments/{experiment_id}/values", responses={200: {"model": FieldValuesOut}})
def experiment_field_values(
    experiment_id: int,
    field: str = Query(
        ..., max_length=300, description="params.<key>, tags.<key>, status, user or name"
    ),
    prefix: str = Query("", max_length=250, description="only values starting with this"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """Distinct values a field takes among the experiment's active runs (filter completion)."""
    svc.get_experiment(experiment_id)  # 404 for an unknown experiment
    values = field_values(svc.db, experiment_id, field, prefix, limit)
    return JSONOut({"field": field, "values": values})


@router.get("/runs/{run_id}/metrics/history", responses={200: {"model": MetricHistoryOut}})
def metric_history(
    run_id: str,
    key: str = Query(..., description="metric key"),
    max_points: int | None = Query(None, ge=3, le=1_000_000, description="downsample to this"),
    method: Literal["minmax", "lttb"] = "minmax",
    x_min: float | None = Query(None, description="first step of the window"),
    x_max: float | None = Query(None, description="last step of the window"),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """Points of one metric by step; ``max_points`` keeps the shape with fewer points."""
    series, total = svc.metric_history(
        run_id, key, max_points=max_points, method=method, x_min=x_min, x_max=x_max
    )
    return JSONOut(series_json(series, total))


@router.post("/metrics/history", responses={200: {"model": HistoriesOut}})
def metric_histories(
    body: HistoriesIn, request: Request, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    """Many runs' series in one answer; a run without a key has no entry for it."""
    require_runs(request, body.run_ids)
    found = svc.metric_histories(
        body.run_ids,
        body.keys,
        max_points=body.max_points,
        point_budget=body.point_budget,
        method=body.method,
        x_min=body.x_min,
        x_max=body.x_max,
    )
    series = []
    for f in found:
        one = {"run_id": f.run_id, **series_json(f.points, f.total), "in_window": f.in_window}
        if not body.timestamps:
            del one["timestamps"]
        series.append(one)
    return JSONOut({"series": series})


@router.post("/gc", responses={200: {"model": GcOut}})
def gc(body: GcIn, svc: TrackingService = Depends(tracking)) -> JSONOut:
    """Permanently remove deleted runs (and their artifacts); ``dry_run`` only reports."""
    return JSONOut(asdict(svc.gc(body.older_than_seconds, body.dry_run)))
