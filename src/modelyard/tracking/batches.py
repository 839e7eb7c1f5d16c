"""Turn the JSON of a write request into validated RunBatch objects before anything is written."""

from __future__ import annotations

import re
import uuid
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput, MalformedRequest
from modelyard.tracking import validation as v
from modelyard.tracking.entities import (
    MetricPoints,
    ModelMetric,
    RunBatch,
    RunCreate,
    RunStatus,
    RunUpdate,
)

SPECIAL = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf}
"""The strings that stand for the floats JSON cannot carry, spelled exactly so."""
_INT64 = (-(2**63), 2**63 - 1)
_DECIMAL = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FORMS = "a number or 'NaN'/'Infinity'/'-Infinity'"
_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
MAX_MODEL_METRICS = 1_000  # points for logged models in one batch


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedRequest(f"{what} must be a JSON object")
    return value


def metric_value(item: Any, what: str, *, decimal_strings: bool = False) -> float:
    """One metric value: a JSON number (never a bool or null) or a string of ``SPECIAL``.

    ``decimal_strings`` also admits a number written as a string (``"1.5"``, ``"-2e3"``, no
    spaces), as proto3 JSON allows for doubles; the MLflow routes take those, the native API not.
    """
    if item is None:
        raise InvalidInput(f"{what} is null; send {_FORMS}")
    if isinstance(item, bool):
        raise InvalidInput(f"{what} is a bool; send {_FORMS}")
    if isinstance(item, int | float):
        try:
            return float(item)
        except OverflowError:
            pass
    elif isinstance(item, str):
        if item in SPECIAL:
            return float(SPECIAL[item])
        if decimal_strings and _DECIMAL.fullmatch(item):
            return float(item)
    raise InvalidInput(f"{what} = {item!r} is not {_FORMS}")


def _floats(raw: Any, what: str) -> np.ndarray:
    if isinstance(raw, np.ndarray) and raw.dtype == np.float64:
        return raw
    if not isinstance(raw, list):
        raise MalformedRequest(f"{what} must be a JSON array")
    if set(map(type, raw)) <= {int, float}:  # the common case, in C: plain numbers only
        try:
            return np.array(raw, dtype=np.float64)
        except OverflowError:
            pass  # an integer beyond any double: the loop below names it
    out = np.empty(len(raw), dtype=np.float64)
    for i, item in enumerate(raw):
        out[i] = metric_value(item, f"{what}[{i}]")
    return out


def _ints(raw: Any, what: str) -> np.ndarray:
    if isinstance(raw, np.ndarray) and raw.dtype == np.int64:
        return raw
    if not isinstance(raw, list):
        raise MalformedRequest(f"{what} must be a JSON array of integers")
    try:
        arr = np.array(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"{what} must hold 64-bit integers") from exc
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    if arr.ndim != 1 or arr.dtype.kind != "i":
        raise InvalidInput(f"{what} must hold 64-bit integers")
    return arr.astype(np.int64, copy=False)


def parse_metrics(raw: Any, now: int) -> list[MetricPoints]:
    if not isinstance(raw, list):
        raise MalformedRequest("metrics must be a JSON array")
    merged: dict[str, list[MetricPoints]] = {}
    for i, item in enumerate(raw):
        item = _obj(item, f"metrics[{i}]")
        key = v.clean_key(item.get("key"), f"metrics[{i}].key")
        values = _floats(item.get("values"), f"metrics[{i}].values")
        n = len(values)
        steps = (
            _ints(item["steps"], f"metrics[{i}].steps")
            if item.get("steps") is not None
            else np.arange(n, dtype=np.int64)
        )
        stamps = (
            _ints(item["timestamps"], f"metrics[{i}].timestamps")
            if item.get("timestamps") is not None
            else np.full(n, now, dtype=np.int64)
        )
        if len(steps) != n or len(stamps) != n:
            raise InvalidInput(
                f"metrics[{i}] ({key!r}): steps, values and timestamps must have the same length "
                f"(got {len(steps)}, {n}, {len(stamps)})"
            )
        if n:
            merged.setdefault(key, []).append(MetricPoints(key, steps, values, stamps))
    out = []
    for key, parts in merged.items():
        if len(parts) == 1:
            out.append(parts[0])
        else:
            out.append(
                MetricPoints(
                    key,
                    np.concatenate([p.steps for p in parts]),
                    np.concatenate([p.values for p in parts]),
                    np.concatenate([p.timestamps for p in parts]),
                )
            )
    return out


def _status(raw: Any) -> RunStatus:
    try:
        return RunStatus(str(raw).upper())
    except ValueError as exc:
        raise InvalidInput(
            f"status {raw!r} is not one of {', '.join(s.value for s in RunStatus)}", field="status"
        ) from exc


def _opt_int(raw: Any, what: str) -> int | None:
    if raw is None:
        return None
    if type(raw) is not int or not _INT64[0] <= raw <= _INT64[1]:
        raise InvalidInput(f"{what} must be an integer (milliseconds since the epoch)", field=what)
    return raw


