"""The inference server's HTTP side: a plain ASGI app (run by uvicorn), lean on the hot path.

    POST /predict, POST /invocations   score rows (MLflow's four JSON shapes, CSV, Arrow IPC)
    GET  /health (MLflow: /ping)       the process answers; /version: modelyard's version
    GET  /ready                        200 once a version is loaded, warmed up and routed
    GET  /metrics                      Prometheus text
    GET  /openapi.json                 the request schema from the model's signature

Every answer carries ``X-Request-Id`` (the caller's, when it sent a usable one) and the
answering ``X-Model-Version``; every error has modelyard's JSON shape.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from modelyard import __version__
from modelyard.errors import (
    MalformedRequest,
    ModelyardError,
    NotFound,
    PayloadTooLarge,
    PredictionFailed,
)
from modelyard.serving.inputs import Part
from modelyard.serving.predictor import Predictor
from modelyard.serving.requests import decode
from modelyard.serving.state import ServingState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("modelyard.serving")
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
_JSON = [(b"content-type", b"application/json")]


class InferenceApp:
    """ASGI app over a ``ServingState`` (the routes, the batchers, the metrics, the log)."""

    def __init__(self, state: ServingState) -> None:
        self.state = state
        self._shadows: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if path in ("/predict", "/invocations"):
            if method != "POST":
                await _send(send, 405, _error(MalformedRequest(f"use POST {path}")), [])
                return
            await self._predict(scope, receive, send)
        elif method in ("GET", "HEAD"):
            await self._get(path, send)
        else:
            await _send(send, 405, _error(MalformedRequest(f"{method} {path} is not served")), [])

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.state.start(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.state.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _get(self, path: str, send: Send) -> None:
        state = self.state
        if path == "/health":
            await _send(send, 200, orjson.dumps({"status": "ok"}), [])
        elif path == "/ping":  # MLflow's scoring-server probe
            await _send(send, 200, b"\n", [])
        elif path == "/version":  # MLflow's: the server's version, as text
            await _send(send, 200, __version__.encode(), [])
        elif path == "/ready":
            status = 200 if state.ready else 503
            await _send(send, status, orjson.dumps(state.describe()), [])
        elif path == "/metrics":
            body = generate_latest(state.metrics.registry)
            headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif path == "/openapi.json":
            await _send(send, 200, orjson.dumps(state.openapi()), [])
        else:
            await _send(send, 404, _error(NotFound(f"nothing at {path}")), [])

    async def _predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"")
        rid = request_id.decode() if _REQUEST_ID.fullmatch(request_id) else _new_id()
        extra = [(b"x-request-id", rid.encode())]
        state = self.state
        try:
            routes = state.routes
            predictor = routes.pick(headers.get(routes.sticky_header or b""))
        except ModelyardError as exc:
            await _send(send, exc.status, _error(exc), extra)
            return
        version = str(predictor.version or 0)
        extra.append((b"x-model-version", version.encode()))
        batcher = state.batcher(predictor)
        batcher.coming()
        try:
            body = await _read(receive, headers, state.max_body)
            part = predictor.schema.check(decode(body, _text(headers.get(b"content-type"))))
        except ModelyardError as exc:
            batcher.gone()
            state.observe(predictor, rid, None, exc, started)
            await _send(send, exc.status, _error(exc), extra)
            return
        except BaseException:
            batcher.gone()
            raise
        try:
            out, proba = await batcher.submit(part)
        except ModelyardError as exc:
            if isinstance(exc, PredictionFailed):
                log.error("request %s: version %s failed: %s", rid, version, exc.message)
                exc.details["request_id"] = rid
            state.observe(predictor, rid, part, exc, started)
            await _send(send, exc.status, _error(exc), extra)
            return
        await _send(send, 200, orjson.dumps({"predictions": out}), extra)
        state.observe(predictor, rid, part, out, started, proba)
        for shadow in routes.shadow:
            task = asyncio.get_running_loop().create_task(self._shadow(shadow, part, out, rid))
            self._shadows.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._shadows.discard)

    async def _shadow(self, predictor: Predictor, part: Part, live: list[Any], rid: str) -> None:
        """Score a copy on a shadow version; its answer is logged and compared, never sent."""
        started = time.perf_counter()
        batcher = self.state.batcher(predictor)
        batcher.coming()
        proba = None
        try:
            out: list[Any] | ModelyardError
            out, proba = await batcher.submit(part)
        except ModelyardError as exc:
            out = exc
        self.state.observe_shadow(predictor, rid, part, out, live, started, proba)


async def _read(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    """The whole body, refused as soon as it is known to pass ``limit`` bytes."""
    declared = headers.get(b"content-length")
    if declared is not None:
        if not declared.isdigit():
            raise MalformedRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body is over the {limit}-byte limit", limit=limit)
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the {limit}-byte limit", limit=limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


_ID_PREFIX = uuid.uuid4().hex[:16]  # this process's; the counter makes each id unique in it
_ID_COUNTER = itertools.count(1)


def _new_id() -> str:
    """A request id unique across processes (32 hex digits, as a uuid4 would give)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _error(exc: ModelyardError) -> bytes:
    return orjson.dumps(exc.to_json(), default=str)


async def _send(send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [*_JSON, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
