"""GET /metrics in Prometheus text format: requests, latency, errors, the SQLite writer.

``install_metrics(app)`` adds an ASGI middleware (outermost, so refusals by the guard count
too) and the route. Requests are labelled by route template (``/api/v1/runs/{run_id}``), never
by raw path, so the number of series stays bounded; paths no route takes are ``unmatched``.
No object names, users or values are exposed: route templates, methods, statuses, error codes,
latencies and the SQLite writer's counters.

Who may scrape: anyone on loopback (a Prometheus or an agent on this host); with auth on,
any other address must send ``Authorization: Bearer`` with a token holding the viewer role on
the whole server (an admin's, or a token granted server viewer): 401 without one, 403 with
one that lacks it. With auth off the server is for its own machine, and /metrics stays open.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Iterator
from typing import Any

import orjson
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.access.entities import Kind, Role
from modelyard.access.service import AccessService
from modelyard.errors import PermissionDenied, Unauthenticated
from modelyard.server.responses import error_response
from modelyard.store.metadata.database import BATCH_BUCKETS, Database

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
STORE_ERRORS = frozenset({"STORE_UNAVAILABLE", "SCHEMA_OUTDATED", "STORAGE_FULL"})
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_ERROR_BODY_BYTES = 4096  # an error's JSON starts with its code; more is not read


class Metrics:
    """The app's own registry (two apps in one process do not share series)."""

    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        labels = ["route", "method"]
        self.requests = Counter(
            "modelyard_http_requests",
            "HTTP requests answered, by route template, method and status.",
            [*labels, "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelyard_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "modelyard_http_errors",
            "Error responses (status 400 and above), by route template and error code.",
            ["route", "code"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "modelyard_store_errors",
            "Requests that failed in the metadata or artifact store, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.registry.register(WriterCollector(db))

    def observe(self, route: str, method: str, status: int, seconds: float, code: str) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)
        if status >= 400:
            self.errors.labels(route, code).inc()
            if code in STORE_ERRORS:
                self.store_errors.labels(code).inc()


class WriterCollector(Collector):
    """The SQLite writer's counters, read at scrape time (nothing when writes run directly)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Any]:
        stats = self.db.writer_stats()
        if stats is None:
            return
        yield GaugeMetricFamily(
            "modelyard_sqlite_writer_queue_depth",
            "Write jobs waiting for the SQLite writer.",
            value=stats.queue_depth,
        )
        yield CounterMetricFamily(
            "modelyard_sqlite_writer_jobs", "Write jobs the SQLite writer ran.", value=stats.jobs
        )
        yield CounterMetricFamily(
            "modelyard_sqlite_writer_failed_batches",
            "Transactions of the SQLite writer that failed as a whole.",
            value=stats.failed_batches,
        )
        cumulative, buckets = 0, []
        for bound, count in zip(BATCH_BUCKETS, stats.batch_sizes, strict=True):
            cumulative += count
            buckets.append((str(bound), cumulative))
        buckets.append(("+Inf", stats.batches))
        yield HistogramMetricFamily(
            "modelyard_sqlite_writer_batch_size",
            "Jobs per transaction of the SQLite writer (group commit).",
            buckets=buckets,
            sum_value=stats.jobs,
        )


def route_template(scope: Scope) -> str:
    """The full template of the route that took the request, or ``unmatched``.

    A route of an included router knows only its own part (``/runs/{run_id}``); the prefix
    it was included under is the shortest start of the path after which that part matches.
    """
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path:path}}"
    template, regex = getattr(route, "path_format", None), getattr(route, "path_regex", None)
    if not isinstance(template, str) or regex is None:
        return "unmatched"
    path: str = scope["path"]
    cut = 0
    while cut != -1:
        if regex.match(path[cut:]):
            return path[:cut] + template
        cut = path.find("/", cut + 1)
    return template


class MetricsMiddleware:
    """Times every HTTP request and counts it by route template, method and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        error = bytearray()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif status >= 400 and len(error) < _ERROR_BODY_BYTES:
                error.extend(message.get("body", b"")[: _ERROR_BODY_BYTES - len(error)])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - start
            code = _error_code(bytes(error), status) if status >= 400 else ""
            self.metrics.observe(route_template(scope), scope["method"], status, seconds, code)


def _error_code(body: bytes, status: int) -> str:
    """The ``error_code`` of modelyard's (and MLflow's) error JSON, else ``HTTP_<status>``."""
    try:
        code = orjson.loads(body).get("error_code")
    except (orjson.JSONDecodeError, AttributeError):
        code = None
    return code if isinstance(code, str) and _CODE.match(code) else f"HTTP_{status}"


def _refusal(request: Request) -> Response | None:
    """None when the caller may scrape (see the module docstring), else the error answer."""
    if not getattr(request.app.state.settings, "auth", False):
        return None
    host = request.client.host if request.client is not None else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "/metrics from another host needs a token: Authorization: Bearer myt_..."
            )
        access: AccessService = request.app.state.services["access"]
        who = access.authenticate_token(token.strip(), host)
        held = access.role_on(who, Kind.SERVER, "")
        if held is None or held < Role.VIEWER:
            raise PermissionDenied(
                "/metrics needs a token with the viewer role on the server", needed="viewer"
            )
    except (Unauthenticated, PermissionDenied) as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    return None


def install_metrics(app: FastAPI) -> Metrics:
    """Serve GET /metrics and count every request; call once, after the app is built."""
    metrics = Metrics(app.state.artifacts.db)

    def scrape(request: Request) -> Response:
        refused = _refusal(request)
        if refused is not None:
            return refused
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # first, so the UI's catch-all mount never answers for it
    app.router.routes.insert(0, Route("/metrics", scrape, methods=["GET"], include_in_schema=False))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.metrics = metrics
    return metrics
