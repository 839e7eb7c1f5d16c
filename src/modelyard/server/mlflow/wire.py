"""MLflow's wire format: request fields in, proto3-style JSON out, MLflow's error codes.

The MLflow routes are a thin adapter: they translate, then call the same domain services as
modelyard's own API (see docs/mlflow.md).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request

from modelyard.errors import (
    AlreadyExists,
    InvalidInput,
    MalformedRequest,
    ModelyardError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    StoreUnavailable,
    Unauthenticated,
)
from modelyard.registry.entities import (
    LoggedModel,
    LoggedModelStatus,
    ModelVersion,
    RegisteredModel,
)
from modelyard.server.guard import parsed_json
from modelyard.tracking import batches
from modelyard.tracking.entities import Experiment, MetricPoints, Run, json_float

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow", "/api/3.0/mlflow")
RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"


def is_mlflow_path(path: str) -> bool:
    return path.startswith(PREFIXES) or path.startswith("/api/2.0/mlflow-artifacts")


def error_body(exc: ModelyardError) -> tuple[int, dict[str, Any]]:
    """MLflow's error shape and status for a modelyard error (a client mistake is never 5xx)."""
    if isinstance(exc, NotFound):
        code, status = "RESOURCE_DOES_NOT_EXIST", 404
    elif isinstance(exc, AlreadyExists):
        code, status = "RESOURCE_ALREADY_EXISTS", 400
    elif isinstance(exc, PayloadTooLarge):
        code, status = "INVALID_PARAMETER_VALUE", 413
    elif isinstance(exc, Unauthenticated):
        code, status = "UNAUTHENTICATED", 401
    elif isinstance(exc, PermissionDenied):
        code, status = "PERMISSION_DENIED", 403
    elif isinstance(exc, RateLimited):
        code, status = "REQUEST_LIMIT_EXCEEDED", 429
    elif isinstance(exc, StoreUnavailable):
        code, status = "TEMPORARILY_UNAVAILABLE", 503
    elif exc.status < 500:
        code, status = "INVALID_PARAMETER_VALUE", 400
    else:
        code, status = "INTERNAL_ERROR", 500
    return status, {"error_code": code, "message": exc.message}


async def fields(request: Request) -> dict[str, Any]:
    """The request message (see :func:`message`)."""
    return message(request)


def message(request: Request) -> dict[str, Any]:
    """The request message: the query string of a GET, the JSON body of any other method.

    Query arguments are never merged into a write (a link or a form could carry them); the
    guard has already parsed and bounded the body (see server/guard.py). The permission
    check reads the same message (server/finders.py).
    """
    if request.method in ("GET", "HEAD"):
        out: dict[str, Any] = {}
        for key in request.query_params:
            values = request.query_params.getlist(key)
            out[key] = values if len(values) > 1 else values[0]
        return out
    body = parsed_json(request.scope)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise MalformedRequest("request body must be a JSON object")
    return body


def run_id(message: dict[str, Any]) -> str:
    """The run a message names: ``run_id``, else MLflow's older ``run_uuid``."""
    value = message.get("run_id") or message.get("run_uuid")
    if not value:
        raise InvalidInput("Missing value for required parameter 'run_id'.", field="run_id")
    return str(value)


def required(message: dict[str, Any], name: str) -> Any:
    value = message.get(name)
    if value is None or value == "":
        raise InvalidInput(f"Missing value for required parameter '{name}'.", field=name)
    return value


def text(message: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = message.get(name, default)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"parameter '{name}' must be a string", field=name)
    return value


def integer(message: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = message.get(name)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"parameter '{name}' must be an integer, got {value!r}") from exc


def strings(message: dict[str, Any], name: str) -> list[str]:
    value = message.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise InvalidInput(f"parameter '{name}' must be a list of strings", field=name)
    return items


def number(value: Any, what: str) -> float:
    """A double as proto3 JSON carries it: a number, "NaN" / "Infinity" / "-Infinity", or "1.5"."""
    return batches.metric_value(value, what, decimal_strings=True)


def key_values(message: dict[str, Any], name: str) -> dict[str, str]:
    """``[{"key": k, "value": v}, ...]`` as a dict; a key given twice with two values is refused."""
    out: dict[str, str] = {}
    items = message.get(name) or []
    if not isinstance(items, list):
        raise InvalidInput(f"parameter '{name}' must be a list", field=name)
    for item in items:
        if not isinstance(item, dict) or "key" not in item:
            raise InvalidInput(f"each entry of '{name}' needs a key and a value", field=name)
        key, value = item["key"], item.get("value", "")
        value = "" if value is None else value
        if key in out and out[key] != str(value):
            raise InvalidInput(f"'{name}' sets {key!r} twice with different values", field=name)
        out[key] = value
    return out


