"""Registered models, their versions and aliases, and the history of every change."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, Row, select
from sqlalchemy.exc import IntegrityError

from modelyard.errors import AlreadyExists, InvalidInput, NotFound
from modelyard.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from modelyard.store.metadata import artifact_index_repo, docs
from modelyard.store.metadata.sql import now_ms
from modelyard.store.metadata.tables import (
    model_aliases,
    model_versions,
    registered_models,
    registry_events,
)


def record(
    conn: Connection,
    model: str,
    action: str,
    user: str,
    version: int | None = None,
    **detail: object,
) -> None:
    """Append one event to the model's history, in the caller's transaction."""
    conn.execute(
        registry_events.insert().values(
            model_name=model,
            version=version,
            action=action,
            detail=orjson.dumps(detail).decode(),
            user=user,
            at=now_ms(),
        )
    )


def _model_row(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(registered_models).where(registered_models.c.name == name)).first()
    if row is None:
        raise NotFound(f"registered model {name!r} does not exist", name=name)
    return row


def model_id(conn: Connection, name: str) -> int:
    return int(_model_row(conn, name).id)


def _aliases(conn: Connection, ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        rows = conn.execute(select(model_aliases).where(model_aliases.c.model_id.in_(ids)))
        for mid, alias, version in rows:
            out[mid][alias] = int(version)
    return out


def _to_version(row: Row[Any], name: str, aliases: dict[str, int]) -> ModelVersion:
    m = row._mapping
    version = int(m["version"])
    return ModelVersion(
        name=name,
        version=version,
        source=m["source"],
        artifact_prefix=m["artifact_prefix"],
        run_id=m["run_id"],
        logged_model_id=m["logged_model_id"],
        description=m["description"],
        stage=Stage(m["stage"]),
        user=m["user"],
        created_at=int(m["created_at"]),
        updated_at=int(m["updated_at"]),
        tags=orjson.loads(m["tags_doc"]),
        aliases=sorted(a for a, v in aliases.items() if v == version),
    )


def _versions(
    conn: Connection, rows: list[Row[Any]], aliases: dict[int, dict[str, int]] | None = None
) -> dict[int, list[ModelVersion]]:
    """Every version of the given model rows, oldest first (``aliases`` when already read)."""
    ids = [int(r.id) for r in rows]
    names = {int(r.id): str(r.name) for r in rows}
    aliases = aliases if aliases is not None else _aliases(conn, ids)
    out: dict[int, list[ModelVersion]] = {i: [] for i in ids}
    if ids:
        query = (
            select(model_versions)
            .where(model_versions.c.model_id.in_(ids))
            .order_by(model_versions.c.model_id, model_versions.c.version)
        )
        for row in conn.execute(query):
            mid = int(row.model_id)
            out[mid].append(_to_version(row, names[mid], aliases[mid]))
    return out


def _to_models(conn: Connection, rows: list[Row[Any]]) -> list[RegisteredModel]:
    aliases = _aliases(conn, [int(r.id) for r in rows])
    versions = _versions(conn, rows, aliases)
    out = []
    for row in rows:
        m = row._mapping
        latest: dict[Stage, ModelVersion] = {}
        for v in versions[int(m["id"])]:
            latest[v.stage] = v  # oldest first: the last one seen per stage is the newest
        out.append(
            RegisteredModel(
                name=m["name"],
                description=m["description"],
                user=m["user"],
                created_at=int(m["created_at"]),
                updated_at=int(m["updated_at"]),
                tags=orjson.loads(m["tags_doc"]),
                aliases=aliases[int(m["id"])],
                latest=latest,
            )
        )
    return out


def create_model(
    conn: Connection, name: str, description: str, tags: dict[str, str], user: str
) -> RegisteredModel:
    if conn.execute(select(registered_models.c.id).where(registered_models.c.name == name)).first():
        raise AlreadyExists(f"registered model {name!r} already exists", name=name)
    now = now_ms()
    try:
        conn.execute(
            registered_models.insert().values(
                name=name,
                description=description,
                user=user,
                created_at=now,
                updated_at=now,
                next_version=1,
                tags_doc=orjson.dumps(tags).decode(),
            )
        )
    except IntegrityError as exc:
        raise AlreadyExists(f"registered model {name!r} already exists", name=name) from exc
    record(conn, name, "created", user, description=description)
    return get_model(conn, name)


def get_model(conn: Connection, name: str) -> RegisteredModel:
    return _to_models(conn, [_model_row(conn, name)])[0]


def list_models(conn: Connection) -> list[RegisteredModel]:
    rows = list(conn.execute(select(registered_models).order_by(registered_models.c.name)))
    return _to_models(conn, rows)


def update_model(
    conn: Connection,
    name: str,
    user: str,
    *,
    new_name: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    deleted_tag: str | None = None,
) -> RegisteredModel:
    row = _model_row(conn, name)
    values: dict[str, object] = {"updated_at": now_ms()}
    if new_name is not None and new_name != name:
        if conn.execute(
            select(registered_models.c.id).where(registered_models.c.name == new_name)
        ).first():
            raise AlreadyExists(f"registered model {new_name!r} already exists", name=new_name)
        values["name"] = new_name
        record(conn, name, "renamed", user, new_name=new_name)
    if description is not None:
        values["description"] = description
    if tags or deleted_tag is not None:
        values["tags_doc"] = docs.merge(row.tags_doc, tags, deleted_tag, f"model {name!r}")
    conn.execute(registered_models.update().where(registered_models.c.id == row.id).values(values))
    return get_model(conn, str(values.get("name", name)))


def delete_model(conn: Connection, name: str, user: str) -> list[ModelVersion]:
    """Delete a model with its versions and aliases; returns the versions (for their files)."""
    row = _model_row(conn, name)
    versions = _versions(conn, [row])[int(row.id)]
    conn.execute(model_aliases.delete().where(model_aliases.c.model_id == row.id))
    conn.execute(model_versions.delete().where(model_versions.c.model_id == row.id))
    conn.execute(registered_models.delete().where(registered_models.c.id == row.id))
    artifact_index_repo.delete_under(conn, f"versions/{row.id}", now_ms())
    record(conn, name, "deleted", user, versions=[v.version for v in versions])
    return versions


def create_version(
    conn: Connection, name: str, version: ModelVersion, number: int | None = None
) -> ModelVersion:
    """Insert version ``number`` of ``name``, by default the next one (never reused)."""
    row = _model_row(conn, name)
    if number is None:
        number = int(row.next_version)
    elif number < int(row.next_version):
        raise InvalidInput(
            f"version {number} of model {name!r} is taken or was used before "
            f"(the next free number is {row.next_version})"
        )
    conn.execute(
        registered_models.update()
        .where(registered_models.c.id == row.id)
        .values(next_version=number + 1, updated_at=version.created_at)
    )
    # The version keeps its own names for the source's files (same blobs): later changes to
    # the run's artifacts do not change a registered version. An empty source stays a link.
    snapshot = f"versions/{row.id}/{number}"
    copied = artifact_index_repo.copy(conn, version.artifact_prefix, snapshot, version.created_at)
    conn.execute(
        model_versions.insert().values(
            model_id=row.id,
            version=number,
            source=version.source,
            artifact_prefix=snapshot if copied else version.artifact_prefix,
            run_id=version.run_id,
            logged_model_id=version.logged_model_id,
            description=version.description,
            stage=Stage.NONE.value,
            user=version.user,
            created_at=version.created_at,
            updated_at=version.created_at,
            tags_doc=orjson.dumps(version.tags).decode(),
        )
    )
    record(conn, name, "version_created", version.user, number, source=version.source)
    return get_version(conn, name, number)


def _version_row(conn: Connection, name: str, version: int) -> tuple[int, Row[Any]]:
    mid = model_id(conn, name)
    row = conn.execute(
        select(model_versions).where(
            model_versions.c.model_id == mid, model_versions.c.version == version
        )
    ).first()
    if row is None:
        raise NotFound(f"version {version} of model {name!r} does not exist", name=name)
    return mid, row


def get_version(conn: Connection, name: str, version: int) -> ModelVersion:
    mid, row = _version_row(conn, name, version)
    return _to_version(row, name, _aliases(conn, [mid])[mid])


def list_versions(conn: Connection) -> list[ModelVersion]:
    rows = list(conn.execute(select(registered_models)))
    return [v for vs in _versions(conn, rows).values() for v in vs]


def update_version(
    conn: Connection,
    name: str,
    version: int,
    user: str,
    *,
    description: str | None = None,
    stage: Stage | None = None,
    archive_others: bool = False,
    tags: dict[str, str] | None = None,
    deleted_tag: str | None = None,
) -> ModelVersion:
    mid, row = _version_row(conn, name, version)
    now = now_ms()
    values: dict[str, object] = {"updated_at": now}
    if description is not None:
        values["description"] = description
    if stage is not None:
        values["stage"] = stage.value
        record(conn, name, "stage_changed", user, version, old=row.stage, new=stage.value)
        if archive_others and stage in (Stage.STAGING, Stage.PRODUCTION):
            others = conn.execute(
                select(model_versions.c.version).where(
                    model_versions.c.model_id == mid,
                    model_versions.c.stage == stage.value,
                    model_versions.c.version != version,
                )
            ).all()
            for (other,) in others:
                conn.execute(
                    model_versions.update()
                    .where(model_versions.c.model_id == mid, model_versions.c.version == other)
                    .values(stage=Stage.ARCHIVED.value, updated_at=now)
                )
                record(
                    conn, name, "stage_changed", user, int(other), old=stage.value, new="Archived"
                )
    if tags or deleted_tag is not None:
        owner = f"{name!r} version {version}"
        values["tags_doc"] = docs.merge(row.tags_doc, tags, deleted_tag, owner)
    conn.execute(
        model_versions.update()
        .where(model_versions.c.model_id == mid, model_versions.c.version == version)
        .values(values)
    )
    conn.execute(
        registered_models.update().where(registered_models.c.id == mid).values(updated_at=now)
    )
    return get_version(conn, name, version)


def delete_version(conn: Connection, name: str, version: int, user: str) -> ModelVersion:
    mid, _row = _version_row(conn, name, version)
    found = get_version(conn, name, version)
    conn.execute(
        model_aliases.delete().where(
            model_aliases.c.model_id == mid, model_aliases.c.version == version
        )
    )
    conn.execute(
        model_versions.delete().where(
            model_versions.c.model_id == mid, model_versions.c.version == version
        )
    )
    if found.artifact_prefix == f"versions/{mid}/{version}":
        artifact_index_repo.delete_under(conn, found.artifact_prefix, now_ms())
    record(conn, name, "version_deleted", user, version, aliases=found.aliases)
    return found


def set_alias(conn: Connection, name: str, alias: str, version: int, user: str) -> None:
    mid, _row = _version_row(conn, name, version)
    old = _aliases(conn, [mid])[mid].get(alias)
    conn.execute(
        model_aliases.delete().where(
            model_aliases.c.model_id == mid, model_aliases.c.alias == alias
        )
    )
    conn.execute(model_aliases.insert().values(model_id=mid, alias=alias, version=version))
    record(conn, name, "alias_set", user, version, alias=alias, previous=old)


def delete_alias(conn: Connection, name: str, alias: str, user: str) -> None:
    mid = model_id(conn, name)
    old = _aliases(conn, [mid])[mid].get(alias)
    if old is None:
        raise NotFound(f"model {name!r} has no alias {alias!r}", name=name, alias=alias)
    conn.execute(
        model_aliases.delete().where(
            model_aliases.c.model_id == mid, model_aliases.c.alias == alias
        )
    )
    record(conn, name, "alias_deleted", user, old, alias=alias)


def version_by_alias(conn: Connection, name: str, alias: str) -> ModelVersion:
    mid = model_id(conn, name)
    version = _aliases(conn, [mid])[mid].get(alias)
    if version is None:
        raise NotFound(f"model {name!r} has no alias {alias!r}", name=name, alias=alias)
    return get_version(conn, name, version)


def history(conn: Connection, name: str) -> list[RegistryEvent]:
    """Every recorded change of the model named ``name``, oldest first."""
    rows = conn.execute(
        select(registry_events)
        .where(registry_events.c.model_name == name)
        .order_by(registry_events.c.at, registry_events.c.id)
    )
    return [
        RegistryEvent(
            model=r.model_name,
            version=r.version,
            action=r.action,
            detail=orjson.loads(r.detail),
            user=r.user,
            at=int(r.at),
        )
        for r in rows
    ]
