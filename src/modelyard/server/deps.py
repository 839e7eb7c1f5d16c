"""Dependencies shared by the routers: one generic way to reach a domain's service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request

from modelyard.datasets.service import DatasetsService
from modelyard.registry.promotions import PromotionService
from modelyard.registry.service import RegistryService
from modelyard.store.artifacts.repository import ArtifactRepository
from modelyard.tracking.service import TrackingService
from modelyard.tracking.traces import Traces

T = TypeVar("T")


def service_of(request: Request, name: str, kind: type[T]) -> T:
    """The service the domain ``name`` built (see server/domains.py)."""
    found = request.app.state.services[name]
    if not isinstance(found, kind):
        raise TypeError(f"domain {name!r} serves {type(found).__name__}, not {kind.__name__}")
    return found


def service(name: str, kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency giving the service the domain ``name`` built.

    A coroutine: FastAPI runs a plain function dependency in its thread pool, a thread hop
    on every request for a dictionary lookup."""

    async def get(request: Request) -> T:
        return service_of(request, name, kind)

    get.__name__ = f"{name}_service"
    return get


tracking = service("tracking", TrackingService)
registry = service("registry", RegistryService)
datasets = service("datasets", DatasetsService)
promotions = service("promotions", PromotionService)


async def artifacts(request: Request) -> ArtifactRepository:
    repo: ArtifactRepository = request.app.state.artifacts
    return repo


async def traces(request: Request) -> Traces:
    """Traces live in the tracking domain's stores."""
    svc = service_of(request, "tracking", TrackingService)
    return Traces(svc.db, svc.artifacts)
