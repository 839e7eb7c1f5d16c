"""/api/v1/datasets: immutable dataset versions (files, schema, profile) and run lineage."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind, Role
from modelyard.datasets.entities import DatasetUse, DatasetVersion
from modelyard.datasets.service import DatasetsService
from modelyard.server import permissions
from modelyard.server.deps import datasets, tracking
from modelyard.server.identity import Identity, identify
from modelyard.server.responses import JSONOut
from modelyard.server.schemas import DatasetUseIn, DatasetVersionIn
from modelyard.tracking.service import TrackingService
from modelyard.tracking.validation import plain_int
from modelyard.wire import use_json

router = APIRouter(tags=["datasets"])


@router.get("/datasets")
async def list_datasets(request: Request, svc: DatasetsService = Depends(datasets)) -> JSONOut:
    """The datasets the caller may read."""
    readable = await run_in_threadpool(permissions.readable, request, Kind.DATASET)
    return JSONOut([asdict(d) for d in await run_in_threadpool(svc.all, readable)])


@router.post("/datasets/{name}/versions")
async def register(
    name: str,
    body: DatasetVersionIn,
    request: Request,
    svc: DatasetsService = Depends(datasets),
    who: Identity = Depends(identify),
) -> JSONOut:
    """A new version from uploaded blobs; 200 with the existing version for the same content.
    The first version makes the dataset, and its creator its maintainer."""
    new = permissions.created(request)

    def job() -> tuple[DatasetVersion, bool]:
        found = svc.register(
            name,
            body.files,
            source=body.source,
            num_rows=body.num_rows,
            schema=body.schema_,
            profile=body.profile,
            description=body.description,
            tags=body.tags,
            user=who.name,
            create_only=new,
        )
        if new:
            permissions.made(request, Kind.DATASET, found[0].name)
        return found

    version, created = await run_in_threadpool(job)
    return JSONOut({**asdict(version), "created": created}, status_code=201 if created else 200)


@router.get("/datasets/{name}/versions")
async def versions(name: str, svc: DatasetsService = Depends(datasets)) -> JSONOut:
    return JSONOut([asdict(v) for v in await run_in_threadpool(svc.versions, name)])


@router.get("/datasets/{name}/versions/{version}")
async def get_version(
    name: str, version: str, files: bool = False, svc: DatasetsService = Depends(datasets)
) -> JSONOut:
    """A version by number, or ``latest``; ``files`` adds its file list."""

    def job() -> dict[str, Any]:
        number = None if version == "latest" else _number(version)
        found = svc.get_version(name, number)
        out = asdict(found)
        if files:
            out["files"] = [
                {"path": f.key, "digest": f.digest, "size": f.size}
                for f in svc.files(name, found.version).files()
            ]
        return out

    return JSONOut(await run_in_threadpool(job))


@router.delete("/datasets/{name}/versions/{version}")
async def delete_version(
    name: str, version: int, svc: DatasetsService = Depends(datasets)
) -> JSONOut:
    """Release the version's files; `modelyard gc` removes them after the grace."""
    return JSONOut(asdict(await run_in_threadpool(svc.delete_version, name, version)))


@router.get("/datasets/{name}/runs")
async def runs_of(
    name: str,
    request: Request,
    svc: DatasetsService = Depends(datasets),
    runs: TrackingService = Depends(tracking),
) -> JSONOut:
    """Which runs read or wrote which versions of this dataset (runs the caller may read)."""

    def job() -> list[DatasetUse]:
        uses = svc.uses(name=name)
        readable = permissions.readable(request, Kind.EXPERIMENT)
        if readable is None:
            return uses
        owners = runs.experiments_of([u.run_id for u in uses])
        return [u for u in uses if str(owners.get(u.run_id)) in readable]

    return JSONOut([use_json(u) for u in await run_in_threadpool(job)])


@router.post("/runs/{run_id}/datasets", status_code=201)
async def log_use(
    run_id: str, body: DatasetUseIn, request: Request, svc: DatasetsService = Depends(datasets)
) -> JSONOut:
    """Record that the run read (input) or wrote (output) a dataset version (one the caller
    may read)."""

    def job() -> DatasetUse:
        permissions.require(request, Kind.DATASET, body.name, Role.VIEWER)
        return svc.log_use(run_id, body.name, body.version, body.direction, body.context)

    return JSONOut(use_json(await run_in_threadpool(job)), status_code=201)


@router.get("/runs/{run_id}/datasets")
async def uses_of_run(
    run_id: str, request: Request, svc: DatasetsService = Depends(datasets)
) -> JSONOut:
    """The dataset versions the run read or wrote (of the datasets the caller may read)."""
    readable = await run_in_threadpool(permissions.readable, request, Kind.DATASET)
    found = await run_in_threadpool(lambda: svc.uses(run_ids=[run_id]))
    return JSONOut([use_json(u) for u in found if readable is None or u.name in readable])


def _number(raw: str) -> int:
    return plain_int(raw, "version (a number or 'latest')")
