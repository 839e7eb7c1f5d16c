"""MLflow's proxied artifact API (``/api/2.0/mlflow-artifacts/artifacts/<path>``).

A run's MLflow artifact URI is ``mlflow-artifacts:/<experiment>/<run>/artifacts`` and a logged
model's ``mlflow-artifacts:/<experiment>/models/<model id>/artifacts`` (a trace's: ``.../traces/<trace
id>/artifacts``); paths under them map onto
their artifacts in modelyard's store, through the same safe-path function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.registry.service import RegistryService
from modelyard.server.deps import registry, tracking
from modelyard.server.guard import BINARY_UPLOAD
from modelyard.server.responses import JSONOut, file_response, spool_body
from modelyard.store.artifacts.area import ArtifactArea
from modelyard.tracking import trace_data
from modelyard.tracking.service import TrackingService
from modelyard.tracking.traces import Traces, check_upload_size
from modelyard.tracking.validation import RUN_ID, plain_int

router = APIRouter(prefix="/artifacts")


@dataclass(frozen=True, slots=True)
class Location:
    area: ArtifactArea  # a run's or a logged model's artifacts, or a version's snapshot
    path: str  # inside them ("" for their root)
    read_only: bool = False
    max_bytes: int | None = None  # the largest file that may be uploaded here

    def writable(self) -> Location:
        if self.read_only:
            raise InvalidState("a registered model version's files cannot change")
        return self


def locate(
    svc: TrackingService, reg: RegistryService, path: str, *, allow_root: bool
) -> Location | None:
    """``<exp>/<run>/artifacts[/<path>]`` or ``<exp>/models/<model>/artifacts[/<path>]``.

    Returns None for a location above an owner's artifacts (there is nothing to list there).
    """
    bad = InvalidInput(
        f"Invalid path {path!r}: expected <experiment>/<run>/artifacts/<path> or "
        "<experiment>/models/<model id>/artifacts/<path>"
    )
    parts = path.strip("/").split("/")
    if parts[0] == "versions":  # a registered version's files: read-only
        if len(parts) < 4 or parts[3] != "artifacts":
            raise bad
        inner = "/".join(parts[4:])
        area = reg.snapshot_artifacts(
            plain_int(parts[1], "model id"), plain_int(parts[2], "version")
        )
        area.key(inner, allow_empty=True)
        return Location(area, inner, read_only=True)
    if len(parts) < 3 or (parts[1] == "models" and len(parts) < 4):
        if allow_root:
            return None
        raise bad
    exp = parts[0]
    if parts[1] == "traces":  # a trace's files: <exp>/traces/<trace id>/artifacts/...
        if len(parts) < 4:
            if allow_root:
                return None
            raise bad
        if parts[3] != "artifacts":
            raise bad
        plain_int(exp, "experiment id")
        inner = "/".join(parts[4:])
        if not inner and not allow_root:
            raise InvalidInput(f"Invalid path {path!r}: it names a folder, not a file")
        trace = Traces(svc.db, svc.artifacts).get(parts[2])
        if str(trace.experiment_id) != exp:
            raise NotFound(f"{trace.id} is not in experiment {exp}", path=path)
        area = ArtifactArea(svc.artifacts, trace.artifact_prefix)
        area.key(inner, allow_empty=True)
        return Location(area, inner, max_bytes=trace_data.MAX_SPAN_DATA_BYTES)
    if parts[1] == "models":
        owner, rest = parts[2], parts[3:]
    else:
        owner, rest = parts[1], parts[2:]
    if rest[0] != "artifacts":
        raise bad
    plain_int(exp, "experiment id")
    inner = "/".join(rest[1:])
    if not inner and not allow_root:
        raise InvalidInput(f"Invalid path {path!r}: it names a folder, not a file")
    if parts[1] == "models":
        model = reg.get_logged_model(owner)
        where = model.experiment_id
        area = reg.model_artifacts(owner)
    else:
        if not RUN_ID.match(owner):
            raise bad
        where = svc.get_run(owner).experiment_id
        area = svc.run_artifacts(owner)
    if str(where) != exp:
        raise NotFound(f"{owner} is not in experiment {exp}", path=path)
    area.key(inner, allow_empty=True)  # refuse a bad path before touching storage
    return Location(area, inner)


@router.get("")
async def list_artifacts(
    request: Request,
    svc: TrackingService = Depends(tracking),
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    folder = request.query_params.get("path", "")

    def job() -> list[dict[str, Any]]:
        where = locate(svc, reg, folder, allow_root=True)
        if where is None:
            return []
        files = []
        for info in where.area.list(where.path):
            entry: dict[str, Any] = {"path": info.path.rsplit("/", 1)[-1], "is_dir": info.is_dir}
            if not info.is_dir and info.size is not None:
                entry["file_size"] = info.size
            files.append(entry)
        return files

    files = await run_in_threadpool(job)
    return JSONOut({"files": files} if files else {})


@router.put("/{path:path}", openapi_extra=BINARY_UPLOAD)
async def upload(
    path: str,
    request: Request,
    svc: TrackingService = Depends(tracking),
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    where = await run_in_threadpool(locate, svc, reg, path, allow_root=False)
    assert where is not None
    where.writable()
    with await spool_body(request) as spool:
        if where.max_bytes is not None:
            check_upload_size(spool.seek(0, 2))
            spool.seek(0)
        await run_in_threadpool(where.area.put, where.path, spool)
    return JSONOut({})


@router.get("/{path:path}")
async def download(
    path: str,
    svc: TrackingService = Depends(tracking),
    reg: RegistryService = Depends(registry),
) -> StreamingResponse:
    where = await run_in_threadpool(locate, svc, reg, path, allow_root=False)
    assert where is not None
    handle = await run_in_threadpool(where.area.open, where.path)
    return file_response(handle, where.path)


@router.delete("/{path:path}")
async def delete(
    path: str,
    svc: TrackingService = Depends(tracking),
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    where = await run_in_threadpool(locate, svc, reg, path, allow_root=False)
    assert where is not None
    await run_in_threadpool(where.writable().area.delete, where.path)
    return JSONOut({})
