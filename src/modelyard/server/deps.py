"""Dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from modelyard.tracking.service import TrackingService


def tracking(request: Request) -> TrackingService:
    service: TrackingService = request.app.state.tracking
    return service
