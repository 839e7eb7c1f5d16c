"""/api/v1/runs/{run_id}/artifacts: streaming upload, download and listing."""

from __future__ import annotations

import mimetypes
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from modelyard.server.deps import tracking
from modelyard.server.responses import JSONOut
from modelyard.server.schemas import ArtifactOut
from modelyard.tracking.service import TrackingService

router = APIRouter(prefix="/runs/{run_id}/artifacts", tags=["artifacts"])
SPOOL_BYTES = 8 << 20
CHUNK = 1 << 20


@router.get("", responses={200: {"model": list[ArtifactOut]}})
def list_artifacts(
    run_id: str, path: str = "", svc: TrackingService = Depends(tracking)
) -> JSONOut:
    return JSONOut(
        [
            {"path": a.path, "is_dir": a.is_dir, "size": a.size}
            for a in svc.list_artifacts(run_id, path)
        ]
    )


@router.put("/{path:path}", status_code=201)
async def upload_artifact(
    run_id: str, path: str, request: Request, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    """Stream the request body into the artifact store (constant memory)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        size = await run_in_threadpool(svc.log_artifact, run_id, path, spool)  # type: ignore[arg-type]
    return JSONOut({"path": path, "size": size}, status_code=201)


def iterate_file(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


@router.get("/{path:path}")
def download_artifact(
    run_id: str, path: str, svc: TrackingService = Depends(tracking)
) -> StreamingResponse:
    handle = svc.open_artifact(run_id, path)
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return StreamingResponse(iterate_file(handle), media_type=media)
