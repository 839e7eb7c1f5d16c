"""/api/v1/models: the registry (registered models, versions, aliases, history)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind, Role
from modelyard.registry.entities import ModelVersion, RegisteredModel
from modelyard.registry.service import RegistryService, parse_stage
from modelyard.server import permissions
from modelyard.server.audit import note_changes
from modelyard.server.deps import registry
from modelyard.server.identity import Identity, identify
from modelyard.server.registry_schemas import (
    LoggedModelRegisterIn,
    ModelUpdateIn,
    RunModelIn,
    TagReasonIn,
)
from modelyard.server.responses import JSONOut
from modelyard.server.run_access import require_runs
from modelyard.server.schemas import AliasIn, CardIn, PackageIn, ReasonIn, VersionUpdateIn
from modelyard.tracking.run_labels import run_names
from modelyard.wire import files_json, model_json, version_json

router = APIRouter(prefix="/models", tags=["registry"])


@router.get("")
async def list_models(
    request: Request,
    filter: str | None = None,
    max_results: int = 100,
    page_token: str | None = None,
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    """The models the caller may read that match ``filter``, one page at a time."""
    readable = await run_in_threadpool(permissions.readable, request, Kind.MODEL)
    found, token = await run_in_threadpool(
        reg.search_models, filter, None, max_results, page_token, readable
    )
    return JSONOut({"models": [model_json(m) for m in found], "next_page_token": token})


@router.get("/{name}")
async def get_model(name: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    return JSONOut(model_json(await run_in_threadpool(reg.get_model, name)))


@router.get("/{name}/versions")
async def list_versions(
    name: str, request: Request, reg: RegistryService = Depends(registry)
) -> JSONOut:
    """Every version of the model, newest first, each with its run's name (when the caller may
    read the run's experiment; else the run id alone)."""

    def job() -> list[dict[str, Any]]:
        found = reg.versions(name)
        readable = permissions.readable(request, Kind.EXPERIMENT)
        names = run_names(reg.db, (v.run_id for v in found), readable)
        return [{**version_json(v), "run_name": names.get(v.run_id or "")} for v in found]

    return JSONOut({"versions": await run_in_threadpool(job)})


@router.get("/{name}/versions/{version}")
async def get_version(name: str, version: int, reg: RegistryService = Depends(registry)) -> JSONOut:
    return JSONOut(version_json(await run_in_threadpool(reg.get_version, name, version)))


@router.get("/{name}/aliases/{alias}")
async def get_by_alias(
    name: str, alias: str, files: bool = False, reg: RegistryService = Depends(registry)
) -> JSONOut:
    """The version an alias names (``latest`` and ``v<n>`` too); ``files`` adds its file list."""

    def job() -> dict[str, Any]:
        found = reg.version_by_alias(name, alias)
        out = version_json(found)
        if files:
            out["files"] = files_json(reg.version_artifacts(found))
        return out

    return JSONOut(await run_in_threadpool(job))


@router.get("/{name}/history")
async def history(name: str, reg: RegistryService = Depends(registry)) -> JSONOut:
    """Every change to the model, oldest first: who, when, what (kept after deletion)."""
    return JSONOut([asdict(e) for e in await run_in_threadpool(reg.history, name)])


