"""The application factory: no work at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from importlib import resources

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from modelyard import __version__, config
from modelyard.access.oidc import OidcSettings
from modelyard.server import errors
from modelyard.server.audit import install_audit
from modelyard.server.domains import BUILT_IN, Domain
from modelyard.server.guard import (
    LOOPBACK_HOSTS,
    RequestGuard,
    allowed_hosts,
)
from modelyard.server.identity import identify
from modelyard.server.limits import install_limits
from modelyard.server.metrics import install_metrics
from modelyard.store.stores import open_stores

_NO_UI = """<!doctype html><html><head><meta charset="utf-8"><title>modelyard</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto">
<h1>modelyard {version}</h1>
<p>The REST API is up: <a href="/docs">/docs</a> (OpenAPI: <a href="/openapi.json">/openapi.json</a>).</p>
<p>The web UI is not built in this install. Build it with <code>cd ui && npm ci && npm run build</code>.</p>
</body></html>"""


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _route_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path  # as Starlette does


class PrefixRouter(APIRouter):
    """An APIRouter that says at once that a path outside its prefix is none of its routes.

    FastAPI keeps included routers nested and asks every route of every included router in
    turn, twice per request (to match, then to handle): /api/v1's routes cost every MLflow
    request ~1 ms of CPU, though none of them can answer it."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path, prefix = _route_path(scope), self.prefix
        if prefix and path != prefix and not path.startswith(prefix + "/"):
            return Match.NONE, {}
        return super().matches(scope)


@dataclass(frozen=True)
class ServerSettings:
    store_uri: str
    artifacts_uri: str
    max_body_bytes: int = 64 << 20
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS  # Host names it answers to; "*": any
    url: str | None = None  # where this server answers (for the serving processes it starts)
    supervise: bool = True  # start and keep the "process" deployments' serving processes
    auth: bool = False  # access control: credentials on every request, roles on every route
    tls: bool = False  # served over https (the UI's session cookie is then Secure)
    admin_password: str | None = None  # the first admin's password (else a generated one)
    oidc: OidcSettings | None = None  # the web UI's single sign-on provider (None: none)


def default_settings() -> ServerSettings:
    return ServerSettings(
        store_uri=config.STORE_URI.get() or config.default_store_uri(),
        artifacts_uri=config.ARTIFACTS_URI.get() or config.default_artifacts_uri(),
        max_body_bytes=config.MAX_BODY_MB.get() << 20,
        allowed_hosts=allowed_hosts("127.0.0.1", config.ALLOWED_HOSTS.get().split(",")),
        auth=config.AUTH.get(),
        admin_password=config.ADMIN_PASSWORD.get() or None,
        oidc=OidcSettings.from_config(),
    )


def create_app(
    settings: ServerSettings | None = None, domains: Sequence[Domain] = BUILT_IN
) -> FastAPI:
    """Open the stores and build the ASGI app from ``domains`` (the built-in ones by default)."""
    settings = settings or default_settings()
    stores = open_stores(settings.store_uri, settings.artifacts_uri)
    services: dict[str, object] = {}
    for domain in domains:
        if domain.build is not None:
            services[domain.name] = domain.build(stores, services)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as running:
            for domain in domains:
                if domain.running is not None:
                    running.enter_context(domain.running(services[domain.name], settings))
            yield
        stores.db.close()

    app = FastAPI(
        lifespan=lifespan,
        title="modelyard",
        version=__version__,
        dependencies=[Depends(identify)],
        openapi_url=None,  # served by _api_docs, behind the same permission check as the API
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.artifacts = stores.artifacts
    app.state.settings = settings
    errors.install(app)

    api = PrefixRouter(prefix="/api/v1")
    for domain in domains:
        for router in domain.routers:
            api.include_router(router)
    app.include_router(api)
    for domain in domains:
        if domain.mount is not None:
            domain.mount(app)
    _api_docs(app)
    _api_not_found(app)
    _mount_ui(app)
    install_audit(app)  # inner: sees the identity and the answer of every write
    install_limits(app)  # before any route or credential check runs
    app.add_middleware(
        RequestGuard,
        hosts=settings.allowed_hosts,
        max_body_bytes=settings.max_body_bytes,
    )
    install_metrics(app)  # outermost: counts what the guard refuses too

    return app


class SinglePageApp(StaticFiles):
    """The built UI: files as they are, hashed assets cached for good, and index.html for
    every other page path (the app routes on the client). /api never reaches it."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            response = await super().get_response("index.html", scope)
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response


def _api_docs(app: FastAPI) -> None:
    """/openapi.json and /docs as routes of the app, so they pass its dependencies (with auth
    on: a signed-in caller; FastAPI's own would answer anyone)."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API")


def _api_not_found(app: FastAPI) -> None:
    """API paths no route takes: JSON errors, never the UI's page."""

    def no_endpoint(request: Request) -> Response:
        """405 when a route has the path for other methods, else 404."""
        partial = any(
            route.matches(request.scope)[0] == Match.PARTIAL for route in app.router.routes
        )
        if partial:
            raise HTTPException(405, f"{request.method} is not allowed on {request.url.path}")
        raise HTTPException(404, f"no endpoint at {request.url.path}")

    for prefix in ("/api", "/ajax-api"):
        app.add_api_route(
            prefix + "/{rest:path}", no_endpoint, methods=ALL_METHODS, include_in_schema=False
        )


def _mount_ui(app: FastAPI) -> None:
    ui = resources.files("modelyard.server") / "ui"
    if ui.is_dir() and (ui / "index.html").is_file():
        app.mount("/", SinglePageApp(directory=str(ui), html=True), name="ui")
        return

    @app.get("/", include_in_schema=False)
    def no_ui() -> Response:
        return HTMLResponse(_NO_UI.format(version=__version__))
