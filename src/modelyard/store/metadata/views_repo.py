"""Saved views of an experiment's runs page in the metadata store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.exc import IntegrityError

from modelyard.errors import AlreadyExists, Conflict, NotFound
from modelyard.store.metadata.sql import now_ms
from modelyard.store.metadata.tables import experiments, saved_views
from modelyard.tracking.view_entities import SavedView


def _to_view(row: Row[Any]) -> SavedView:
    m = row._mapping
    return SavedView(
        id=int(m["id"]),
        experiment_id=int(m["experiment_id"]),
        name=str(m["name"]),
        query=str(m["query"]),
        owner=str(m["owner"]),
        created_at=int(m["created_at"]),
        updated_at=int(m["updated_at"]),
    )


def _taken(conn: Connection, experiment_id: int, name: str, but: int | None = None) -> bool:
    query = select(saved_views.c.id).where(
        saved_views.c.experiment_id == experiment_id, saved_views.c.name == name
    )
    if but is not None:
        query = query.where(saved_views.c.id != but)
    return conn.execute(query).first() is not None


def _exists(name: str) -> AlreadyExists:
    return AlreadyExists(f"this experiment already has a view named {name!r}", name=name)


def list_of(conn: Connection, experiment_id: int) -> list[SavedView]:
    query = select(saved_views).where(saved_views.c.experiment_id == experiment_id)
    return [_to_view(r) for r in conn.execute(query.order_by(saved_views.c.name))]


def get(conn: Connection, experiment_id: int, view_id: int) -> SavedView:
    """The view, if it belongs to this experiment (else NotFound, as for no view at all)."""
    row = conn.execute(
        select(saved_views).where(
            saved_views.c.id == view_id, saved_views.c.experiment_id == experiment_id
        )
    ).first()
    if row is None:
        raise NotFound(
            f"experiment {experiment_id} has no saved view {view_id}",
            experiment_id=experiment_id,
            view_id=view_id,
        )
    return _to_view(row)


def create(
    conn: Connection, experiment_id: int, name: str, query: str, owner: str, limit: int
) -> SavedView:
    """A new view; Conflict once the experiment has ``limit`` (counted under a lock on the
    experiment's row, so concurrent creates on PostgreSQL cannot pass it together)."""
    conn.execute(
        select(experiments.c.id).where(experiments.c.id == experiment_id).with_for_update()
    )
    count = select(func.count()).where(saved_views.c.experiment_id == experiment_id)
    if int(conn.execute(count).scalar_one()) >= limit:
        raise Conflict(
            f"experiment {experiment_id} has {limit} saved views, the most it may have: "
            "delete one first",
            limit=limit,
        )
    if _taken(conn, experiment_id, name):
        raise _exists(name)
    now = now_ms()
    values = {"experiment_id": experiment_id, "name": name, "query": query, "owner": owner}
    try:
        result = conn.execute(saved_views.insert().values(created_at=now, updated_at=now, **values))
    except IntegrityError as exc:  # a concurrent writer took the name (PostgreSQL replicas)
        raise _exists(name) from exc
    return get(conn, experiment_id, int(result.inserted_primary_key[0]))  # type: ignore[index]


def update(
    conn: Connection, experiment_id: int, view_id: int, name: str | None, query: str | None
) -> SavedView:
    get(conn, experiment_id, view_id)
    values: dict[str, object] = {"updated_at": now_ms()}
    if name is not None:
        if _taken(conn, experiment_id, name, but=view_id):
            raise _exists(name)
        values["name"] = name
    if query is not None:
        values["query"] = query
    try:
        conn.execute(saved_views.update().where(saved_views.c.id == view_id).values(**values))
    except IntegrityError as exc:
        raise _exists(str(name)) from exc
    return get(conn, experiment_id, view_id)


def delete(conn: Connection, experiment_id: int, view_id: int) -> None:
    get(conn, experiment_id, view_id)
    conn.execute(saved_views.delete().where(saved_views.c.id == view_id))
