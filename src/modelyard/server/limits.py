"""Per-credential request rate and upload size limits (only on a server with auth on).

* **Rate**: a token bucket per credential, refilled at ``MODELYARD_RATE_LIMIT`` requests a
  second and holding ten seconds' worth (the burst). The bucket is chosen by a fingerprint of
  what the request carries, never by a value it could borrow: the SHA-256 of a Bearer token or
  of a session cookie (a forged token with someone's token id gets a bucket of its own), the
  user name of Basic credentials or of a login's body (a password guessed from many addresses
  still drains one bucket), the serving token of a serving process, else the client address.
  Past it: 429 ``RATE_LIMITED`` with ``Retry-After`` and ``details.retry_after`` (seconds).
* **Failed logins count double**: an answer of 401 takes a second request from the bucket and
  two from the client address's, and a request from an address whose bucket is empty is
  refused whatever credential it carries (spraying made-up tokens gets nowhere).
* **Upload size**: the binary upload routes (``guard.BINARY_UPLOADS``) take at most
  ``MODELYARD_TOKEN_MAX_UPLOAD_MB`` MiB a request: 413 ``PAYLOAD_TOO_LARGE`` from
  ``Content-Length`` before the route runs, or while the body streams in.

``/health`` and ``/ready`` are never counted (probes must always get through). The
buckets live in this process (each server replica keeps its own); at most :data:`MAX_BUCKETS`
are kept, the least recently used dropped first.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard import config
from modelyard.errors import ModelyardError, PayloadTooLarge, RateLimited
from modelyard.server.guard import BINARY_UPLOADS, parsed_json
from modelyard.server.identity import SESSION_COOKIE
from modelyard.server.responses import error_response
from modelyard.serving.entities import SERVING_TOKEN_HEADER

BURST_SECONDS = 10.0  # a bucket holds this many seconds of the average rate
MAX_BUCKETS = 50_000
EXEMPT = frozenset({"/health", "/ready"})
LOGIN = ("POST", "/api/v1/auth/login")
_SERVING = SERVING_TOKEN_HEADER.lower().encode()
_SESSION = SESSION_COOKIE.encode()


@dataclass(slots=True)
class Bucket:
    level: float
    at: float


class Buckets:
    """Token buckets by key, refilled at ``rate`` a second up to ``burst``; LRU-bounded."""

    def __init__(
        self,
        rate: float,
        burst: float,
        size: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.size, self.clock = rate, burst, size, clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def _refilled(self, key: str) -> Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self.burst, now)
            if len(self._buckets) > self.size:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.level = min(self.burst, bucket.level + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def wait(self, key: str, cost: float = 1.0) -> float:
        """0 when ``key`` had ``cost`` left (it is taken), else the seconds until it will."""
        bucket = self._refilled(key)
        if bucket.level >= cost:
            bucket.level -= cost
            return 0.0
        return (cost - bucket.level) / self.rate

    def empty_for(self, key: str) -> float:
        """Seconds until ``key`` holds one request again (0 when it does); takes nothing."""
        if key not in self._buckets:
            return 0.0
        bucket = self._refilled(key)
        return 0.0 if bucket.level >= 1 else (1 - bucket.level) / self.rate

    def charge(self, key: str, cost: float) -> None:
        """Take ``cost`` whatever is left (the level may go below zero: a penalty)."""
        bucket = self._refilled(key)
        bucket.level = max(-self.burst, bucket.level - cost)

    def __len__(self) -> int:
        return len(self._buckets)


def fingerprint(scope: Scope) -> tuple[str, str]:
    """``(bucket key, client address key)`` of a request."""
    client = scope.get("client")
    address = f"a:{client[0] if client else ''}"
    auth = cookie = serving = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value
        elif name == b"cookie":
            cookie = value
        elif name == _SERVING:
            serving = value
    if auth:
        scheme, _, value = auth.partition(b" ")
        if scheme.lower() == b"basic":
            return f"u:{_basic_name(value.strip())}", address
        return f"c:{_digest(auth)}", address
    if serving:
        return f"s:{_digest(serving)}", address
    if (scope["method"], scope["path"]) == LOGIN:
        body = parsed_json(scope)
        name = body.get("name") if isinstance(body, dict) else None
        if isinstance(name, str) and name:
            return f"u:{name.strip().lower()[:256]}", address
    if cookie:
        session = _cookie(cookie, _SESSION)
        if session:
            return f"c:{_digest(session)}", address
    return address, address


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()[:32]


def _basic_name(value: bytes) -> str:
    import base64
    import binascii

    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return f"?{_digest(value)}"  # refused by the credential check; its own bucket
    return decoded.partition(":")[0].strip().lower()[:256]


def _cookie(header: bytes, name: bytes) -> bytes:
    for part in header.split(b";"):
        key, _, value = part.strip().partition(b"=")
        if key == name:
            return value
    return b""


class Limits:
    """ASGI middleware: the request rate per credential and the upload size per request."""

    def __init__(self, app: ASGIApp, *, rate: float, max_upload_bytes: int) -> None:
        self.app = app
        self.buckets = Buckets(rate, rate * BURST_SECONDS) if rate > 0 else None
        self.max_upload = max_upload_bytes
        self.uploads = [(method, compile_path(path)[0]) for method, path in BINARY_UPLOADS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        try:
            keys = self._admit(scope)
            receive = self._bounded(scope, receive)
        except ModelyardError as exc:
            await _refuse(exc, scope, receive, send)
            return
        if keys is None:
            await self.app(scope, receive, send)
            return
        buckets = self.buckets
        assert buckets is not None
        key, address = keys

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                buckets.charge(key, 1)  # a failed login counts double
                if key != address:
                    buckets.charge(address, 2)
            await send(message)

        await self.app(scope, receive, counted)

    def _admit(self, scope: Scope) -> tuple[str, str] | None:
        if self.buckets is None:
            return None
        key, address = fingerprint(scope)
        wait = self.buckets.empty_for(address) if key != address else 0.0
        if not wait:
            wait = self.buckets.wait(key)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise RateLimited(f"too many requests; try again in {seconds} s", retry_after=seconds)
        return key, address

    def _bounded(self, scope: Scope, receive: Receive) -> Receive:
        limit = self.max_upload
        if not limit or not any(
            scope["method"] == method and pattern.match(scope["path"])
            for method, pattern in self.uploads
        ):
            return receive
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise _too_large(limit, int(value))
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        return bounded


def _too_large(limit: int, size: int | None = None) -> PayloadTooLarge:
    sent = f"an upload of {size} bytes" if size is not None else "the upload"
    return PayloadTooLarge(
        f"{sent} exceeds the limit of {limit} bytes a request (MODELYARD_TOKEN_MAX_UPLOAD_MB)",
        limit=limit,
    )


async def _refuse(exc: ModelyardError, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.details["retry_after"])
    await response(scope, receive, send)


def install_limits(app: FastAPI) -> None:
    """With auth on: 429 with Retry-After past a credential's request rate, 413 past the upload
    size (``MODELYARD_RATE_LIMIT``, ``MODELYARD_TOKEN_MAX_UPLOAD_MB``); nothing with auth off."""
    if not getattr(app.state.settings, "auth", False):
        return
    rate, upload_mb = config.RATE_LIMIT.get(), config.TOKEN_MAX_UPLOAD_MB.get()
    if rate > 0 or upload_mb > 0:
        app.add_middleware(Limits, rate=rate, max_upload_bytes=max(0, upload_mb) << 20)
