"""Requests a browser could be tricked into sending, refused before any route runs.

* **Host** must be one this server answers to (DNS rebinding): loopback names by default, the
  name given to ``--host``, or ``--allowed-hosts``.
* **Writes** (POST, PUT, PATCH, DELETE) from another web origin are refused: a browser sends
  ``Origin`` (or at least ``Sec-Fetch-Site``) and it must be this server. ``Origin: null`` (a
  sandboxed frame, such as a logged HTML report) is another origin. Clients that are not
  browsers send neither and pass.
* A write's **body is JSON** (``application/json``), except on the binary upload routes, so a
  form or ``text/plain`` POST (the kinds a page may send cross-site without asking) never
  reaches a route. JSON bodies are parsed here once, bounded in depth and keys per object,
  and handed to the route (``parsed_json``).
* Every answer says it may be framed only by this server's own pages.

Binary upload routes are named by route in :data:`BINARY_UPLOADS` (method and path template,
matched whole), never by a piece of the path; each carries :data:`BINARY_UPLOAD` in its
``openapi_extra``, which documents its body, and a test keeps the two lists equal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.access.secrets import mask
from modelyard.errors import (
    CrossSiteRequest,
    HostNotAllowed,
    MalformedRequest,
    ModelyardError,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from modelyard.server.responses import error_response

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")
MAX_JSON_DEPTH = 64
MAX_JSON_KEYS = 100_000  # per object
BINARY_UPLOADS = (
    ("PUT", "/api/v1/runs/{run_id}/artifacts/{path:path}"),
    ("PUT", "/api/v1/blobs/{digest}"),
    ("POST", "/api/v1/blobs/pack"),
    ("PUT", "/api/v1/uploads/{upload_id}/{number}"),
    ("PUT", "/api/2.0/mlflow-artifacts/artifacts/{path:path}"),
)
BINARY_UPLOAD: dict[str, Any] = {
    "x-binary-upload": True,
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
}
FRAME_HEADERS = [
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
]
_STATE_KEY = "parsed_json"


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The Host names a server bound to ``bind`` answers to; ``("*",)`` means any.

    Loopback names always; the bound name when it is one; any host when bound to every
    interface and no list was given (people reach such a server by names it cannot know).
    """
    names = [h.strip().lower() for h in extra if h.strip()]
    if "*" in names:
        return ("*",)
    if not names and bind.strip() in WILDCARD_BINDS:
        return ("*",)
    if bind.strip() not in WILDCARD_BINDS:
        names.append(bind.strip().lower().strip("[]"))
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, *names]))


def host_name(host: str) -> str:
    """``example.com:5050`` -> ``example.com``; ``[::1]:5050`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _host_allowed(name: str, allowed: Sequence[str]) -> bool:
    if "*" in allowed or name in allowed:
        return True
    if name.endswith(".localhost") and "localhost" in allowed:
        return True  # RFC 6761: always loopback
    try:
        return ipaddress.ip_address(name).is_loopback and "127.0.0.1" in allowed
    except ValueError:
        return False


def parse_json_bounded(raw: bytes) -> Any:
    """Parse a JSON body; refuse nesting deeper than MAX_JSON_DEPTH or objects with more than
    MAX_JSON_KEYS keys (orjson itself stops at 1024 levels, far below a stack overflow)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"request body is not valid JSON: {exc}") from exc
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise MalformedRequest(
                f"request body nests deeper than {MAX_JSON_DEPTH} levels", limit=MAX_JSON_DEPTH
            )
        if isinstance(node, dict):
            if len(node) > MAX_JSON_KEYS:
                raise MalformedRequest(
                    f"a JSON object in the body has {len(node)} keys; at most {MAX_JSON_KEYS}",
                    limit=MAX_JSON_KEYS,
                )
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return value


def parsed_json(scope: Scope) -> Any:
    """The JSON body the guard parsed for this request (None when it had no JSON body)."""
    return scope.get("state", {}).get(_STATE_KEY)


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestGuard:
    """ASGI middleware: host allow-list, same-origin writes, JSON-only bodies, frame headers,
    and the body-size limit for everything but the binary upload routes."""

    def __init__(self, app: ASGIApp, *, hosts: Sequence[str], max_body_bytes: int) -> None:
        self.app = app
        self.hosts = tuple(hosts)
        self.max_body_bytes = max_body_bytes
        self.uploads = [(method, compile_path(path)[0]) for method, path in BINARY_UPLOADS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                # a second CSP header adds its rules to a route's own (both are enforced)
                message["headers"] = [*message.get("headers", []), *FRAME_HEADERS]
            await send(message)

        try:
            receive = await self._check(scope, receive)
        except ModelyardError as exc:
            details = {k: mask(v) if isinstance(v, str) else v for k, v in exc.details.items()}
            refusal = error_response(exc.status, exc.code, mask(exc.message), details)
            await refusal(scope, receive, framed)
            return
        await self.app(scope, receive, framed)

    async def _check(self, scope: Scope, receive: Receive) -> Receive:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        name = host_name(headers.get("host", ""))
        if not _host_allowed(name, self.hosts):
            raise HostNotAllowed(
                f"this server does not answer to the host {name!r}; start it with "
                "--allowed-hosts (or MODELYARD_ALLOWED_HOSTS) to add it",
                host=name,
            )
        upload = any(
            scope["method"] == method and pattern.match(scope["path"])
            for method, pattern in self.uploads
        )
        if scope["method"] not in WRITES:
            return receive if upload else self._limited(receive)
        self._same_origin(headers)
        if upload:
            return receive  # streamed to disk; each upload route caps its own size
        declared = headers.get("content-length")
        if (
            declared
            and declared.isascii()
            and declared.isdigit()
            and int(declared) > self.max_body_bytes
        ):
            raise PayloadTooLarge(
                f"request body of {int(declared)} bytes exceeds the limit of {self.max_body_bytes}",
                limit=self.max_body_bytes,
            )
        raw = await self._read(self._limited(receive))
        if not raw.strip():
            return _replay(raw, receive)
        if not _is_json(headers.get("content-type", "")):
            raise UnsupportedMediaType(
                "write requests take a JSON body (Content-Type: application/json)",
                content_type=headers.get("content-type", ""),
            )
        scope.setdefault("state", {})[_STATE_KEY] = parse_json_bounded(raw)
        return _replay(raw, receive)

    def _same_origin(self, headers: dict[str, str]) -> None:
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin.strip())
            same = (
                parts.scheme in ("http", "https")
                and parts.netloc.lower() == headers.get("host", "").strip().lower()
            )
            if not same:
                raise CrossSiteRequest(
                    f"a write from the web origin {origin!r} is refused: only this server's "
                    "own pages may write",
                    origin=origin,
                )
        elif headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            raise CrossSiteRequest("a write from another site is refused")

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise PayloadTooLarge(
                        f"request body exceeds the limit of {self.max_body_bytes} bytes",
                        limit=self.max_body_bytes,
                    )
            return message

        return limited

    @staticmethod
    async def _read(receive: Receive) -> bytes:
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    """Hands the already-read body to the app; later calls wait on the client as usual."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay
