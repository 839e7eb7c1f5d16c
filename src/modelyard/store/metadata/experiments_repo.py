"""Experiments in the metadata store."""

from __future__ import annotations

from sqlalchemy import Connection, Row, select
from sqlalchemy.exc import IntegrityError

from modelyard.errors import AlreadyExists, InvalidState, NotFound
from modelyard.store.metadata.sql import now_ms, upsert
from modelyard.store.metadata.tables import experiment_tags, experiments
from modelyard.tracking.entities import Experiment, Lifecycle, ViewType


def _to_experiment(row: Row[tuple[object, ...]], tags: dict[str, str]) -> Experiment:
    m = row._mapping
    return Experiment(
        id=int(m["id"]),
        name=str(m["name"]),
        description=str(m["description"]),
        lifecycle=Lifecycle(m["lifecycle"]),
        created_at=int(m["created_at"]),
        updated_at=int(m["updated_at"]),
        tags=tags,
    )


def _tags(conn: Connection, ids: list[int]) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = {i: {} for i in ids}
    if ids:
        rows = conn.execute(select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids)))
        for exp_id, key, value in rows:
            out[exp_id][key] = value
    return out


def create(conn: Connection, name: str, description: str, tags: dict[str, str]) -> Experiment:
    if conn.execute(select(experiments.c.id).where(experiments.c.name == name)).first():
        raise AlreadyExists(f"experiment {name!r} already exists", name=name)
    now = now_ms()
    try:
        result = conn.execute(
            experiments.insert().values(
                name=name,
                description=description,
                lifecycle="active",
                created_at=now,
                updated_at=now,
            )
        )
    except IntegrityError as exc:
        raise AlreadyExists(f"experiment {name!r} already exists", name=name) from exc
    exp_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    set_tags(conn, exp_id, tags)
    return get(conn, exp_id)


def get(conn: Connection, exp_id: int) -> Experiment:
    row = conn.execute(select(experiments).where(experiments.c.id == exp_id)).first()
    if row is None:
        raise NotFound(f"experiment {exp_id} does not exist", experiment_id=exp_id)
    return _to_experiment(row, _tags(conn, [exp_id])[exp_id])


def get_by_name(conn: Connection, name: str) -> Experiment:
    row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
    if row is None:
        raise NotFound(f"experiment {name!r} does not exist", name=name)
    return _to_experiment(row, _tags(conn, [int(row.id)])[int(row.id)])


def get_or_create(conn: Connection, name: str) -> int:
    """The id of the active experiment called ``name``, created when missing."""
    row = conn.execute(
        select(experiments.c.id, experiments.c.lifecycle).where(experiments.c.name == name)
    ).first()
    if row is None:
        return create(conn, name, "", {}).id
    if row.lifecycle != "active":
        raise InvalidState(f"experiment {name!r} is deleted; restore it first", name=name)
    return int(row.id)


def list_all(conn: Connection, view: ViewType) -> list[Experiment]:
    query = select(experiments).order_by(experiments.c.id)
    if view != ViewType.ALL:
        query = query.where(experiments.c.lifecycle == view.value)
    rows = conn.execute(query).all()
    tags = _tags(conn, [int(r.id) for r in rows])
    return [_to_experiment(r, tags[int(r.id)]) for r in rows]


def update(
    conn: Connection, exp_id: int, *, name: str | None = None, description: str | None = None
) -> Experiment:
    get(conn, exp_id)
    values: dict[str, object] = {"updated_at": now_ms()}
    if name is not None:
        clash = conn.execute(
            select(experiments.c.id).where(experiments.c.name == name, experiments.c.id != exp_id)
        ).first()
        if clash:
            raise AlreadyExists(f"experiment {name!r} already exists", name=name)
        values["name"] = name
    if description is not None:
        values["description"] = description
    conn.execute(experiments.update().where(experiments.c.id == exp_id).values(**values))
    return get(conn, exp_id)


def set_tags(conn: Connection, exp_id: int, tags: dict[str, str]) -> None:
    rows = [{"experiment_id": exp_id, "key": k, "value": v} for k, v in tags.items()]
    upsert(conn, experiment_tags, rows, ["experiment_id", "key"])


def delete_tag(conn: Connection, exp_id: int, key: str) -> Experiment:
    get(conn, exp_id)
    result = conn.execute(
        experiment_tags.delete().where(
            experiment_tags.c.experiment_id == exp_id, experiment_tags.c.key == key
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"tag {key!r} is not set on experiment {exp_id}", key=key)
    return get(conn, exp_id)


def set_lifecycle(conn: Connection, exp_id: int, lifecycle: Lifecycle) -> Experiment:
    get(conn, exp_id)
    now = now_ms()
    conn.execute(
        experiments.update()
        .where(experiments.c.id == exp_id)
        .values(
            lifecycle=lifecycle.value,
            updated_at=now,
            deleted_at=now if lifecycle == Lifecycle.DELETED else None,
        )
    )
    return get(conn, exp_id)
