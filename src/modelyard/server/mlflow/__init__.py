"""MLflow's REST API on modelyard's server: an unmodified ``mlflow`` client works against it.

Routes live under MLflow's own paths and keep MLflow's error codes (see docs/mlflow.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from modelyard.server.mlflow import (
    artifacts,
    datasets,
    experiments,
    logged_models,
    registry,
    runs,
    traces,
)
from modelyard.server.responses import JSONOut

_MODULES = (experiments, runs, datasets, logged_models, registry, traces)
# MLflow's request messages are JSON objects (fields per docs/mlflow.md); declared so the
# OpenAPI document, and the fuzzing run over it, cover these routes too.
_MESSAGE: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}}
        }
    }
}


def _tracking_router() -> APIRouter:
    router = APIRouter(tags=["mlflow"])
    for module in _MODULES:
        for route in module.router.routes:
            if isinstance(route, APIRoute) and set(route.methods or ()) - {"GET", "HEAD"}:
                route.openapi_extra = route.openapi_extra or _MESSAGE
        router.include_router(module.router)
    return router


def mount(app: FastAPI) -> None:
    """Add the MLflow routes: ``/api/2.0/mlflow`` (and the UI's ``/ajax-api``), artifacts."""
    tracking = _tracking_router()
    app.include_router(tracking, prefix="/api/2.0/mlflow")
    app.include_router(tracking, prefix="/ajax-api/2.0/mlflow", include_in_schema=False)
    app.include_router(artifacts.router, prefix="/api/2.0/mlflow-artifacts", tags=["mlflow"])
    app.include_router(traces.router, prefix="/api/3.0/mlflow", tags=["mlflow"])  # MLflow 3's

    @app.get("/api/3.0/mlflow/server-info", tags=["mlflow"])
    def server_info() -> JSONOut:
        return JSONOut(
            {
                "store_type": "modelyard",
                "workspaces_enabled": False,
                "multipart_uploads_enabled": False,
                "multipart_downloads_enabled": False,
            }
        )
