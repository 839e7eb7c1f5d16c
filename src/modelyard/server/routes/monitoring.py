"""/api/v1/monitoring: logged predictions, ground truth, quality, service health and drift."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from modelyard.monitoring import windows
from modelyard.monitoring.alerting import AlertService
from modelyard.monitoring.service import MonitoringService
from modelyard.server import permissions
from modelyard.server.deps import service
from modelyard.server.monitoring_schemas import LabelsIn, PredictionsIn
from modelyard.server.responses import JSONOut

router = APIRouter(prefix="/monitoring", tags=["monitoring"])
monitoring = service("monitoring", MonitoringService)
alerting = service("alerts", AlertService)

Window = Query("1h", max_length=16, description="30s, 5m, 1h, 1d, or seconds")


def _millis() -> Any:
    """A time in ms since the epoch (a Query object per parameter: FastAPI binds each once)."""
    return Query(None, ge=0, le=2**53, description="ms since the epoch")


@router.get("/deployments")
async def overview(
    request: Request, window: str = Window, svc: MonitoringService = Depends(monitoring)
) -> JSONOut:
    """Every monitored deployment (and SDK-logged model) the caller may read, with its latest
    window's figures."""
    seconds = windows.seconds(window)

    def job() -> list[dict[str, Any]]:
        visible = permissions.monitored_readable(request)
        return [e for e in svc.overview(seconds) if visible(e["name"])]

    return JSONOut({"deployments": await run_in_threadpool(job)})


@router.post("/deployments/{name}/predictions", status_code=201)
async def log_predictions(
    name: str, body: PredictionsIn, svc: MonitoringService = Depends(monitoring)
) -> JSONOut:
    """Batch predictions made outside a serving process, logged into the same store."""

    def job() -> list[str]:
        return svc.log_predictions(
            name, body.columns, body.data, body.predictions, model_version=body.model_version,
            ids=body.ids, proba=body.proba, classes=body.classes,
        )  # fmt: skip

    ids = await run_in_threadpool(job)
    return JSONOut({"logged": len(ids), "ids": ids}, status_code=201)


@router.post("/deployments/{name}/labels")
async def add_labels(
    name: str, body: LabelsIn, svc: MonitoringService = Depends(monitoring)
) -> JSONOut:
    """Ground truth by request id (and row): all or nothing, and resending changes nothing."""
    triples = [(item.request_id, item.row, item.label) for item in body.labels]
    accepted = await run_in_threadpool(svc.add_labels, name, triples)
    return JSONOut({"accepted": accepted})


@router.get("/deployments/{name}/quality")
async def quality(
    name: str,
    window: str = Window,
    since: int | None = _millis(),
    until: int | None = _millis(),
    segment: str | None = Query(None, max_length=256, description="a feature to split by"),
    version: int | None = Query(None, ge=1, le=2**31 - 1),
    task: str | None = Query(None, pattern="^(classification|regression)$"),
    svc: MonitoringService = Depends(monitoring),
) -> JSONOut:
    """Realized quality (from labels) and estimated quality (from the model's confidence)
    per window and model version."""
    seconds = windows.seconds(window)

    def job() -> dict[str, Any]:
        return svc.quality(
            name, window_s=seconds, since_ms=since, until_ms=until, segment=segment,
            version=version, task=task,
        )  # fmt: skip

    return JSONOut(await run_in_threadpool(job))


@router.get("/deployments/{name}/health")
async def health(
    name: str,
    window: str = Query("5m", max_length=16, description="30s, 5m, 1h, 1d, or seconds"),
    since: int | None = _millis(),
    until: int | None = _millis(),
    version: int | None = Query(None, ge=1, le=2**31 - 1),
    objective: float = Query(0.999, gt=0, lt=1, description="the availability objective"),
    svc: MonitoringService = Depends(monitoring),
) -> JSONOut:
    """Latency percentiles, throughput and errors per window; availability from the probe,
    with uptime and the error budget left."""
    seconds = windows.seconds(window)

    def job() -> dict[str, Any]:
        return svc.health(
            name, window_s=seconds, since_ms=since, until_ms=until, version=version,
            objective=objective,
        )  # fmt: skip

    return JSONOut(await run_in_threadpool(job))


def _drift_options(
    reference: str = Query("training", pattern="^(training|window)$"),
    reference_since: int | None = _millis(),
    reference_until: int | None = _millis(),
    since: int | None = _millis(),
    until: int | None = _millis(),
    version: int | None = Query(None, ge=1, le=2**31 - 1),
    columns: str | None = Query(None, max_length=10_000, description="comma-separated"),
) -> dict[str, Any]:
    return {
        "reference": reference,
        "reference_since_ms": reference_since,
        "reference_until_ms": reference_until,
        "since_ms": since,
        "until_ms": until,
        "version": version,
        "columns": [c for c in columns.split(",") if c] if columns else None,
    }


@router.get("/deployments/{name}/drift")
async def drift(
    name: str,
    options: dict[str, Any] = Depends(_drift_options),
    svc: MonitoringService = Depends(monitoring),
) -> JSONOut:
    """Drift per feature and of the predictions, against the training data or a window."""
    found = await run_in_threadpool(lambda: svc.drift(name, **options))
    return JSONOut(found.to_json())


@router.get("/deployments/{name}/report", response_class=HTMLResponse)
async def report(
    name: str,
    options: dict[str, Any] = Depends(_drift_options),
    svc: MonitoringService = Depends(monitoring),
) -> HTMLResponse:
    """The drift check as one self-contained HTML page (no scripts, no outside requests)."""
    page = await run_in_threadpool(lambda: svc.report_html(name, **options))
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
            "X-Content-Type-Options": "nosniff",
        },
    )
