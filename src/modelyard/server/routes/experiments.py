"""/api/v1/experiments"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request

from modelyard.access.entities import Kind
from modelyard.server import permissions
from modelyard.server.deps import tracking
from modelyard.server.responses import JSONOut
from modelyard.server.schemas import (
    ExperimentCreateIn,
    ExperimentListedOut,
    ExperimentOut,
    ExperimentUpdateIn,
    TagValueIn,
)
from modelyard.tracking.activity import Activity, experiment_activity
from modelyard.tracking.entities import ViewType
from modelyard.tracking.service import TrackingService

router = APIRouter(prefix="/experiments", tags=["experiments"])
_ONE: dict[int | str, dict[str, Any]] = {200: {"model": ExperimentOut}}


@router.get("", responses={200: {"model": list[ExperimentListedOut]}})
def list_experiments(
    request: Request,
    view: Literal["active", "deleted", "all"] = "active",
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """The experiments the caller may read, each with ``runs`` (active runs) and
    ``last_run_at`` (the latest start or end of one, ms; null without runs)."""
    readable = permissions.readable(request, Kind.EXPERIMENT)
    found = svc.list_experiments(ViewType(view), readable)
    activity = experiment_activity(svc.db)
    none = Activity(0, None)
    out = []
    for exp in found:
        seen = activity.get(exp.id, none)
        out.append({**exp.to_json(), "runs": seen.runs, "last_run_at": seen.last_run_at})
    return JSONOut(out)


@router.post("", responses=_ONE, status_code=201)
def create_experiment(
    body: ExperimentCreateIn, request: Request, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    """A new experiment; its creator becomes its maintainer."""
    exp = svc.create_experiment(body.name, body.description, body.tags)
    permissions.made(request, Kind.EXPERIMENT, str(exp.id))
    return JSONOut(exp.to_json(), status_code=201)


@router.get("/by-name/{name}", responses=_ONE)
def get_experiment_by_name(name: str, svc: TrackingService = Depends(tracking)) -> JSONOut:
    return JSONOut(svc.get_experiment_by_name(name).to_json())


@router.get("/{experiment_id}", responses=_ONE)
def get_experiment(experiment_id: int, svc: TrackingService = Depends(tracking)) -> JSONOut:
    return JSONOut(svc.get_experiment(experiment_id).to_json())


@router.patch("/{experiment_id}", responses=_ONE)
def update_experiment(
    experiment_id: int, body: ExperimentUpdateIn, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    exp = svc.update_experiment(experiment_id, name=body.name, description=body.description)
    return JSONOut(exp.to_json())


@router.put("/{experiment_id}/tags/{key:path}", responses=_ONE)
def set_experiment_tag(
    experiment_id: int, key: str, body: TagValueIn, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    return JSONOut(svc.set_experiment_tag(experiment_id, key, body.value).to_json())


@router.delete("/{experiment_id}", responses=_ONE)
def delete_experiment(experiment_id: int, svc: TrackingService = Depends(tracking)) -> JSONOut:
    return JSONOut(svc.delete_experiment(experiment_id).to_json())


@router.post("/{experiment_id}/restore", responses=_ONE)
def restore_experiment(experiment_id: int, svc: TrackingService = Depends(tracking)) -> JSONOut:
    return JSONOut(svc.restore_experiment(experiment_id).to_json())
