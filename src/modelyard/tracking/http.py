"""JSON over HTTP to a modelyard server, with one connection pool per server per process."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from modelyard import config
from modelyard.errors import InvalidInput, ServerUnreachable, error_from_json
from modelyard.tracking import credentials
from modelyard.tracking.shared import Shared


def tls_context() -> ssl.SSLContext:
    """Certificates a client of a modelyard server trusts: MODELYARD_CA_BUNDLE's, else the
    system's."""
    bundle = config.CA_BUNDLE.get()
    try:
        return ssl.create_default_context(cafile=bundle or None)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(
            f"MODELYARD_CA_BUNDLE={bundle!r} is not a readable PEM file of CA certificates: {exc}"
        ) from exc


def bearer(server: str) -> Callable[[Any], Any]:
    """httpx auth sending the server's token (:func:`credentials.token_for`, looked up on each
    request) unless the request carries its own Authorization."""

    def sign(request: Any) -> Any:
        if "authorization" not in request.headers:
            token = credentials.token_for(server)
            if token:
                request.headers["Authorization"] = f"Bearer {token}"
        return request

    return sign


def _transport_error(base_url: object, exc: Exception) -> ServerUnreachable:
    """A failed connection, saying what to do when it is the server's certificate."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        reason = getattr(cause, "verify_message", None) or str(cause)
        return ServerUnreachable(
            f"cannot verify the TLS certificate of {base_url} ({reason}); if a private CA "
            "signed it, set MODELYARD_CA_BUNDLE to that CA's PEM file"
        )
    return ServerUnreachable(f"cannot reach {base_url}: {exc}")


class HttpBackend:
    """JSON over HTTP with keep-alive and TCP_NODELAY (no Nagle stalls on reused connections),
    the caller's token on every request, and certificates verified for https."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        import httpx

        self._httpx = httpx
        base = base_url.rstrip("/")
        secure = base.lower().startswith("https://")
        transport = httpx.HTTPTransport(
            verify=tls_context() if secure else True,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self.http = httpx.Client(
            base_url=base,
            timeout=timeout if timeout is not None else config.HTTP_TIMEOUT.get(),
            transport=transport,
            auth=bearer(base),
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except self._httpx.TransportError as exc:
            raise _transport_error(self.http.base_url, exc) from exc
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
        body = _error_body(status, body)
        sent = response.request.headers.get("authorization", "")
        if status == 401 and not sent.lower().startswith("basic "):  # not a password just typed
            base = str(self.http.base_url)
            body["message"] += (
                f" (server {base}: run `modelyard login {base}`, or set MODELYARD_TOKEN to an "
                "API token)"
            )
        raise error_from_json(status, body) from cause

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        content = None if body is None else orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        sent = dict(headers or {})
        if content is not None:
            sent["content-type"] = "application/json"
        response = self._send(
            method, "/api/v1" + path, content=content, params=params, headers=sent or None
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
            raise _transport_error(self.http.base_url, exc) from exc

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
