"""/health (the process is up) and /ready (the store answers)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from modelyard import __version__
from modelyard.server.deps import tracking
from modelyard.server.responses import JSONOut
from modelyard.tracking.service import TrackingService

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> JSONOut:
    return JSONOut({"status": "ok", "version": __version__})


@router.get("/ready")
def ready(svc: TrackingService = Depends(tracking)) -> JSONOut:
    svc.db.ping()
    return JSONOut({"status": "ready"})
