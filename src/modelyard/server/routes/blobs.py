"""/api/v1/blobs and /api/v1/uploads: content-addressed uploads (single, packed, multipart).

A client hashes its files, asks which digests are missing, sends only those, then names them
(``POST /runs/{id}/artifacts:link``, dataset and model registration). Bodies stream to disk.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from modelyard.errors import DigestMismatch
from modelyard.server.deps import artifacts
from modelyard.server.guard import BINARY_UPLOAD
from modelyard.server.responses import JSONOut, iterate_file, spool_body
from modelyard.server.schemas import BlobsMissingIn, UploadCompleteIn
from modelyard.store.artifacts.archives import Caps, tar_members
from modelyard.store.artifacts.blobs import clean_digest
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.store.artifacts.uploads import Uploads

router = APIRouter(tags=["blobs"])

# A pack carries many small blobs: the SDK sends at most 20,000 files of at most 4 MiB each and
# 64 MiB in all (tracking/transfer.py). Anything far beyond is refused while it is read.
PACK_MAX_MEMBERS = 50_000
PACK_MAX_MEMBER_BYTES = 64 << 20
PACK_MAX_BYTES = 256 << 20  # of the tar stream, headers included


def pack_caps() -> Caps:
    return Caps(
        max_members=PACK_MAX_MEMBERS,
        max_bytes=PACK_MAX_BYTES,
        max_member_bytes=PACK_MAX_MEMBER_BYTES,
    )


@router.post("/blobs/missing")
def missing(body: BlobsMissingIn, repo: ArtifactRepository = Depends(artifacts)) -> JSONOut:
    """Which of these sha256 digests the store does not hold yet."""
    return JSONOut({"missing": repo.content.missing(body.digests)})


@router.get("/blobs/{digest}")
def get_blob(digest: str, repo: ArtifactRepository = Depends(artifacts)) -> StreamingResponse:
    """The bytes of a blob (immutable: cache them by digest)."""
    handle = repo.content.open(clean_digest(digest))
    return StreamingResponse(
        iterate_file(handle),
        media_type="application/octet-stream",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


@router.put("/blobs/{digest}", status_code=201, openapi_extra=BINARY_UPLOAD)
async def put_blob(
    digest: str, request: Request, repo: ArtifactRepository = Depends(artifacts)
) -> JSONOut:
    """Store one blob; the body must hash to ``digest`` (DIGEST_MISMATCH otherwise)."""
    expected = clean_digest(digest)
    with await spool_body(request) as spool:
        blob = await run_in_threadpool(repo.content.put, spool, expected)
    return JSONOut({"digest": blob.digest, "size": blob.size}, status_code=201)


@router.post("/blobs/pack", status_code=201, openapi_extra=BINARY_UPLOAD)
async def put_pack(request: Request, repo: ArtifactRepository = Depends(artifacts)) -> JSONOut:
    """Many small blobs in one tar stream (plain, gzip, bz2 or xz), each member named by its
    sha256 digest; a stream past the pack caps or expanding like a bomb is UNSAFE_ARCHIVE."""
    with await spool_body(request) as spool:

        def unpack() -> list[dict[str, Any]]:
            stored = []
            for name, reader in tar_members(spool, pack_caps()):
                try:
                    blob = repo.content.put(reader, clean_digest(name), durable=False)
                except DigestMismatch as exc:
                    raise DigestMismatch(f"pack member {name}: {exc.message}") from None
                stored.append({"digest": blob.digest, "size": blob.size})
            repo.objects.flush()  # durable before the client names them
            return stored

        stored = await run_in_threadpool(unpack)
    return JSONOut({"stored": stored}, status_code=201)


@router.post("/uploads", status_code=201)
def create_upload(repo: ArtifactRepository = Depends(artifacts)) -> JSONOut:
    """Start a resumable multipart upload."""
    return JSONOut({"upload_id": Uploads(repo).create()}, status_code=201)


@router.get("/uploads/{upload_id}")
def upload_status(upload_id: str, repo: ArtifactRepository = Depends(artifacts)) -> JSONOut:
    """The parts received so far, to resume after a broken connection."""
    parts = Uploads(repo).parts(upload_id)
    return JSONOut(
        {
            "upload_id": upload_id,
            "parts": [{"number": p.number, "size": p.size, "sha256": p.sha256} for p in parts],
        }
    )


@router.put("/uploads/{upload_id}/{number}", openapi_extra=BINARY_UPLOAD)
async def put_part(
    upload_id: str, number: int, request: Request, repo: ArtifactRepository = Depends(artifacts)
) -> JSONOut:
    uploads = Uploads(repo)
    with await spool_body(request) as spool:
        part = await run_in_threadpool(uploads.put_part, upload_id, number, spool)
    return JSONOut({"number": part.number, "size": part.size, "sha256": part.sha256})


@router.post("/uploads/{upload_id}/complete")
def complete_upload(
    upload_id: str, body: UploadCompleteIn, repo: ArtifactRepository = Depends(artifacts)
) -> JSONOut:
    """Join the parts into one blob (checked against ``digest`` when given)."""
    blob = Uploads(repo).complete(upload_id, body.digest)
    return JSONOut({"digest": blob.digest, "size": blob.size})


@router.delete("/uploads/{upload_id}")
def abort_upload(upload_id: str, repo: ArtifactRepository = Depends(artifacts)) -> JSONOut:
    Uploads(repo).abort(upload_id)
    return JSONOut({})
