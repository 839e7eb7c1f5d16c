"""Models logged by runs (MLflow 3's logged models) in the metadata store."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, or_, select

from modelyard.errors import InvalidState, NotFound
from modelyard.registry.entities import LoggedModel, LoggedModelStatus
from modelyard.store.metadata import docs
from modelyard.store.metadata.sql import chunked, now_ms
from modelyard.store.metadata.tables import logged_model_metrics, logged_models, run_models
from modelyard.tracking.entities import ModelMetric

Direction = str  # "input" | "output"


def _metric(row: Row[Any]) -> ModelMetric:
    m = row._mapping
    return ModelMetric(
        model_id=m["model_id"],
        key=m["key"],
        value=math.nan if m["value"] is None else float(m["value"]),
        step=int(m["step"]),
        timestamp=int(m["timestamp"]),
        run_id=m["run_id"],
        dataset_name=m["dataset_name"],
        dataset_digest=m["dataset_digest"],
    )


def metrics_of(conn: Connection, model_ids: Sequence[str]) -> dict[str, list[ModelMetric]]:
    """Every metric point of these models, in the order they were logged."""
    out: dict[str, list[ModelMetric]] = {}
    for ids in chunked(list(model_ids)):
        query = (
            select(logged_model_metrics)
            .where(logged_model_metrics.c.model_id.in_(ids))
            .order_by(logged_model_metrics.c.id)
        )
        for row in conn.execute(query):
            point = _metric(row)
            out.setdefault(point.model_id, []).append(point)
    return out


def add_metrics(conn: Connection, points: Sequence[ModelMetric]) -> None:
    """Record points for logged models (each model must exist: NotFound otherwise)."""
    wanted = sorted({p.model_id for p in points})
    found = set(
        conn.execute(
            select(logged_models.c.id).where(
                logged_models.c.id.in_(wanted), logged_models.c.lifecycle == "active"
            )
        ).scalars()
    )
    for model_id in wanted:
        if model_id not in found:
            raise NotFound(f"logged model {model_id!r} does not exist", model_id=model_id)
    conn.execute(
        logged_model_metrics.insert(),
        [
            {
                "model_id": p.model_id,
                "run_id": p.run_id,
                "key": p.key,
                "value": None if math.isnan(p.value) else p.value,
                "step": p.step,
                "timestamp": p.timestamp,
                "dataset_name": p.dataset_name,
                "dataset_digest": p.dataset_digest,
            }
            for p in points
        ],
    )


def link_run(
    conn: Connection, run_id: str, models: Sequence[tuple[str, int]], direction: Direction
) -> None:
    """Record that a run read (input) or produced (output) these models, with a step each."""
    for model_id, step in models:
        key = {"run_id": run_id, "model_id": model_id, "direction": direction}
        found = conn.execute(
            select(run_models.c.step).where(*(run_models.c[k] == v for k, v in key.items()))
        ).first()
        if found is None:
            conn.execute(run_models.insert().values(**key, step=step))


def run_links(
    conn: Connection, run_ids: Sequence[str]
) -> dict[str, dict[Direction, list[tuple[str, int]]]]:
    """For each run, the models it read and produced: {run: {direction: [(model, step)]}}."""
    out: dict[str, dict[Direction, list[tuple[str, int]]]] = {}
    for ids in chunked(list(run_ids)):
        query = (
            select(run_models)
            .where(run_models.c.run_id.in_(ids))
            .order_by(run_models.c.run_id, run_models.c.model_id)
        )
        for row in conn.execute(query):
            way = out.setdefault(row.run_id, {}).setdefault(row.direction, [])
            way.append((row.model_id, int(row.step)))
    return out


def forget_runs(conn: Connection, run_ids: Sequence[str]) -> None:
    """Runs purged for good: their model links go; the models they logged and those models'
    metrics stay, with no run."""
    for ids in chunked(list(run_ids)):
        conn.execute(run_models.delete().where(run_models.c.run_id.in_(ids)))
        conn.execute(
            logged_models.update().where(logged_models.c.run_id.in_(ids)).values(run_id=None)
        )
        conn.execute(
            logged_model_metrics.update()
            .where(logged_model_metrics.c.run_id.in_(ids))
            .values(run_id=None)
        )


def _to_model(row: Row[Any]) -> LoggedModel:
    m = row._mapping
    return LoggedModel(
        id=m["id"],
        experiment_id=int(m["experiment_id"]),
        name=m["name"],
        run_id=m["run_id"],
        status=LoggedModelStatus(m["status"]),
        status_message=m["status_message"],
        model_type=m["model_type"],
        created_at=int(m["created_at"]),
        updated_at=int(m["updated_at"]),
        params=orjson.loads(m["params_doc"]),
        tags=orjson.loads(m["tags_doc"]),
    )


def create(conn: Connection, model: LoggedModel) -> LoggedModel:
    conn.execute(
        logged_models.insert().values(
            id=model.id,
            experiment_id=model.experiment_id,
            name=model.name,
            run_id=model.run_id,
            status=model.status.value,
            status_message=model.status_message,
            model_type=model.model_type,
            created_at=model.created_at,
            updated_at=model.updated_at,
            lifecycle="active",
            params_doc=orjson.dumps(model.params).decode(),
            tags_doc=orjson.dumps(model.tags).decode(),
        )
    )
    return get(conn, model.id)


def get(conn: Connection, model_id: str) -> LoggedModel:
    row = conn.execute(
        select(logged_models).where(
            logged_models.c.id == model_id, logged_models.c.lifecycle == "active"
        )
    ).first()
    if row is None:
        raise NotFound(f"logged model {model_id!r} does not exist", model_id=model_id)
    model = _to_model(row)
    model.metrics = metrics_of(conn, [model_id]).get(model_id, [])
    return model


def of_run(conn: Connection, run_id: str) -> tuple[list[LoggedModel], list[LoggedModel]]:
    """The models a run logged (its own, and any linked as its outputs) and the ones it read
    (linked as inputs), each newest first with their metrics: three statements (one more for
    the metrics of every further 1,000 models)."""
    linked = select(run_models.c.model_id, run_models.c.direction).where(
        run_models.c.run_id == run_id
    )
    links = conn.execute(linked).all()
    outputs = {str(r.model_id) for r in links if r.direction == "output"}
    inputs = {str(r.model_id) for r in links if r.direction == "input"}
    query = (
        select(logged_models)
        .where(
            logged_models.c.lifecycle == "active",
            or_(
                logged_models.c.run_id == run_id,
                logged_models.c.id.in_(linked.with_only_columns(run_models.c.model_id)),
            ),
        )
        .order_by(logged_models.c.created_at.desc(), logged_models.c.id)
    )
    models = [_to_model(r) for r in conn.execute(query)]
    metrics = metrics_of(conn, [m.id for m in models])
    for model in models:
        model.metrics = metrics.get(model.id, [])
    made = [m for m in models if m.run_id == run_id or m.id in outputs]
    return made, [m for m in models if m.id in inputs]


def list_in(conn: Connection, experiment_ids: list[int] | None) -> list[LoggedModel]:
    query = select(logged_models).where(logged_models.c.lifecycle == "active")
    if experiment_ids:
        query = query.where(logged_models.c.experiment_id.in_(experiment_ids))
    models = [_to_model(r) for r in conn.execute(query)]
    metrics = metrics_of(conn, [m.id for m in models])
    for model in models:
        model.metrics = metrics.get(model.id, [])
    return models


def update(
    conn: Connection,
    model_id: str,
    *,
    status: LoggedModelStatus | None = None,
    status_message: str | None = None,
    tags: dict[str, str] | None = None,
    deleted_tag: str | None = None,
    params: dict[str, str] | None = None,
) -> LoggedModel:
    model = get(conn, model_id)
    values: dict[str, object] = {"updated_at": now_ms()}
    if status is not None:
        values["status"] = status.value
    if status_message is not None:
        values["status_message"] = status_message
    if tags or deleted_tag is not None:
        values["tags_doc"] = docs.merge(model.tags, tags, deleted_tag, f"model {model_id}")
    if params:
        for key, value in params.items():
            if key in model.params and model.params[key] != value:
                raise InvalidState(f"param {key!r} of model {model_id} is already set")
        values["params_doc"] = orjson.dumps({**model.params, **params}).decode()
    conn.execute(logged_models.update().where(logged_models.c.id == model_id).values(**values))
    return get(conn, model_id)


def delete(conn: Connection, model_id: str) -> None:
    get(conn, model_id)
    conn.execute(
        logged_models.update()
        .where(logged_models.c.id == model_id)
        .values(lifecycle="deleted", updated_at=now_ms())
    )
