"""MLflow 3's logged models (``/api/2.0/mlflow/logged-models``) and run outputs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind
from modelyard.errors import InvalidInput
from modelyard.registry.service import RegistryService
from modelyard.server import permissions
from modelyard.server.deps import registry
from modelyard.server.mlflow import wire
from modelyard.server.responses import JSONOut

router = APIRouter()


def _order_by(items: Any) -> list[str]:
    """``[{"field_name": f, "ascending": b}]`` as order-by clauses."""
    out = []
    for item in items or []:
        if isinstance(item, str):
            out.append(item)
            continue
        if not isinstance(item, dict) or not item.get("field_name"):
            raise InvalidInput("order_by entries need a field_name", field="order_by")
        direction = "ASC" if item.get("ascending", True) else "DESC"
        out.append(f"{item['field_name']} {direction}")
    return out


def _datasets(items: Any) -> list[tuple[str, str | None]] | None:
    """``[{"dataset_name": n, "dataset_digest": d?}]``: metrics measured on these only."""
    if not items:
        return None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput("datasets must be a list of {dataset_name, dataset_digest}")
    out = []
    for item in items:
        name = item.get("dataset_name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("`dataset_name` in the `datasets` clause must be specified.")
        digest = item.get("dataset_digest")
        out.append((name, str(digest) if digest else None))
    return out


@router.post("/logged-models")
async def create(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    m = await wire.fields(request)
    model = await run_in_threadpool(
        lambda: reg.create_logged_model(
            wire.experiment_id(wire.required(m, "experiment_id")),
            str(m.get("name") or "model"),
            run_id=m.get("source_run_id") or None,
            model_type=str(m.get("model_type") or ""),
            params=wire.key_values(m, "params"),
            tags=wire.key_values(m, "tags"),
        )
    )
    return JSONOut({"model": wire.logged_model_json(model)})


@router.post("/logged-models/search")
async def search(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    m = await wire.fields(request)
    ids = [wire.experiment_id(e) for e in wire.strings(m, "experiment_ids")]
    readable = await run_in_threadpool(permissions.readable, request, Kind.EXPERIMENT)
    found, token = await run_in_threadpool(
        lambda: reg.search_logged_models(
            ids or None,
            wire.text(m, "filter"),
            _order_by(m.get("order_by")),
            wire.integer(m, "max_results", 100) or 100,
            wire.text(m, "page_token"),
            readable,
            datasets=_datasets(m.get("datasets")),
        )
    )
    out: dict[str, Any] = {"models": [wire.logged_model_json(x) for x in found]}
    if token:
        out["next_page_token"] = token
    return JSONOut(out)


@router.get("/logged-models/{model_id}")
async def get(model_id: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    model = await run_in_threadpool(reg.get_logged_model, model_id)
    return JSONOut({"model": wire.logged_model_json(model)})


@router.patch("/logged-models/{model_id}")
async def finalize(
    model_id: str, request: Request, reg: RegistryService = Depends(registry)
) -> JSONOut:
    m = await wire.fields(request)
    status = wire.logged_status(wire.required(m, "status"))
    model = await run_in_threadpool(lambda: reg.update_logged_model(model_id, status=status))
    return JSONOut({"model": wire.logged_model_json(model)})


@router.delete("/logged-models/{model_id}")
async def delete(model_id: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    await run_in_threadpool(reg.delete_logged_model, model_id)
    return JSONOut({})


@router.patch("/logged-models/{model_id}/tags")
async def set_tags(
    model_id: str, request: Request, reg: RegistryService = Depends(registry)
) -> JSONOut:
    m = await wire.fields(request)
    tags = wire.key_values(m, "tags")
    model = await run_in_threadpool(lambda: reg.update_logged_model(model_id, tags=tags))
    return JSONOut({"model": wire.logged_model_json(model)})


@router.delete("/logged-models/{model_id}/tags/{key:path}")
async def delete_tag(model_id: str, key: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    await run_in_threadpool(lambda: reg.update_logged_model(model_id, deleted_tag=key))
    return JSONOut({})


@router.post("/logged-models/{model_id}/params")
async def log_params(
    model_id: str, request: Request, reg: RegistryService = Depends(registry)
) -> JSONOut:
    m = await wire.fields(request)
    params = wire.key_values(m, "params")
    await run_in_threadpool(lambda: reg.update_logged_model(model_id, params=params))
    return JSONOut({})


@router.post("/runs/outputs")
async def log_outputs(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    """A run declares the models it produced; each must be a logged model of that run."""
    m = await wire.fields(request)
    run_id = wire.run_id(m)
    models = m.get("models") or []
    if not isinstance(models, list):
        raise InvalidInput("'models' must be a list", field="models")

    produced = [
        (str(wire.required(item, "model_id")), wire.integer(item, "step", 0) or 0)
        if isinstance(item, dict)
        else _not_a_model()
        for item in models
    ]
    await run_in_threadpool(reg.link_run_models, run_id, produced, "output")
    return JSONOut({})


def _not_a_model() -> tuple[str, int]:
    raise InvalidInput("each entry of 'models' is an object with a model_id", field="models")
