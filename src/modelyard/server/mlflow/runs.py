"""MLflow's runs, metrics and search API (``/api/2.0/mlflow/runs/*``, ``metrics/*``).

Every write becomes one modelyard batch, validated by the same parser as ``/api/v1/ingest``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from modelyard.access.entities import Kind
from modelyard.datasets.entities import DatasetUse, DatasetVersion
from modelyard.datasets.service import DatasetsService
from modelyard.errors import InvalidInput, NotFound
from modelyard.registry.service import RegistryService
from modelyard.server import permissions
from modelyard.server.deps import datasets, registry, tracking
from modelyard.server.identity import Identity
from modelyard.server.mlflow import wire
from modelyard.server.mlflow.datasets import dataset_inputs
from modelyard.server.mlflow.experiments import view_type
from modelyard.server.responses import JSONOut
from modelyard.server.run_access import authorize_batches, require_runs
from modelyard.tracking import batches
from modelyard.tracking.entities import DEFAULT_EXPERIMENT, Run
from modelyard.tracking.service import MAX_SEARCH_RESULTS, TrackingService
from modelyard.tracking.validation import plain_int

router = APIRouter()
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTITIES = 1000, 100, 100, 1000
MAX_SEARCH = 50_000
MAX_BULK_RUNS, MAX_BULK_POINTS = 100, 10_000


def _metrics(items: Any) -> dict[str, list[dict[str, Any]]]:
    """MLflow's one-point-per-entry metrics as a batch's ``metrics`` (series, one per key,
    order kept) and ``model_metrics`` (the points that name a logged model, MLflow 3)."""
    if not isinstance(items, list):
        raise InvalidInput("'metrics' must be a list", field="metrics")
    now = int(time.time() * 1000)
    series: dict[str, dict[str, list[Any]]] = {}
    for_models: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"metrics[{i}] must be an object", field="metrics")
        key = wire.required(item, "key")
        if "value" not in item or item["value"] is None:
            raise InvalidInput(f"Missing value for required parameter 'value' (metric {key!r}).")
        value = wire.number(item["value"], f"metric {key!r}")
        step, stamp = wire.integer(item, "step", 0), wire.integer(item, "timestamp", now)
        if item.get("model_id"):  # the batch adds it to the run's series as well
            for_models.append(
                {
                    "model_id": item["model_id"],
                    "key": key,
                    "value": value,
                    "step": step,
                    "timestamp": stamp,
                    "dataset_name": item.get("dataset_name"),
                    "dataset_digest": item.get("dataset_digest"),
                }
            )
            continue
        s = series.setdefault(key, {"steps": [], "values": [], "timestamps": []})
        s["values"].append(value)
        s["steps"].append(step)
        s["timestamps"].append(stamp)
    return {"metrics": [{"key": k, **s} for k, s in series.items()], "model_metrics": for_models}


def _apply(request: Request, svc: TrackingService, payload: dict[str, Any]) -> None:
    """One batch, checked per run (server/run_access.py), as the caller."""
    batch = batches.parse_batch(payload, int(time.time() * 1000))
    who: Identity = request.state.identity
    svc.ingest(authorize_batches(request, svc, [batch]), user=who.name)


async def _write(
    request: Request, svc: TrackingService, m: dict[str, Any], **parts: Any
) -> JSONOut:
    payload = {"run_id": wire.run_id(m), **parts}
    await run_in_threadpool(_apply, request, svc, payload)
    return JSONOut({})


def _inputs(
    request: Request, data: DatasetsService, run_ids: list[str]
) -> dict[str, list[tuple[DatasetUse, DatasetVersion]]]:
    """The dataset versions each run read, of the datasets the caller may read."""
    found = data.inputs(run_ids)
    readable = permissions.readable(request, Kind.DATASET)
    if readable is None:
        return found
    return {r: [p for p in pairs if p[1].name in readable] for r, pairs in found.items()}


def _name_update(tags: dict[str, str]) -> dict[str, Any] | None:
    """MLflow renames a run by setting its ``mlflow.runName`` tag."""
    name = tags.get(wire.RUN_NAME_TAG)
    return {"name": name} if name else None


@router.post("/runs/create")
async def create(
    request: Request,
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    m = await wire.fields(request)
    tags = wire.key_values(m, "tags")
    exp = m.get("experiment_id")
    spec: dict[str, Any] = {
        "name": m.get("run_name") or tags.get(wire.RUN_NAME_TAG) or None,
        "parent_id": tags.get(wire.PARENT_TAG) or None,
        "start_time": wire.integer(m, "start_time"),
        "user": m.get("user_id") or tags.get(wire.USER_TAG) or None,
    }
    if exp in (None, "", "0", 0):
        spec["experiment_name"] = DEFAULT_EXPERIMENT
    else:
        spec["experiment_id"] = wire.experiment_id(exp)
    run_id = batches.new_run_id()
    payload = {"run_id": run_id, "create": spec, "tags": tags}

    def job() -> Run:
        _apply(request, svc, payload)
        return svc.get_run(run_id)

    run = await run_in_threadpool(job)
    return JSONOut({"run": wire.run_json(run)})


@router.get("/runs/get")
async def get(
    request: Request,
    svc: TrackingService = Depends(tracking),
    data: DatasetsService = Depends(datasets),
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    m = await wire.fields(request)
    run = await run_in_threadpool(svc.get_run, wire.run_id(m))
    inputs = await run_in_threadpool(_inputs, request, data, [run.id])
    models = await run_in_threadpool(reg.run_models, [run.id])
    view = wire.run_json(run, dataset_inputs(inputs.get(run.id, [])), models.get(run.id))
    return JSONOut({"run": view})


@router.post("/runs/update")
async def update(
    request: Request,
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    m = await wire.fields(request)
    run_id = wire.run_id(m)
    change: dict[str, Any] = {}
    if m.get("status"):
        change["status"] = m["status"]
        change["end_time"] = wire.integer(m, "end_time")
    elif m.get("end_time") is not None:
        change["end_time"] = wire.integer(m, "end_time")
    if m.get("run_name"):
        change["name"] = m["run_name"]

    def job() -> Run:
        if change:
            _apply(request, svc, {"run_id": run_id, "update": change})
        return svc.get_run(run_id)

    run = await run_in_threadpool(job)
    return JSONOut({"run_info": wire.run_info_json(run)})


@router.post("/runs/delete")
async def delete(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    await run_in_threadpool(svc.delete_run, wire.run_id(m))
    return JSONOut({})


@router.post("/runs/restore")
async def restore(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    await run_in_threadpool(svc.restore_run, wire.run_id(m))
    return JSONOut({})


@router.post("/runs/log-metric")
async def log_metric(
    request: Request,
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    m = await wire.fields(request)
    wire.required(m, "timestamp")
    return await _write(request, svc, m, **_metrics([m]))


@router.post("/runs/log-parameter")
async def log_param(
    request: Request,
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    m = await wire.fields(request)
    key = wire.required(m, "key")
    if m.get("value") is None:
        raise InvalidInput("Missing value for required parameter 'value'.", field="value")
    return await _write(request, svc, m, params={key: m["value"]})


@router.post("/runs/set-tag")
async def set_tag(
    request: Request,
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    m = await wire.fields(request)
    value = m.get("value")
    tags = {str(wire.required(m, "key")): "" if value is None else str(value)}
    return await _write(request, svc, m, tags=tags, update=_name_update(tags))


@router.post("/runs/delete-tag")
async def delete_tag(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    await run_in_threadpool(svc.delete_run_tag, wire.run_id(m), wire.required(m, "key"))
    return JSONOut({})


@router.post("/runs/log-batch")
async def log_batch(
    request: Request,
    svc: TrackingService = Depends(tracking),
) -> JSONOut:
    m = await wire.fields(request)
    raw_metrics = m.get("metrics") or []
    params, tags = wire.key_values(m, "params"), wire.key_values(m, "tags")
    counts = (len(raw_metrics), len(params), len(tags))
    if counts[0] > MAX_METRICS or counts[1] > MAX_PARAMS or counts[2] > MAX_TAGS:
        raise InvalidInput(
            f"A batch logging request can contain at most {MAX_METRICS} metrics, "
            f"{MAX_PARAMS} params and {MAX_TAGS} tags; got {counts[0]}, {counts[1]}, {counts[2]}"
        )
    if sum(counts) > MAX_ENTITIES:
        raise InvalidInput(f"A batch logging request can contain at most {MAX_ENTITIES} entities")
    return await _write(
        request,
        svc,
        m,
        **_metrics(raw_metrics),
        params=params,
        tags=tags,
        update=_name_update(tags),
    )


@router.get("/metrics/get-history")
async def get_history(request: Request, svc: TrackingService = Depends(tracking)) -> JSONOut:
    m = await wire.fields(request)
    run_id, key = wire.run_id(m), str(wire.required(m, "metric_key"))

    def job() -> list[dict[str, Any]]:
        try:
            run = svc.get_run(run_id)
        except NotFound:
            return []  # MLflow's answer for a run it does not know, too
        if key not in run.metrics:
            return []  # as MLflow answers: loops over runs x keys rely on it
        series, _total = svc.metric_history(run_id, key)
        return wire.history_json(series)

    points = await run_in_threadpool(job)
    limit = wire.integer(m, "max_results")
    offset = plain_int(str(m.get("page_token") or "0"), "page_token")
    out: dict[str, Any] = {}
    if limit is None:
        out["metrics"] = points
    else:
        out["metrics"] = points[offset : offset + limit]
        if offset + limit < len(points):
            out["next_page_token"] = str(offset + limit)
    return JSONOut(out)


@router.get("/metrics/get-history-bulk-interval")
async def get_history_bulk_interval(
    request: Request, svc: TrackingService = Depends(tracking)
) -> JSONOut:
    """One metric of several runs, each downsampled (keeping its shape) within a step window."""
    m = await wire.fields(request)
    run_ids = wire.strings(m, "run_ids")
    if not run_ids:
        raise InvalidInput("Missing value for required parameter 'run_ids'.", field="run_ids")
    if len(run_ids) > MAX_BULK_RUNS:
        raise InvalidInput(f"at most {MAX_BULK_RUNS} run_ids per request", field="run_ids")
    key = str(wire.required(m, "metric_key"))
    max_points = wire.integer(m, "max_results", 320) or 320
    if not 1 <= max_points <= MAX_BULK_POINTS:
        raise InvalidInput(f"max_results must be between 1 and {MAX_BULK_POINTS}")
    start, end = wire.integer(m, "start_step"), wire.integer(m, "end_step")

    def job() -> list[dict[str, Any]]:
        require_runs(request, run_ids)
        out = []
        for run_id in run_ids:
            if key not in svc.get_run(run_id).metrics:
                continue  # a run without the metric has no points (MLflow's answer)
            series, _total = svc.metric_history(
                run_id, key, max_points=max_points, x_min=start, x_max=end
            )
            out += [{**p, "run_id": run_id} for p in wire.history_json(series)]
        return out

    return JSONOut({"metrics": await run_in_threadpool(job)})


@router.post("/runs/search")
async def search(
    request: Request,
    svc: TrackingService = Depends(tracking),
    data: DatasetsService = Depends(datasets),
    reg: RegistryService = Depends(registry),
) -> JSONOut:
    m = await wire.fields(request)
    max_results = wire.integer(m, "max_results", 1000)
    assert max_results is not None
    if not 1 <= max_results <= MAX_SEARCH:
        raise InvalidInput(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at "
            f"most {MAX_SEARCH}",
            field="max_results",
        )
    ids = [wire.experiment_id(e) for e in wire.strings(m, "experiment_ids")]
    readable = await run_in_threadpool(permissions.readable, request, Kind.EXPERIMENT)
    page = await run_in_threadpool(
        lambda: svc.search_runs(
            ids or None,
            wire.text(m, "filter"),
            wire.strings(m, "order_by"),
            min(max_results, MAX_SEARCH_RESULTS),
            wire.text(m, "page_token"),
            view_type(m, "run_view_type"),
            readable,
            text_order=True,  # MLflow orders params and tags as text
        )
    )
    run_ids = [r.id for r in page.runs]
    inputs = await run_in_threadpool(_inputs, request, data, run_ids)
    models = await run_in_threadpool(reg.run_models, run_ids)
    out: dict[str, Any] = {
        "runs": [
            wire.run_json(r, dataset_inputs(inputs.get(r.id, [])), models.get(r.id))
            for r in page.runs
        ]
    }
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return JSONOut(out)
