"""JSON over HTTP to a modelyard server, with one connection pool per server per process."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from modelyard import config
from modelyard.errors import ServerUnreachable, error_from_json
from modelyard.tracking.shared import Shared


class HttpBackend:
    """JSON over HTTP with keep-alive and TCP_NODELAY (no Nagle stalls on reused connections)."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        import httpx

        self._httpx = httpx
        transport = httpx.HTTPTransport(
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        )
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout if timeout is not None else config.HTTP_TIMEOUT.get(),
            transport=transport,
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except self._httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.http.base_url}: {exc}") from exc
        return self._check(response, path)

    def _check(self, response: Any, path: str) -> Any:
        """The response, or the error it carries, chained from httpx's (status, headers)."""
        status = response.status_code
        if status < 400:
            return response
        cause = self._httpx.HTTPStatusError(
            f"HTTP {status}", request=response.request, response=response
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "error_code" not in body:
            if status >= 500:  # not modelyard's answer: a proxy, a crash, an overloaded host
                raise ServerUnreachable(
                    f"server error {status} from {self.http.base_url}{path}"
                ) from cause
            body = {"message": response.text[:500] or f"HTTP {status}"}
        raise error_from_json(status, _error_body(status, body)) from cause

    def call(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        content = None if body is None else orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        headers = {"content-type": "application/json"} if content is not None else None
        response = self._send(
            method, "/api/v1" + path, content=content, params=params, headers=headers
        )
        return orjson.loads(response.content) if response.content else None

    def upload(
        self, path: str, stream: BinaryIO, *, method: str = "PUT", content_type: str | None = None
    ) -> Any:
        """Stream a body (constant memory); returns the JSON answer."""
        headers = {"content-type": content_type} if content_type else None
        response = self._send(method, "/api/v1" + path, content=_chunks(stream), headers=headers)
        return orjson.loads(response.content) if response.content else None

    def download(self, path: str) -> Iterator[bytes]:
        """The body in 1 MiB chunks as it arrives (constant memory for any size)."""
        try:
            with self.http.stream("GET", "/api/v1" + path) as response:
                if response.status_code >= 400:
                    response.read()
                self._check(response, path)
                yield from response.iter_bytes(1 << 20)
        except self._httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach {self.http.base_url}: {exc}") from exc

    def close(self) -> None:
        self.http.close()


def _error_body(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An error body as the client rebuilds it: text code and message, details only if plain."""
    details = body.get("details")
    plain = isinstance(details, dict) and all(
        isinstance(k, str) and k.isidentifier() and k != "message" for k in details
    )
    return {
        "error_code": str(body.get("error_code", "")),
        "message": str(body.get("message") or f"HTTP {status}")[:2000],
        "details": details if plain else {},
    }


pools: Shared[HttpBackend] = Shared(HttpBackend, HttpBackend.close)
"""The one pool (httpx client) per server of this process: ``pools.acquire(uri)``, then
``pools.release(uri)`` when the client closes."""


class PooledApi:
    """Base of the SDK's server backends: this process's pool for ``uri``, released once;
    blobs up and down."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.backend = pools.acquire(uri)
        self._closed = False

    def put_files(self, files: dict[str, Path]) -> dict[str, str]:
        """Send what the server lacks; ``{name: digest}`` of every file."""
        from modelyard.tracking.transfer import Uploader

        return {k: f.digest for k, f in Uploader(self.backend).upload(files).items()}

    def blob(self, digest: str) -> Iterator[bytes]:
        return self.backend.download(f"/blobs/{digest}")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            pools.release(self.uri)


def quote_part(part: str) -> str:
    """One path segment of a URL (a model or dataset name may hold any character)."""
    from urllib.parse import quote

    return quote(part, safe="")


def _chunks(stream: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
