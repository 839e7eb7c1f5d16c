"""The embedded store: one set of stores and domain services per store URI per process.

Every SDK client of an embedded store (``sqlite:///...``, a path, ``postgresql://...``) calls
these services in process, the same ones the server uses; one ``Database`` means one SQLite
writer however many clients are open. Heavy modules load on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from modelyard import config
from modelyard.tracking.shared import Shared

if TYPE_CHECKING:
    from modelyard.datasets.service import DatasetsService
    from modelyard.registry.promotions import PromotionService
    from modelyard.registry.service import RegistryService
    from modelyard.serving.deployments import DeploymentService
    from modelyard.store.stores import Stores
    from modelyard.tracking.service import TrackingService


@dataclass(frozen=True, slots=True)
class Services:
    """The domain services over one embedded store, shared by the SDK clients of a process."""

    key: str
    stores: Stores
    tracking: TrackingService
    registry: RegistryService
    datasets: DatasetsService
    promotions: PromotionService
    deployments: DeploymentService


def artifacts_beside(url: str) -> str:
    """The artifact folder that goes with a store: MODELYARD_ARTIFACTS_URI, or beside the DB."""
    explicit = config.ARTIFACTS_URI.get()
    if explicit:
        return explicit
    if url.startswith("sqlite:///"):
        return str(Path(url[len("sqlite:///") :]).parent / "artifacts")
    return config.default_artifacts_uri()


def _open(key: str) -> Services:
    from modelyard.datasets.service import DatasetsService
    from modelyard.registry.promotions import PromotionService
    from modelyard.registry.service import RegistryService
    from modelyard.serving.deployments import DeploymentService
    from modelyard.store.stores import open_stores
    from modelyard.tracking.service import TrackingService

    url, artifacts = key.split("\n", 1)
    stores = open_stores(url, artifacts)
    registry = RegistryService(stores.db, stores.artifacts)
    return Services(
        key,
        stores,
        TrackingService(stores.db, stores.artifacts),
        registry,
        DatasetsService(stores.db, stores.artifacts),
        PromotionService(registry),
        DeploymentService(stores.db),
    )


_services: Shared[Services] = Shared(_open, lambda s: s.stores.close())


def acquire(uri: str) -> Services:
    """The services of the store at ``uri``, opened on first use; ``release`` them when done."""
    from modelyard.store.metadata.database import normalize_url

    url = normalize_url(uri)
    return _services.acquire(f"{url}\n{artifacts_beside(url)}")


def release(services: Services) -> None:
    _services.release(services.key)


def close_all() -> None:
    """Close every embedded store of this process (done at exit)."""
    _services.close_all()


def put_files(services: Services, files: dict[str, Path]) -> dict[str, str]:
    """Store each file's content (kept once by digest); returns ``{name: sha256}``."""
    content = services.stores.artifacts.content
    out: dict[str, str] = {}
    for name, path in files.items():
        with path.open("rb") as handle:
            out[name] = content.put(handle).digest
    return out


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """An open stored file in 1 MiB chunks, closed at the end."""
    with handle:
        while chunk := handle.read(1 << 20):
            yield chunk