def parse_create(raw: Any) -> RunCreate:
    raw = _obj(raw, "create")
    exp_id = raw.get("experiment_id")
    if exp_id is not None and (type(exp_id) is not int):
        try:
            exp_id = int(exp_id)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("experiment_id must be an integer", field="experiment_id") from exc
    name = raw.get("experiment_name")
    return RunCreate(
        experiment_id=exp_id,
        experiment_name=v.clean_name(name, "experiment_name") if name is not None else None,
        name=v.clean_name(raw["name"], "run name") if raw.get("name") is not None else None,
        parent_id=v.clean_run_id(raw["parent_id"]) if raw.get("parent_id") else None,
        start_time=_opt_int(raw.get("start_time"), "start_time"),
        user=v.clean_name(raw["user"], "user", 250) if raw.get("user") else None,
    )


def parse_update(raw: Any) -> RunUpdate:
    raw = _obj(raw, "update")
    return RunUpdate(
        status=_status(raw["status"]) if raw.get("status") is not None else None,
        end_time=_opt_int(raw.get("end_time"), "end_time"),
        name=v.clean_name(raw["name"], "run name") if raw.get("name") is not None else None,
        notes=v.clean_notes(raw["notes"]) if raw.get("notes") is not None else None,
    )


def _pairs(raw: Any, what: str) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, list):  # [{"key": .., "value": ..}] as MLflow sends them
        raw = {_obj(p, what).get("key"): p.get("value") for p in raw}
    return v.clean_pairs(_obj(raw, what), what)


def _optional_text(item: dict[str, Any], name: str, max_length: int) -> str | None:
    value = item.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise InvalidInput(f"{name} must be a string of at most {max_length} characters")
    return value


def parse_model_metrics(raw: Any, run_id: str, now: int) -> list[ModelMetric]:
    """Points measured for logged models: ``[{"model_id", "key", "value", "step",
    "timestamp", "dataset_name"?, "dataset_digest"?}]``."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise MalformedRequest("model_metrics must be a JSON array")
    if len(raw) > MAX_MODEL_METRICS:
        raise InvalidInput(f"a batch may hold at most {MAX_MODEL_METRICS} model metric points")
    out = []
    for i, item in enumerate(raw):
        item = _obj(item, f"model_metrics[{i}]")
        model_id = item.get("model_id")
        if not isinstance(model_id, str) or not _MODEL_ID.fullmatch(model_id):
            raise InvalidInput(f"model_metrics[{i}].model_id {model_id!r} is not a model id")
        stamp = _opt_int(item.get("timestamp"), "timestamp")
        step = _opt_int(item.get("step"), "step")
        out.append(
            ModelMetric(
                model_id=model_id,
                key=v.clean_key(item.get("key"), f"model_metrics[{i}].key"),
                value=metric_value(item.get("value"), f"model_metrics[{i}].value"),
                step=0 if step is None else step,
                timestamp=now if stamp is None else stamp,
                run_id=run_id,
                dataset_name=_optional_text(item, "dataset_name", 500),
                dataset_digest=_optional_text(item, "dataset_digest", 64),
            )
        )
    return out


def parse_batch(raw: Any, now: int) -> RunBatch:
    """One run's batch; points for logged models (``model_metrics``) join the run's series too."""
    raw = _obj(raw, "batch")
    batch_id = raw.get("batch_id")
    if batch_id is not None and (not isinstance(batch_id, str) or not 0 < len(batch_id) <= 64):
        raise InvalidInput("batch_id must be a string of 1 to 64 characters", field="batch_id")
    run_id = v.clean_run_id(raw.get("run_id"))
    model_metrics = parse_model_metrics(raw.get("model_metrics"), run_id, now)
    series = raw.get("metrics") or []
    if model_metrics:
        if not isinstance(series, list):
            raise MalformedRequest("metrics must be a JSON array")
        series = series + [
            {"key": p.key, "values": [p.value], "steps": [p.step], "timestamps": [p.timestamp]}
            for p in model_metrics
        ]
    return RunBatch(
        run_id=run_id,
        batch_id=batch_id,
        create=parse_create(raw["create"]) if raw.get("create") is not None else None,
        params=_pairs(raw.get("params"), "param"),
        tags=_pairs(raw.get("tags"), "tag"),
        metrics=parse_metrics(series, now),
        update=parse_update(raw["update"]) if raw.get("update") is not None else None,
        model_metrics=model_metrics,
    )


def parse_batches(raw: Any, now: int) -> list[RunBatch]:
    """Validate a whole ingest request; any error rejects it before a single write."""
    raw = _obj(raw, "request body")
    items = raw.get("batches")
    if not isinstance(items, list):
        raise MalformedRequest("'batches' must be a JSON array")
    return [parse_batch(item, now) for item in items]


def new_run_id() -> str:
    return uuid.uuid4().hex
