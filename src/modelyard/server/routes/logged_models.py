"""/api/v1 reads of logged models (MLflow 3's models of a run, before or without registration)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind
from modelyard.registry.entities import LoggedModel
from modelyard.registry.service import RegistryService
from modelyard.server import permissions
from modelyard.server.deps import registry, tracking
from modelyard.server.responses import JSONOut
from modelyard.tracking.run_labels import run_names
from modelyard.tracking.service import TrackingService

router = APIRouter(tags=["logged models"])
MAX_PAGE = 1000


def logged_model_json(model: LoggedModel, run_names: dict[str, str]) -> dict[str, Any]:
    """A logged model with its run's name, params, tags and every metric point."""
    return {
        "id": model.id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "run_id": model.run_id,
        "run_name": run_names.get(model.run_id or ""),
        "status": model.status.value,
        "status_message": model.status_message,
        "model_type": model.model_type,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "params": model.params,
        "tags": model.tags,
        "metrics": [p.to_json() for p in model.metrics],
    }


@router.get("/experiments/{experiment_id}/logged-models")
async def experiment_models(
    experiment_id: int,
    filter: str | None = None,
    order_by: list[str] = Query(default_factory=list),
    max_results: int = 100,
    page_token: str | None = None,
    reg: RegistryService = Depends(registry),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """The experiment's logged models that match ``filter`` (MLflow's logged-model grammar:
    ``name``, ``status``, ``params.x``, ``metrics.y``, ``tags.z``), newest first unless
    ordered, one page at a time."""

    def job() -> dict[str, Any]:
        svc.get_experiment(experiment_id)
        found, token = reg.search_logged_models(
            [experiment_id], filter, order_by, min(max_results, MAX_PAGE), page_token
        )
        names = run_names(svc.db, (m.run_id for m in found))
        return {
            "models": [logged_model_json(m, names) for m in found],
            "next_page_token": token,
        }

    return JSONOut(await run_in_threadpool(job))


@router.get("/logged-models/{model_id}")
async def get_logged_model(
    model_id: str,
    reg: RegistryService = Depends(registry),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    def job() -> dict[str, Any]:
        model = reg.get_logged_model(model_id)
        return logged_model_json(model, run_names(svc.db, [model.run_id]))

    return JSONOut(await run_in_threadpool(job))


@router.get("/runs/{run_id}/logged-models")
async def run_models(
    run_id: str,
    request: Request,
    reg: RegistryService = Depends(registry),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """The models the run logged (``outputs``) and the ones it read (``inputs``; those of
    experiments the caller may read)."""

    def job() -> dict[str, Any]:
        outputs, inputs = reg.models_of_run(run_id)
        readable = permissions.readable(request, Kind.EXPERIMENT)
        if readable is not None:
            inputs = [m for m in inputs if str(m.experiment_id) in readable]
            outputs = [m for m in outputs if str(m.experiment_id) in readable]
        names = run_names(svc.db, (m.run_id for m in (*outputs, *inputs)))
        return {
            "outputs": [logged_model_json(m, names) for m in outputs],
            "inputs": [logged_model_json(m, names) for m in inputs],
        }

    return JSONOut(await run_in_threadpool(job))
