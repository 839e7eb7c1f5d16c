"""/api/v1/experiments/{experiment_id}/views: saved views of an experiment's runs page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from modelyard.server.deps import tracking
from modelyard.server.identity import Identity, identify
from modelyard.server.responses import JSONOut
from modelyard.server.view_schemas import SavedViewIn, SavedViewOut, SavedViewUpdateIn
from modelyard.tracking.service import TrackingService
from modelyard.tracking.views import SavedViews

router = APIRouter(prefix="/experiments/{experiment_id}/views", tags=["saved views"])
_ONE: dict[int | str, dict[str, Any]] = {200: {"model": SavedViewOut}}


def saved_views(svc: TrackingService = Depends(tracking)) -> SavedViews:
    return SavedViews(svc.db)


@router.get("", responses={200: {"model": list[SavedViewOut]}})
def list_views(experiment_id: int, views: SavedViews = Depends(saved_views)) -> JSONOut:
    """The experiment's saved views, by name."""
    return JSONOut([view.to_json() for view in views.list(experiment_id)])


@router.post("", responses={201: {"model": SavedViewOut}}, status_code=201)
def create_view(
    experiment_id: int,
    body: SavedViewIn,
    identity: Identity = Depends(identify),
    views: SavedViews = Depends(saved_views),
) -> JSONOut:
    view = views.create(experiment_id, body.name, body.query, owner=identity.name)
    return JSONOut(view.to_json(), status_code=201)


@router.get("/{view_id}", responses=_ONE)
def get_view(experiment_id: int, view_id: int, views: SavedViews = Depends(saved_views)) -> JSONOut:
    return JSONOut(views.get(experiment_id, view_id).to_json())


@router.patch("/{view_id}", responses=_ONE)
def update_view(
    experiment_id: int,
    view_id: int,
    body: SavedViewUpdateIn,
    views: SavedViews = Depends(saved_views),
) -> JSONOut:
    """Rename the view or replace its query string."""
    view = views.update(experiment_id, view_id, name=body.name, query=body.query)
    return JSONOut(view.to_json())


@router.delete("/{view_id}", status_code=204)
def delete_view(experiment_id: int, view_id: int, views: SavedViews = Depends(saved_views)) -> None:
    views.delete(experiment_id, view_id)
