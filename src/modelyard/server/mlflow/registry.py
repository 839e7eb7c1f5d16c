"""MLflow's model registry API (``registered-models/*``, ``model-versions/*``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind, Role
from modelyard.errors import InvalidInput
from modelyard.registry.entities import ModelVersion, RegisteredModel
from modelyard.registry.service import RegistryService, parse_stage
from modelyard.registry.versions import version_source
from modelyard.server import permissions
from modelyard.server.deps import registry, tracking
from modelyard.server.identity import Identity, identify
from modelyard.server.mlflow import wire
from modelyard.server.responses import JSONOut
from modelyard.tracking.service import TrackingService

router = APIRouter()


def _name(m: dict[str, Any]) -> str:
    return str(wire.required(m, "name"))


def _version(m: dict[str, Any]) -> int:
    value = wire.integer(m, "version")
    if value is None:
        raise InvalidInput("Missing value for required parameter 'version'.", field="version")
    return value


def _page(key: str, items: list[dict[str, Any]], token: str | None) -> JSONOut:
    out: dict[str, Any] = {key: items}
    if token:
        out["next_page_token"] = token
    return JSONOut(out)


# -- registered models
@router.post("/registered-models/create")
async def create_model(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    """A new registered model; its creator becomes its maintainer."""
    m = await wire.fields(request)

    def job() -> RegisteredModel:
        model = reg.create_model(
            _name(m),
            description=str(m.get("description") or ""),
            tags=wire.key_values(m, "tags"),
            user=identity.name,
        )
        permissions.made(request, Kind.MODEL, model.name)
        return model

    model = await run_in_threadpool(job)
    return JSONOut({"registered_model": wire.registered_model_json(model)})


@router.get("/registered-models/get")
async def get_model(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    m = await wire.fields(request)
    model = await run_in_threadpool(reg.get_model, _name(m))
    return JSONOut({"registered_model": wire.registered_model_json(model)})


@router.post("/registered-models/rename")
async def rename_model(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    """A new name; the grants on the model follow it."""
    m = await wire.fields(request)
    new_name = str(wire.required(m, "new_name"))

    def job() -> RegisteredModel:
        old = _name(m)
        model = reg.update_model(old, new_name=new_name, user=identity.name)
        permissions.moved(request, Kind.MODEL, old, model.name)
        return model

    model = await run_in_threadpool(job)
    return JSONOut({"registered_model": wire.registered_model_json(model)})


@router.patch("/registered-models/update")
async def update_model(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    model = await run_in_threadpool(
        lambda: reg.update_model(
            _name(m), description=str(m.get("description") or ""), user=identity.name
        )
    )
    return JSONOut({"registered_model": wire.registered_model_json(model)})


@router.delete("/registered-models/delete")
async def delete_model(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    """Delete the model; its grants go too (a later namesake starts without them)."""
    m = await wire.fields(request)

    def job() -> None:
        reg.delete_model(_name(m), identity.name)
        permissions.forget(request, Kind.MODEL, _name(m))

    await run_in_threadpool(job)
    return JSONOut({})


@router.get("/registered-models/search")
async def search_models(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    """The models the caller may read that match."""
    m = await wire.fields(request)
    readable = await run_in_threadpool(permissions.readable, request, Kind.MODEL)
    found, token = await run_in_threadpool(
        reg.search_models,
        wire.text(m, "filter"),
        wire.strings(m, "order_by"),
        wire.integer(m, "max_results", 100) or 100,
        wire.text(m, "page_token"),
        readable,
    )
    return _page("registered_models", [wire.registered_model_json(x) for x in found], token)


@router.get("/registered-models/get-latest-versions")
@router.post("/registered-models/get-latest-versions")
async def latest_versions(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    m = await wire.fields(request)
    found = await run_in_threadpool(reg.latest_versions, _name(m), wire.strings(m, "stages"))
    return JSONOut({"model_versions": [wire.version_json(x) for x in found]})


@router.post("/registered-models/set-tag")
async def set_model_tag(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    tags = {str(wire.required(m, "key")): str(m.get("value") or "")}
    await run_in_threadpool(lambda: reg.update_model(_name(m), tags=tags, user=identity.name))
    return JSONOut({})


@router.delete("/registered-models/delete-tag")
async def delete_model_tag(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    key = str(wire.required(m, "key"))
    await run_in_threadpool(lambda: reg.update_model(_name(m), deleted_tag=key, user=identity.name))
    return JSONOut({})


@router.post("/registered-models/alias")
async def set_alias(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    alias = str(wire.required(m, "alias"))
    await run_in_threadpool(reg.set_alias, _name(m), alias, _version(m), identity.name)
    return JSONOut({})


@router.delete("/registered-models/alias")
async def delete_alias(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    alias = str(wire.required(m, "alias"))
    await run_in_threadpool(reg.delete_alias, _name(m), alias, identity.name)
    return JSONOut({})


@router.get("/registered-models/alias")
async def get_by_alias(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    m = await wire.fields(request)
    alias = str(wire.required(m, "alias"))
    found = await run_in_threadpool(reg.version_by_alias, _name(m), alias)
    return JSONOut({"model_version": wire.version_json(found)})


# -- versions
@router.post("/model-versions/create")
async def create_version(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    """A version of a run's or a logged model's files (viewer on their experiment too)."""
    m = await wire.fields(request)

    def job() -> ModelVersion:
        source = str(wire.required(m, "source"))
        run_id, model_id = m.get("run_id") or None, m.get("model_id") or None
        if (copied := version_source(source)) is not None:  # copy_model_version
            permissions.require(request, Kind.MODEL, copied[0], Role.VIEWER)
        for exp in reg.source_experiments(source, run_id=run_id, logged_model_id=model_id):
            permissions.require(request, Kind.EXPERIMENT, str(exp), Role.VIEWER)
        return reg.create_version(
            _name(m),
            source,
            run_id=run_id,
            logged_model_id=model_id,
            description=str(m.get("description") or ""),
            tags=wire.key_values(m, "tags"),
            user=identity.name,
        )

    version = await run_in_threadpool(job)
    return JSONOut({"model_version": wire.version_json(version)})


@router.get("/model-versions/get")
async def get_version(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    m = await wire.fields(request)
    version = await run_in_threadpool(reg.get_version, _name(m), _version(m))
    return JSONOut({"model_version": wire.version_json(version)})


@router.patch("/model-versions/update")
async def update_version(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    version = await run_in_threadpool(
        lambda: reg.update_version(
            _name(m), _version(m), description=str(m.get("description") or ""), user=identity.name
        )
    )
    return JSONOut({"model_version": wire.version_json(version)})


@router.post("/model-versions/transition-stage")
async def transition_stage(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    stage = parse_stage(str(wire.required(m, "stage")))
    archive = str(m.get("archive_existing_versions", False)).lower() == "true"
    version = await run_in_threadpool(
        lambda: reg.update_version(
            _name(m), _version(m), stage=stage, archive_others=archive, user=identity.name
        )
    )
    return JSONOut({"model_version": wire.version_json(version)})


@router.delete("/model-versions/delete")
async def delete_version(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    await run_in_threadpool(reg.delete_version, _name(m), _version(m), identity.name)
    return JSONOut({})


@router.get("/model-versions/search")
async def search_versions(request: Request, reg: RegistryService = Depends(registry)) -> JSONOut:
    """The versions of the models the caller may read that match."""
    m = await wire.fields(request)
    readable = await run_in_threadpool(permissions.readable, request, Kind.MODEL)
    found, token = await run_in_threadpool(
        reg.search_versions,
        wire.text(m, "filter"),
        wire.strings(m, "order_by"),
        wire.integer(m, "max_results", 10_000) or 10_000,
        wire.text(m, "page_token"),
        readable,
    )
    return _page("model_versions", [wire.version_json(x) for x in found], token)


def download_uri(version: ModelVersion, svc: TrackingService, reg: RegistryService) -> str:
    """Where the client downloads a version's files: its own snapshot, else its source's."""
    if version.artifact_prefix.startswith("versions/"):
        return f"mlflow-artifacts:/{version.artifact_prefix}/artifacts"
    if version.logged_model_id and version.artifact_prefix.startswith("models/"):
        model = reg.get_logged_model(version.logged_model_id)
        return f"mlflow-artifacts:/{model.experiment_id}/models/{model.id}/artifacts"
    run_id, _, path = version.artifact_prefix.removeprefix("runs/").partition("/")
    run = svc.get_run(run_id)
    return f"{wire.artifact_uri(run)}/{path}".rstrip("/")


@router.get("/model-versions/get-download-uri")
async def get_download_uri(
    request: Request,
    svc: TrackingService = Depends(tracking),
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    m = await wire.fields(request)
    version = await run_in_threadpool(reg.get_version, _name(m), _version(m))
    uri = await run_in_threadpool(download_uri, version, svc, reg)
    return JSONOut({"artifact_uri": uri})


@router.post("/model-versions/set-tag")
async def set_version_tag(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    tags = {str(wire.required(m, "key")): str(m.get("value") or "")}
    await run_in_threadpool(
        lambda: reg.update_version(_name(m), _version(m), tags=tags, user=identity.name)
    )
    return JSONOut({})


@router.delete("/model-versions/delete-tag")
async def delete_version_tag(
    request: Request,
    reg: RegistryService = Depends(registry),
    identity: Identity = Depends(identify),
) -> JSONOut:
    m = await wire.fields(request)
    key = str(wire.required(m, "key"))
    await run_in_threadpool(
        lambda: reg.update_version(_name(m), _version(m), deleted_tag=key, user=identity.name)
    )
    return JSONOut({})
