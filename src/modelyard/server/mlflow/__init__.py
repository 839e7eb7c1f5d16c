"""MLflow's REST API on modelyard's server: an unmodified ``mlflow`` client works against it.

Routes live under MLflow's own paths and keep MLflow's error codes (see docs/mlflow.md).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from modelyard.server.mlflow import (
    artifacts,
    datasets,
    experiments,
    logged_models,
    registry,
    runs,
)
from modelyard.server.responses import JSONOut


def _tracking_router() -> APIRouter:
    router = APIRouter()
    router.include_router(experiments.router)
    router.include_router(runs.router)
    router.include_router(datasets.router)
    router.include_router(logged_models.router)
    router.include_router(registry.router)
    return router


def mount(app: FastAPI) -> None:
    """Add the MLflow routes: ``/api/2.0/mlflow`` (and the UI's ``/ajax-api``), artifacts."""
    tracking = _tracking_router()
    app.include_router(tracking, prefix="/api/2.0/mlflow", include_in_schema=False)
    app.include_router(tracking, prefix="/ajax-api/2.0/mlflow", include_in_schema=False)
    app.include_router(
        artifacts.router, prefix="/api/2.0/mlflow-artifacts", include_in_schema=False
    )

    @app.get("/api/3.0/mlflow/server-info", include_in_schema=False)
    def server_info() -> JSONOut:
        return JSONOut(
            {
                "store_type": "modelyard",
                "workspaces_enabled": False,
                "multipart_uploads_enabled": False,
                "multipart_downloads_enabled": False,
            }
        )
