"""/api/v1/models: the registry (registered models, versions, aliases, history)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from modelyard.registry.entities import ModelVersion, RegisteredModel
from modelyard.registry.service import RegistryService
from modelyard.server.deps import registry
from modelyard.server.responses import JSONOut

router = APIRouter(prefix="/models", tags=["registry"])


def version_json(version: ModelVersion) -> dict[str, Any]:
    return {**asdict(version), "stage": version.stage.value}


def model_json(model: RegisteredModel) -> dict[str, Any]:
    out = asdict(model)
    out["latest"] = {stage.value: version_json(v) for stage, v in model.latest.items()}
    return out


@router.get("")
async def list_models(
    filter: str | None = None,
    max_results: int = 100,
    page_token: str | None = None,
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    found, token = await run_in_threadpool(reg.search_models, filter, None, max_results, page_token)
    return JSONOut({"models": [model_json(m) for m in found], "next_page_token": token})


@router.get("/{name}")
async def get_model(name: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    return JSONOut(model_json(await run_in_threadpool(reg.get_model, name)))


@router.get("/{name}/versions/{version}")
async def get_version(name: str, version: int, reg: RegistryService = Depends(registry)) -> JSONOut:
    return JSONOut(version_json(await run_in_threadpool(reg.get_version, name, version)))


@router.get("/{name}/aliases/{alias}")
async def get_by_alias(name: str, alias: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    return JSONOut(version_json(await run_in_threadpool(reg.version_by_alias, name, alias)))


@router.get("/{name}/history")
async def history(name: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    """Every change to the model, oldest first: who, when, what (kept after deletion)."""
    return JSONOut([asdict(e) for e in await run_in_threadpool(reg.history, name)])
