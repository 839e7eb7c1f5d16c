"""Bodies in and out: JSON rendered with orjson, files streamed in constant memory."""

from __future__ import annotations

import mimetypes
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from modelyard.errors import error_json
from modelyard.store.artifacts.disk import writing

SPOOL_BYTES = 8 << 20
CHUNK = 1 << 20
# A logged file is served with its type, but a document (an HTML report, an SVG) runs in an
# opaque origin: its scripts may run, never as this server.
SANDBOXED = {
    "Content-Security-Policy": "sandbox allow-scripts allow-popups",
    "X-Content-Type-Options": "nosniff",
}


class JSONOut(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def error_response(
    status: int, code: str, message: str, details: Mapping[str, Any] | None = None
) -> JSONOut:
    """An error in the native shape (``errors.error_json``) with its HTTP status.

    MLflow's routes answer in MLflow's shape instead (server/mlflow/wire.py ``error_body``)."""
    return JSONOut(error_json(code, message, details), status_code=status)


async def spool_body(request: Request) -> BinaryIO:
    """The request body in a temporary file (memory up to 8 MiB, then disk); caller closes.

    A full or read-only temporary folder is StorageFull (507), as in the artifact store."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
    try:
        with writing("the request body"):
            async for chunk in request.stream():
                spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return cast(BinaryIO, spool)


def iterate_file(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def file_response(handle: BinaryIO, name: str) -> StreamingResponse:
    """A stored file streamed with the type its name implies, sandboxed (see SANDBOXED)."""
    media = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(iterate_file(handle), media_type=media, headers=SANDBOXED)