def experiment_id(value: Any) -> int:
    try:
        number_ = int(str(value))
    except ValueError as exc:
        raise InvalidInput(f"experiment id {value!r} is not a valid id") from exc
    if number_ < 0:
        raise InvalidInput(f"experiment id {value!r} is not a valid id")
    return number_


def pairs(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def experiment_json(exp: Experiment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment_id": str(exp.id),
        "name": exp.name,
        "artifact_location": f"mlflow-artifacts:/{exp.id}",
        "lifecycle_stage": exp.lifecycle.value,
        "creation_time": exp.created_at,
        "last_update_time": exp.updated_at,
    }
    if exp.tags:
        out["tags"] = pairs(exp.tags)
    return out


def artifact_uri(run: Run) -> str:
    return f"mlflow-artifacts:/{run.experiment_id}/{run.id}/artifacts"


def run_info_json(run: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": str(run.experiment_id),
        "user_id": run.user,
        "status": run.status.value,
        "start_time": run.start_time,
        "artifact_uri": artifact_uri(run),
        "lifecycle_stage": run.lifecycle.value,
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run_json(
    run: Run,
    inputs: dict[str, Any] | None = None,
    models: dict[str, list[tuple[str, int]]] | None = None,
) -> dict[str, Any]:
    """A run as MLflow shows it; ``inputs`` its dataset inputs, ``models`` the logged
    models it read and produced ({"input"|"output": [(model_id, step)]})."""
    tags = {**run.tags, RUN_NAME_TAG: run.name}
    if run.parent_id is not None:
        tags[PARENT_TAG] = run.parent_id
    tags.setdefault(USER_TAG, run.user)
    metrics = [
        {"key": k, "value": json_float(m.last), "timestamp": m.timestamp, "step": m.step}
        for k, m in run.metrics.items()
    ]
    ins, outs = dict(inputs or {}), {}
    if models and models.get("input"):
        ins["model_inputs"] = [{"model_id": m} for m, _step in models["input"]]
    if models and models.get("output"):
        outs["model_outputs"] = [{"model_id": m, "step": s} for m, s in models["output"]]
    return {
        "info": run_info_json(run),
        "data": {"metrics": metrics, "params": pairs(run.params), "tags": pairs(tags)},
        "inputs": ins,
        "outputs": outs,
    }


def history_json(series: MetricPoints) -> list[dict[str, Any]]:
    """Every point, ordered as MLflow orders a history: timestamp, step, value."""
    rows = sorted(
        zip(series.timestamps.tolist(), series.steps.tolist(), series.values.tolist(), strict=True),
        key=lambda r: (r[0], r[1], math.inf if math.isnan(r[2]) else r[2]),
    )
    return [
        {"key": series.key, "value": json_float(v), "timestamp": t, "step": s} for t, s, v in rows
    ]


LOGGED_STATUS = {
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}


def logged_status(value: Any) -> LoggedModelStatus:
    for status, name in LOGGED_STATUS.items():
        if value in (name, status.value):
            return status
    raise InvalidInput(f"status {value!r} is not a logged model status", field="status")


def logged_model_json(model: LoggedModel) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": model.id,
        "experiment_id": str(model.experiment_id),
        "name": model.name,
        "creation_timestamp_ms": model.created_at,
        "last_updated_timestamp_ms": model.updated_at,
        "artifact_uri": f"mlflow-artifacts:/{model.experiment_id}/models/{model.id}/artifacts",
        "status": LOGGED_STATUS[model.status],
        "model_type": model.model_type,
        "status_message": model.status_message,
        "tags": pairs(model.tags),
    }
    if model.run_id:
        info["source_run_id"] = model.run_id
    metrics = [p.to_json() for p in model.metrics]
    return {"info": info, "data": {"params": pairs(model.params), "metrics": metrics}}


def version_json(version: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.created_at,
        "last_updated_timestamp": version.updated_at,
        "user_id": version.user,
        "current_stage": version.stage.value,
        "description": version.description,
        "source": version.source,
        "status": "READY",
        "tags": pairs(version.tags),
        "aliases": version.aliases,
    }
    if version.run_id:
        out["run_id"] = version.run_id
    if version.logged_model_id:
        out["model_id"] = version.logged_model_id
    return out


def registered_model_json(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "creation_timestamp": model.created_at,
        "last_updated_timestamp": model.updated_at,
        "user_id": model.user,
        "description": model.description,
        "latest_versions": [version_json(v) for v in model.latest.values()],
        "tags": pairs(model.tags),
        "aliases": [{"alias": a, "version": str(n)} for a, n in sorted(model.aliases.items())],
    }
