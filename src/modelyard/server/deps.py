"""Dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from modelyard.datasets.service import DatasetsService
from modelyard.registry.promotions import PromotionService
from modelyard.registry.service import RegistryService
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.tracking.service import TrackingService


def tracking(request: Request) -> TrackingService:
    service: TrackingService = request.app.state.tracking
    return service


def registry(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.registry
    return service


def artifacts(request: Request) -> ArtifactRepository:
    repo: ArtifactRepository = request.app.state.artifacts
    return repo


def datasets(request: Request) -> DatasetsService:
    service: DatasetsService = request.app.state.datasets
    return service


def promotions(request: Request) -> PromotionService:
    service: PromotionService = request.app.state.promotions
    return service
