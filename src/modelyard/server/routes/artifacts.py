"""/api/v1/runs/{run_id}/artifacts: streaming upload, download and listing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from modelyard.server.deps import tracking
from modelyard.server.guard import BINARY_UPLOAD
from modelyard.server.responses import JSONOut, file_response, spool_body
from modelyard.server.schemas import ArtifactLinkIn, ArtifactOut, TablePreviewOut
from modelyard.tracking.previews import MAX_ROWS, preview_table
from modelyard.tracking.service import TrackingService
from modelyard.wire import artifact_json

router = APIRouter(prefix="/runs/{run_id}/artifacts", tags=["artifacts"])


@router.get("", responses={200: {"model": list[ArtifactOut]}})
def list_artifacts(
    run_id: str, path: str = "", svc: TrackingService = Depends(tracking)
) -> JSONOut:
    return JSONOut([artifact_json(a) for a in svc.list_artifacts(run_id, path)])


@router.post("")
def link_artifacts(
    run_id: str, body: ArtifactLinkIn, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    """Name blobs already uploaded (``/blobs``) as files of the run; no bytes move."""
    return JSONOut({"linked": svc.link_artifacts(run_id, body.files)})


@router.put("/{path:path}", status_code=201, openapi_extra=BINARY_UPLOAD)
async def upload_artifact(
    run_id: str,
    path: str,
    request: Request,
    digest: str | None = Header(None, alias="X-Modelyard-Digest"),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """Stream the body into the store (constant memory); a ``X-Modelyard-Digest`` is checked."""
    with await spool_body(request) as spool:
        blob = await run_in_threadpool(svc.log_artifact, run_id, path, spool, digest)
    return JSONOut({"path": path, "size": blob.size, "digest": blob.digest}, status_code=201)


@router.get("/{path:path}")
def download_artifact(
    run_id: str, path: str, svc: TrackingService = Depends(tracking)
) -> StreamingResponse:
    """The file's bytes; HTML and SVG run sandboxed (no access to this origin)."""
    return file_response(svc.open_artifact(run_id, path), path)


previews = APIRouter(prefix="/runs/{run_id}/previews", tags=["artifacts"])


@previews.get("/table/{path:path}", responses={200: {"model": TablePreviewOut}})
def table_preview(
    run_id: str,
    path: str,
    limit: int = Query(200, ge=1, le=MAX_ROWS),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """The first rows of a CSV, TSV, Parquet, JSON-lines or Feather artifact, as JSON."""
    with svc.open_artifact(run_id, path) as handle:
        return JSONOut(preview_table(handle, path, limit).to_json())