@router.post("/{name}/versions", status_code=201)
async def register(
    name: str,
    body: PackageIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """A new version from uploaded blobs forming a modelyard package (see ``/blobs``); the
    first makes the model, and its creator its maintainer. A run named must be readable."""
    new = permissions.created(request)

    def job() -> ModelVersion:
        if body.run_id is not None:
            require_runs(request, [body.run_id])
        found = reg.register_package(
            name,
            body.files,
            run_id=body.run_id,
            description=body.description,
            tags=body.tags,
            user=who.name,
            create_only=new,
        )
        if new:
            permissions.made(request, Kind.MODEL, found.name)
        return found

    return JSONOut(version_json(await run_in_threadpool(job)), status_code=201)


@router.patch("/{name}/versions/{version}")
async def update_version(
    name: str,
    version: int,
    body: VersionUpdateIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Change the description or the stage (``archive_others`` archives the stage's others;
    a stage needs the maintainer role)."""
    stage = parse_stage(body.stage) if body.stage is not None else None
    if stage is not None:
        await run_in_threadpool(permissions.require, request, Kind.MODEL, name, Role.MAINTAINER)

    def job() -> ModelVersion:
        return reg.edit_version(
            name,
            version,
            description=body.description,
            stage=stage,
            archive_others=body.archive_others,
            user=who.name,
            reason=body.reason,
        )

    found = await run_in_threadpool(job)
    note_changes(request, version=version, stage=body.stage, reason=body.reason)
    return JSONOut(version_json(found))


@router.patch("/{name}")
async def update_model(
    name: str,
    body: ModelUpdateIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Change the model's description (recorded in its history with the reason)."""

    def job() -> RegisteredModel:
        return reg.edit_model(name, description=body.description, user=who.name, reason=body.reason)

    found = await run_in_threadpool(job)
    note_changes(request, reason=body.reason)
    return JSONOut(model_json(found))


@router.put("/{name}/tags/{key:path}")
async def set_model_tag(
    name: str,
    key: str,
    body: TagReasonIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Set one tag of the model (recorded in its history with the reason)."""

    def job() -> RegisteredModel:
        return reg.edit_model(name, tags={key: body.value}, user=who.name, reason=body.reason)

    found = await run_in_threadpool(job)
    note_changes(request, key=key, reason=body.reason)
    return JSONOut(model_json(found))


@router.delete("/{name}/tags/{key:path}")
async def delete_model_tag(
    name: str,
    key: str,
    request: Request,
    reason: str = "",
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    def job() -> RegisteredModel:
        return reg.edit_model(name, deleted_tag=key, user=who.name, reason=reason)

    found = await run_in_threadpool(job)
    note_changes(request, key=key, reason=reason)
    return JSONOut(model_json(found))


@router.put("/{name}/versions/{version}/tags/{key:path}")
async def set_version_tag(
    name: str,
    version: int,
    key: str,
    body: TagReasonIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Set one tag of a version (recorded in the model's history with the reason)."""

    def job() -> ModelVersion:
        return reg.edit_version(
            name, version, tags={key: body.value}, user=who.name, reason=body.reason
        )

    found = await run_in_threadpool(job)
    note_changes(request, version=version, key=key, reason=body.reason)
    return JSONOut(version_json(found))


@router.delete("/{name}/versions/{version}/tags/{key:path}")
async def delete_version_tag(
    name: str,
    version: int,
    key: str,
    request: Request,
    reason: str = "",
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    def job() -> ModelVersion:
        return reg.edit_version(name, version, deleted_tag=key, user=who.name, reason=reason)

    found = await run_in_threadpool(job)
    note_changes(request, version=version, key=key, reason=reason)
    return JSONOut(version_json(found))


@router.post("/{name}/versions/from-run", status_code=201)
async def register_from_run(
    name: str,
    body: RunModelIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """A new version from a model folder in a run's artifacts (``MLmodel`` or a modelyard
    package); the first makes the model, and its creator its maintainer. Needs viewer on the
    run's experiment."""
    new = permissions.created(request)

    def job() -> ModelVersion:
        require_runs(request, [body.run_id])
        found = reg.register_run_model(
            name,
            body.run_id,
            body.path,
            user=who.name,
            description=body.description,
            create_only=new,
        )
        if new:
            permissions.made(request, Kind.MODEL, found.name)
        return found

    return JSONOut(version_json(await run_in_threadpool(job)), status_code=201)


@router.delete("/{name}/versions/{version}")
async def delete_version(
    name: str,
    version: int,
    request: Request,
    reason: str = "",
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    await run_in_threadpool(reg.delete_version, name, version, who.name, reason)
    note_changes(request, version=version, reason=reason)
    return JSONOut({})


@router.post("/{name}/versions/{version}/trust")
async def trust(
    name: str,
    version: int,
    body: ReasonIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Allow this version's package to load although its format runs code (recorded)."""
    found = await run_in_threadpool(reg.trust, name, version, who.name, body.reason)
    note_changes(request, version=version, reason=body.reason)
    return JSONOut(version_json(found))


@router.get("/{name}/versions/{version}/lineage")
async def lineage(
    name: str, version: int, request: Request, reg: RegistryService = Depends(registry)
) -> JSONOut:
    """Run, code commit, params, metrics and dataset versions behind this version (the
    datasets the caller may read)."""
    found = await run_in_threadpool(reg.lineage, name, version)
    readable = await run_in_threadpool(permissions.readable, request, Kind.DATASET)
    if readable is not None:
        found["datasets"] = [d for d in found["datasets"] if d["name"] in readable]
    return JSONOut(found)


@router.get("/{name}/versions/{version}/files")
async def version_files(
    name: str, version: int, reg: RegistryService = Depends(registry)
) -> JSONOut:
    def job() -> list[dict[str, Any]]:
        return files_json(reg.version_artifacts(reg.get_version(name, version)))

    return JSONOut(await run_in_threadpool(job))


@router.put("/{name}/aliases/{alias}")
async def set_alias(
    name: str,
    alias: str,
    body: AliasIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    await run_in_threadpool(reg.set_alias, name, alias, body.version, who.name, body.reason)
    note_changes(request, alias=alias, version=body.version, reason=body.reason)
    return JSONOut(version_json(await run_in_threadpool(reg.version_by_alias, name, alias)))


@router.delete("/{name}/aliases/{alias}")
async def delete_alias(
    name: str,
    alias: str,
    request: Request,
    reason: str = "",
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    await run_in_threadpool(reg.delete_alias, name, alias, who.name, reason)
    note_changes(request, alias=alias, reason=reason)
    return JSONOut({})


@router.post("/{name}/aliases/{alias}/rollback")
async def rollback_alias(
    name: str,
    alias: str,
    body: ReasonIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """Point the alias back at the version it named before its last move."""
    found = await run_in_threadpool(reg.rollback_alias, name, alias, who.name, body.reason)
    note_changes(request, alias=alias, reason=body.reason)
    return JSONOut(version_json(found))


@router.get("/{name}/aliases/{alias}/at")
async def alias_at(
    name: str, alias: str, time: int, reg: RegistryService = Depends(registry)
) -> JSONOut:
    """Which version the alias named at ``time`` (ms since the epoch); null if none."""
    return JSONOut({"version": await run_in_threadpool(reg.alias_at, name, alias, time)})


@router.put("/{name}/card")
async def set_card(
    name: str,
    body: CardIn,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """The model card (Markdown)."""
    return JSONOut(model_json(await run_in_threadpool(reg.set_card, name, body.card, who.name)))


@router.get("/{name}/compare")
async def compare(name: str, a: int, b: int, reg: RegistryService = Depends(registry)) -> JSONOut:
    """Params, metrics, signature and dependencies that differ between versions a and b."""
    return JSONOut(await run_in_threadpool(reg.compare, name, a, b))


@router.post("/{name}/versions/from-logged-model", status_code=201)
async def register_logged_model(
    name: str,
    body: LoggedModelRegisterIn,
    request: Request,
    reg: RegistryService = Depends(registry),
    who: Identity = Depends(identify),
) -> JSONOut:
    """A new version from an MLflow 3 logged model; the first makes the model, and its creator
    its maintainer. Needs viewer on the logged model's experiment."""
    new = permissions.created(request)

    def job() -> ModelVersion:
        exp = reg.get_logged_model(body.model_id).experiment_id
        permissions.require(request, Kind.EXPERIMENT, str(exp), Role.VIEWER)
        found = reg.register_logged_model(
            name, body.model_id, user=who.name, description=body.description, create_only=new
        )
        if new:
            permissions.made(request, Kind.MODEL, found.name)
        return found

    return JSONOut(version_json(await run_in_threadpool(job)), status_code=201)
