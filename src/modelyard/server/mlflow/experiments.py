"""MLflow's experiments API (``/api/2.0/mlflow/experiments/*``) over the tracking service."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind
from modelyard.errors import InvalidInput
from modelyard.server import permissions
from modelyard.server.deps import tracking
from modelyard.server.mlflow import wire
from modelyard.server.responses import JSONOut
from modelyard.tracking.entities import ViewType
from modelyard.tracking.service import MAX_SEARCH_RESULTS, TrackingService

router = APIRouter(prefix="/experiments")
VIEW_TYPES = {
    "ACTIVE_ONLY": ViewType.ACTIVE,
    "DELETED_ONLY": ViewType.DELETED,
    "ALL": ViewType.ALL,
    "1": ViewType.ACTIVE,
    "2": ViewType.DELETED,
    "3": ViewType.ALL,
}


def view_type(message: dict[str, object], name: str) -> ViewType:
    value = str(message.get(name) or "ACTIVE_ONLY").upper()
    if value not in VIEW_TYPES:
        raise InvalidInput(f"{name} must be ACTIVE_ONLY, DELETED_ONLY or ALL", field=name)
    return VIEW_TYPES[value]


@router.post("/create")
async def create(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    """A new experiment; its creator becomes its maintainer."""
    m = await wire.fields(request)
    name = wire.required(m, "name")
    if not isinstance(name, str):
        raise InvalidInput("parameter 'name' must be a string", field="name")
    if m.get("artifact_location"):
        raise InvalidInput(
            f"artifact_location {str(m['artifact_location'])[:200]!r} is not supported: this "
            "server keeps every experiment's artifacts in its own store (mlflow-artifacts:/<id>, "
            "under the server's artifact root); create the experiment without it",
            field="artifact_location",
        )
    tags = wire.key_values(m, "tags")
    exp = await run_in_threadpool(svc.create_experiment, name, "", tags)
    await run_in_threadpool(permissions.made, request, Kind.EXPERIMENT, str(exp.id))
    return JSONOut({"experiment_id": str(exp.id)})


@router.get("/get")
async def get(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    exp_id = wire.experiment_id(wire.required(m, "experiment_id"))
    exp = await run_in_threadpool(svc.get_experiment, exp_id)
    return JSONOut({"experiment": wire.experiment_json(exp)})


@router.get("/get-by-name")
async def get_by_name(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    name = str(wire.required(m, "experiment_name"))
    exp = await run_in_threadpool(svc.get_experiment_by_name, name)
    return JSONOut({"experiment": wire.experiment_json(exp)})


@router.get("/search")
@router.post("/search")
async def search(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    max_results = wire.integer(m, "max_results", 1000)
    assert max_results is not None
    if max_results < 1:
        raise InvalidInput("max_results must be a positive integer", field="max_results")
    readable = await run_in_threadpool(permissions.readable, request, Kind.EXPERIMENT)
    found, token = await run_in_threadpool(
        svc.search_experiments,
        wire.text(m, "filter"),
        wire.strings(m, "order_by"),
        view_type(m, "view_type"),
        min(max_results, MAX_SEARCH_RESULTS),  # more come as pages
        wire.text(m, "page_token"),
        readable,
    )
    out: dict[str, object] = {"experiments": [wire.experiment_json(e) for e in found]}
    if token:
        out["next_page_token"] = token
    return JSONOut(out)


@router.post("/update")
async def update(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    exp_id = wire.experiment_id(wire.required(m, "experiment_id"))
    await run_in_threadpool(svc.update_experiment, exp_id, name=wire.text(m, "new_name"))
    return JSONOut({})


@router.post("/delete")
async def delete(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    exp_id = wire.experiment_id(wire.required(m, "experiment_id"))
    await run_in_threadpool(svc.delete_experiment, exp_id)
    return JSONOut({})


@router.post("/restore")
async def restore(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    exp_id = wire.experiment_id(wire.required(m, "experiment_id"))
    await run_in_threadpool(svc.restore_experiment, exp_id)
    return JSONOut({})


@router.post("/set-experiment-tag")
async def set_tag(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    exp_id = wire.experiment_id(wire.required(m, "experiment_id"))
    key, value = wire.required(m, "key"), m.get("value", "")
    await run_in_threadpool(svc.set_experiment_tag, exp_id, key, value)
    return JSONOut({})


@router.post("/delete-experiment-tag")
async def delete_tag(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    exp_id = wire.experiment_id(wire.required(m, "experiment_id"))
    await run_in_threadpool(svc.delete_experiment_tag, exp_id, wire.required(m, "key"))
    return JSONOut({})
