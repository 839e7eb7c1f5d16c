"""/api/v1: traces of an experiment or a run, and one trace with its spans (for the web UI)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from modelyard.server.deps import traces, tracking
from modelyard.server.responses import JSONOut
from modelyard.tracking.service import TrackingService
from modelyard.tracking.traces import Traces

router = APIRouter(tags=["traces"])


def _page(found: list[Any], token: str | None) -> JSONOut:
    return JSONOut({"traces": [t.to_json() for t in found], "next_page_token": token})


@router.get("/experiments/{experiment_id}/traces")
def experiment_traces(
    experiment_id: int,
    filter: str | None = None,
    order_by: list[str] = Query(default=[]),
    max_results: int = Query(default=100, ge=1, le=1000),
    page_token: str | None = None,
    t: Traces = Depends(traces),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """The experiment's traces, newest first; ``filter`` as in MLflow's ``search_traces``."""
    svc.get_experiment(experiment_id)
    return _page(*t.search([experiment_id], filter, order_by, max_results, page_token))


@router.get("/runs/{run_id}/traces")
def run_traces(
    run_id: str,
    max_results: int = Query(default=100, ge=1, le=1000),
    page_token: str | None = None,
    t: Traces = Depends(traces),
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    """The traces made inside the run or linked to it, newest first."""
    run = svc.get_run(run_id)
    query = f"run_id = '{run.id}'"
    return _page(*t.search([run.experiment_id], query, [], max_results, page_token))


@router.get("/traces/{trace_id}")
def get_trace(trace_id: str, t: Traces = Depends(traces)) -> JSONOut:
    """One trace: its info and its spans (bounded: see docs/mlflow.md, "Traces")."""
    info = t.get(trace_id)
    data = t.data(trace_id)
    return JSONOut(
        {
            "info": info.to_json(),
            "spans": [s.to_json() for s in data.spans],
            "problem": data.problem,
            "size": data.size,
        }
    )
