"""A domain registered through the interface gets its service built and its routes served."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import APIRouter, Depends
from sqlalchemy import func, select

from modelyard.errors import NotFound
from modelyard.server import deps
from modelyard.server.app import ServerSettings
from modelyard.server.domains import BUILT_IN, Domain, Services
from modelyard.server.responses import JSONOut
from modelyard.store.metadata.database import Database
from modelyard.store.metadata.tables import experiments
from modelyard.store.stores import Stores
from modelyard.testing.server import live_server
from modelyard.tracking.service import TrackingService


class Census:
    """A toy domain service: counts experiments in the metadata store."""

    def __init__(self, db: Database, tracking: TrackingService) -> None:
        self.db = db
        self.tracking = tracking

    def experiments(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(experiments)).scalar_one())


router = APIRouter(prefix="/census")


@router.get("/experiments")
def count(census: Census = Depends(deps.service("census", Census))) -> JSONOut:
    return JSONOut({"experiments": census.experiments()})


@router.get("/tracking")
def shared(
    census: Census = Depends(deps.service("census", Census)),
    tracking: TrackingService = Depends(deps.tracking),
) -> JSONOut:
    """The service built for the census domain got the tracking domain's own service."""
    return JSONOut({"shared": census.tracking is tracking})


@router.get("/missing")
def missing() -> JSONOut:
    raise NotFound("nothing here", what="census")


def _build(stores: Stores, built: Services) -> Census:
    return Census(stores.db, built["tracking"])


CENSUS = Domain("census", _build, (router,))


def test_a_registered_domain_is_served(tmp_path: Path) -> None:
    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "art"))
    with live_server(settings, (*BUILT_IN, CENSUS)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/v1/census/experiments").json() == {"experiments": 1}  # Default
        assert client.post("/api/v1/experiments", json={"name": "e"}).status_code == 201
        assert client.get("/api/v1/census/experiments").json() == {"experiments": 2}
        assert client.get("/api/v1/census/tracking").json() == {"shared": True}
        missing = client.get("/api/v1/census/missing")
        assert missing.status_code == 404
        assert missing.json() == {
            "error_code": "RESOURCE_DOES_NOT_EXIST",
            "message": "nothing here",
            "details": {"what": "census"},
        }
        # the built-in parts keep working beside it
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=e").is_success


def test_without_a_domain_its_routes_are_not_found(tmp_path: Path) -> None:
    settings = ServerSettings(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "art"))
    only = tuple(d for d in BUILT_IN if d.name in ("tracking", "health"))
    with live_server(settings, only) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/v1/experiments").status_code == 200
        gone = client.get("/api/v1/models")
        assert (gone.status_code, gone.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
        assert client.get("/api/2.0/mlflow/experiments/search").status_code == 404
