"""Models logged by runs (MLflow 3's logged models) in the metadata store."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from modelyard.errors import InvalidState, NotFound
from modelyard.registry.entities import LoggedModel, LoggedModelStatus
from modelyard.store.metadata import docs
from modelyard.store.metadata.sql import now_ms
from modelyard.store.metadata.tables import logged_models


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
    return _to_model(row)


def list_in(conn: Connection, experiment_ids: list[int] | None) -> list[LoggedModel]:
    query = select(logged_models).where(logged_models.c.lifecycle == "active")
    if experiment_ids:
        query = query.where(logged_models.c.experiment_id.in_(experiment_ids))
    return [_to_model(r) for r in conn.execute(query)]


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
