"""MLflow's proxied artifact API (``/api/2.0/mlflow-artifacts/artifacts/<path>``).

A run's MLflow artifact URI is ``mlflow-artifacts:/<experiment>/<run>/artifacts``; paths under it
map onto the run's artifacts in modelyard's store, through the same safe-path function.
"""

from __future__ import annotations

import mimetypes
import tempfile
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from modelyard.errors import InvalidInput, NotFound
from modelyard.server.deps import tracking
from modelyard.server.responses import JSONOut
from modelyard.server.routes.artifacts import SPOOL_BYTES, iterate_file
from modelyard.tracking.service import TrackingService
from modelyard.tracking.validation import RUN_ID

router = APIRouter(prefix="/artifacts")


@dataclass(frozen=True, slots=True)
class RunPath:
    run_id: str
    path: str  # inside the run's artifacts ("" for its root)


def locate(svc: TrackingService, path: str, *, allow_root: bool) -> RunPath | None:
    """``<experiment>/<run>/artifacts[/<path>]`` -> the run and the path inside it.

    Returns None for a location above a run's artifacts (there is nothing to list there).
    """
    parts = path.strip("/").split("/", 3)
    if len(parts) < 3:
        if allow_root:
            return None
        raise InvalidInput(f"Invalid path {path!r}: expected <experiment>/<run>/artifacts/<file>")
    exp, run_id, kind = parts[0], parts[1], parts[2]
    if not exp.isdigit() or not RUN_ID.match(run_id) or kind != "artifacts":
        raise InvalidInput(f"Invalid path {path!r}: expected <experiment>/<run>/artifacts/<file>")
    run = svc.get_run(run_id)
    if str(run.experiment_id) != exp:
        raise NotFound(f"run {run_id} is not in experiment {exp}", path=path)
    inner = parts[3] if len(parts) > 3 else ""
    if not inner and not allow_root:
        raise InvalidInput(f"Invalid path {path!r}: it names a folder, not a file")
    return RunPath(run_id, inner)


@router.get("")
async def list_artifacts(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    folder = request.query_params.get("path", "")

    def job() -> list[dict[str, Any]]:
        where = locate(svc, folder, allow_root=True)
        if where is None:
            return []
        files = []
        for info in svc.list_artifacts(where.run_id, where.path):
            entry: dict[str, Any] = {"path": info.path.rsplit("/", 1)[-1], "is_dir": info.is_dir}
            if not info.is_dir and info.size is not None:
                entry["file_size"] = info.size
            files.append(entry)
        return files

    files = await run_in_threadpool(job)
    return JSONOut({"files": files} if files else {})


@router.put("/{path:path}")
async def upload(path: str, request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    where = await run_in_threadpool(locate, svc, path, allow_root=False)
    assert where is not None
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(svc.log_artifact, where.run_id, where.path, spool)  # type: ignore[arg-type]
    return JSONOut({})


@router.get("/{path:path}")
async def download(path: str, svc: TrackingService = Depends(tracking)) -> StreamingResponse:
    where = await run_in_threadpool(locate, svc, path, allow_root=False)
    assert where is not None
    handle = await run_in_threadpool(svc.open_artifact, where.run_id, where.path)
    name = where.path.rsplit("/", 1)[-1]
    return StreamingResponse(
        iterate_file(handle),
        media_type=mimetypes.guess_type(name)[0] or "application/octet-stream",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.delete("/{path:path}")
async def delete(path: str, svc: TrackingService = Depends(tracking)) -> JSONOut:
    where = await run_in_threadpool(locate, svc, path, allow_root=False)
    assert where is not None
    await run_in_threadpool(svc.delete_artifacts, where.run_id, where.path)
    return JSONOut({})
