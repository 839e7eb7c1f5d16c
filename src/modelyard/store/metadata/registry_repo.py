"""Registered models, their versions and aliases, and the history of every change."""

from __future__ import annotations

import re
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Row, and_, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from modelyard.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from modelyard.registry.entities import ModelVersion, RegisteredModel, RegistryEvent, Stage
from modelyard.store.metadata import artifact_index_repo, docs
from modelyard.store.metadata.sql import now_ms
from modelyard.store.metadata.tables import (
    model_aliases,
    model_versions,
    registered_models,
    registry_events,
    trusted_packages,
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


def _model_row(conn: Connection, name: str, *, lock: bool = False) -> Row[Any]:
    """The model's row; ``lock`` holds it until the transaction ends (PostgreSQL; on SQLite the
    one writer already runs write transactions one at a time)."""
    query = select(registered_models).where(registered_models.c.name == name)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"registered model {name!r} does not exist", name=name)
    return row


def model_id(conn: Connection, name: str) -> int:
    return int(_model_row(conn, name).id)


def model_name(conn: Connection, model_id: int) -> str:
    """The name of the model with this id (NotFound once it is deleted)."""
    row = conn.execute(
        select(registered_models.c.name).where(registered_models.c.id == model_id)
    ).first()
    if row is None:
        raise NotFound(f"registered model {model_id} does not exist")
    return str(row.name)


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
        package_digest=m["package_digest"],
        package=orjson.loads(m["package_doc"]) if m["package_doc"] else None,
    )


def _mark_trusted(conn: Connection, versions: list[ModelVersion]) -> list[ModelVersion]:
    digests = {v.package_digest for v in versions if v.package_digest}
    if digests:
        query = select(trusted_packages.c.digest).where(trusted_packages.c.digest.in_(digests))
        trusted = set(conn.execute(query).scalars())
        for v in versions:
            v.trusted = v.package_digest in trusted
    return versions


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
        _mark_trusted(conn, [v for vs in out.values() for v in vs])
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
                card=m["card"],
            )
        )
    return out


def _insert_model(
    conn: Connection, name: str, description: str, tags: dict[str, str], user: str
) -> bool:
    """Insert the model row and its ``created`` event; False when the name is taken, also by a
    transaction that committed it meanwhile (the unique name: the insert waits for it on
    PostgreSQL, and only its savepoint is rolled back)."""
    taken = select(registered_models.c.id).where(registered_models.c.name == name)
    if conn.execute(taken).first() is not None:
        return False
    now = now_ms()
    try:
        with conn.begin_nested():
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
    except IntegrityError:
        return False
    record(conn, name, "created", user, description=description)
    return True


def create_model(
    conn: Connection, name: str, description: str, tags: dict[str, str], user: str
) -> RegisteredModel:
    if not _insert_model(conn, name, description, tags, user):
        raise AlreadyExists(f"registered model {name!r} already exists", name=name)
    return get_model(conn, name)


def ensure_model(conn: Connection, name: str, user: str, *, new: bool = False) -> None:
    """The model ``name``, created when missing, in the caller's transaction; ``new``: it must
    not exist yet (AlreadyExists), so of two concurrent creates of one name one wins."""
    if not _insert_model(conn, name, "", {}, user) and new:
        raise AlreadyExists(f"registered model {name!r} already exists", name=name)


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


def delete_model(conn: Connection, name: str, user: str, reason: str = "") -> list[ModelVersion]:
    """Delete a model with its versions and aliases; returns the versions (for their files)."""
    row = _model_row(conn, name)
    versions = _versions(conn, [row])[int(row.id)]
    conn.execute(model_aliases.delete().where(model_aliases.c.model_id == row.id))
    conn.execute(model_versions.delete().where(model_versions.c.model_id == row.id))
    conn.execute(registered_models.delete().where(registered_models.c.id == row.id))
    artifact_index_repo.delete_under(conn, f"versions/{row.id}", now_ms())
    record(conn, name, "deleted", user, versions=[v.version for v in versions], reason=reason)
    return versions


def create_version(
    conn: Connection,
    name: str,
    version: ModelVersion,
    number: int | None = None,
    files: list[artifact_index_repo.FileRow] | None = None,
) -> ModelVersion:
    """Insert version ``number`` of ``name``, by default the next one (never reused).

    ``files`` (keys relative to the version) become its snapshot; without them the files under
    ``version.artifact_prefix`` are copied by name.
    """
    row = _model_row(conn, name, lock=True)  # versions of one model are numbered one at a time
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
    if files is not None:
        rows = [artifact_index_repo.FileRow(f"{snapshot}/{f.key}", f.digest, f.size) for f in files]
        artifact_index_repo.put(conn, rows, version.created_at)
        copied = len(rows)
    else:
        copied = artifact_index_repo.copy(
            conn, version.artifact_prefix, snapshot, version.created_at
        )
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
            package_digest=version.package_digest,
            package_doc=orjson.dumps(version.package).decode() if version.package else None,
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


def _one_version(
    conn: Connection, name: str, *where: ColumnElement[bool], alias: str | None = None
) -> ModelVersion | None:
    """The version of model ``name`` that ``where`` (or ``alias``) picks, with its aliases and
    trust, in two statements; None if there is none."""
    v = model_versions.c
    trusted = exists().where(trusted_packages.c.digest == v.package_digest).label("is_trusted")
    query = (
        select(model_versions, trusted)
        .join(registered_models, registered_models.c.id == v.model_id)
        .where(registered_models.c.name == name, *where)
    )
    if alias is not None:
        a = model_aliases.c
        query = query.join(
            model_aliases, and_(a.model_id == v.model_id, a.version == v.version)
        ).where(a.alias == alias)
    row = conn.execute(query.limit(1)).first()
    if row is None:
        return None
    names = select(model_aliases.c.alias).where(
        model_aliases.c.model_id == row.model_id, model_aliases.c.version == row.version
    )
    found = _to_version(row, name, dict.fromkeys(conn.execute(names).scalars(), int(row.version)))
    found.trusted = bool(row.is_trusted)
    return found


def get_version(conn: Connection, name: str, version: int) -> ModelVersion:
    found = _one_version(conn, name, model_versions.c.version == version)
    if found is None:
        _model_row(conn, name)  # NotFound for the model first
        raise NotFound(f"version {version} of model {name!r} does not exist", name=name)
    return found


def trust(conn: Connection, name: str, version: int, user: str, reason: str) -> ModelVersion:
    """Record that ``user`` allows this version's package digest to load; kept in the history."""
    found = get_version(conn, name, version)
    if not found.package_digest:
        raise InvalidInput(f"version {version} of {name!r} is not a modelyard package")
    if not found.trusted:
        conn.execute(
            trusted_packages.insert().values(
                digest=found.package_digest, user=user, reason=reason, at=now_ms()
            )
        )
    record(conn, name, "trusted", user, version, digest=found.package_digest, reason=reason)
    found.trusted = True
    return found


def set_card(conn: Connection, name: str, card: str, user: str) -> None:
    row = _model_row(conn, name)
    conn.execute(
        registered_models.update().where(registered_models.c.id == row.id).values(card=card)
    )
    record(conn, name, "card_updated", user)


def list_versions(conn: Connection, name: str | None = None) -> list[ModelVersion]:
    """Every version (of one model when ``name`` is given), oldest first per model."""
    query = select(registered_models)
    if name is not None:
        query = query.where(registered_models.c.name == name)
    rows = list(conn.execute(query))
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
    reason: str = "",
) -> ModelVersion:
    mid, row = _version_row(conn, name, version)
    now = now_ms()
    values: dict[str, object] = {"updated_at": now}
    if description is not None:
        values["description"] = description
    if stage is not None:
        values["stage"] = stage.value
        record(
            conn,
            name,
            "stage_changed",
            user,
            version,
            old=row.stage,
            new=stage.value,
            reason=reason,
        )
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
                    conn,
                    name,
                    "stage_changed",
                    user,
                    int(other),
                    old=stage.value,
                    new=Stage.ARCHIVED.value,
                    reason=reason,
                    replaced_by=version,
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


def delete_version(
    conn: Connection, name: str, version: int, user: str, reason: str = ""
) -> ModelVersion:
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
    record(conn, name, "version_deleted", user, version, aliases=found.aliases, reason=reason)
    return found


def set_alias(
    conn: Connection, name: str, alias: str, version: int, user: str, reason: str = ""
) -> None:
    """Four statements: lock the model row, read the version's existence and the alias's current
    version together (after the lock, so a move that held it is seen), insert or update the
    alias, record the event."""
    # alias moves of one model happen one at a time (the row lock on PostgreSQL, on SQLite the
    # one writer); a read in the locking statement would use the snapshot from before the wait
    mid = int(_model_row(conn, name, lock=True).id)
    has_version = exists().where(
        model_versions.c.model_id == mid, model_versions.c.version == version
    )
    current = (
        select(model_aliases.c.version)
        .where(model_aliases.c.model_id == mid, model_aliases.c.alias == alias)
        .scalar_subquery()
    )
    found, old = conn.execute(select(has_version, current)).one()
    if not found:
        raise NotFound(f"version {version} of model {name!r} does not exist", name=name)
    target = model_aliases.c
    if old is None:
        conn.execute(model_aliases.insert().values(model_id=mid, alias=alias, version=version))
    else:
        conn.execute(
            model_aliases.update()
            .where(target.model_id == mid, target.alias == alias)
            .values(version=version)
        )
    record(conn, name, "alias_set", user, version, alias=alias, previous=old, reason=reason)


def delete_alias(conn: Connection, name: str, alias: str, user: str, reason: str = "") -> None:
    mid = int(_model_row(conn, name, lock=True).id)
    old = _aliases(conn, [mid])[mid].get(alias)
    if old is None:
        raise NotFound(f"model {name!r} has no alias {alias!r}", name=name, alias=alias)
    conn.execute(
        model_aliases.delete().where(
            model_aliases.c.model_id == mid, model_aliases.c.alias == alias
        )
    )
    record(conn, name, "alias_deleted", user, old, alias=alias, reason=reason)


def version_by_alias(conn: Connection, name: str, alias: str) -> ModelVersion:
    """A named alias, or the reserved ``v<number>`` (that version) and ``latest`` (the newest)."""
    if (m := re.fullmatch(r"v(\d+)", alias)) is not None:
        return get_version(conn, name, int(m.group(1)))
    found = _one_version(conn, name, alias=alias)
    if found is None and alias == "latest":
        other = model_versions.alias()
        newest = select(func.max(other.c.version)).where(
            other.c.model_id == model_versions.c.model_id
        )
        found = _one_version(conn, name, model_versions.c.version == newest.scalar_subquery())
    if found is None:
        _model_row(conn, name)  # NotFound for the model first
        raise NotFound(f"model {name!r} has no alias {alias!r}", name=name, alias=alias)
    return found


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


def _detail_is(conn: Connection, key: str, value: str) -> ColumnElement[bool]:
    """The event's JSON detail has ``key`` equal to the string ``value``."""
    detail = registry_events.c.detail
    if conn.dialect.name == "postgresql":
        field: ColumnElement[Any] = cast(detail, JSONB)[key].astext
    else:
        field = func.json_extract(detail, f"$.{key}")
    return field == value


def _detail_lists(conn: Connection, key: str, value: str) -> ColumnElement[bool]:
    """The event's JSON detail has a list ``key`` that holds the string ``value``."""
    detail = registry_events.c.detail
    if conn.dialect.name == "postgresql":
        holds: ColumnElement[bool] = cast(detail, JSONB)[key].contains([value])
        return holds
    each = func.json_each(detail, f"$.{key}").table_valued("value")
    return exists(select(each.c.value).where(each.c.value == value))


def _alias_events(conn: Connection, name: str, alias: str, *, removals: bool) -> Any:
    """The newest event of ``name`` that moved ``alias`` (or, with ``removals``, deleted it or
    the version it named)."""
    moved = [registry_events.c.action == "alias_set"]
    if removals:
        moved.append(registry_events.c.action == "alias_deleted")
    touches = and_(or_(*moved), _detail_is(conn, "alias", alias))
    if removals:
        touches = or_(
            touches,
            and_(
                registry_events.c.action == "version_deleted",
                _detail_lists(conn, "aliases", alias),
            ),
        )
    return (
        select(registry_events.c.action, registry_events.c.version, registry_events.c.detail)
        .where(registry_events.c.model_name == name, touches)
        .order_by(registry_events.c.at.desc(), registry_events.c.id.desc())
        .limit(1)
    )


def alias_at(conn: Connection, name: str, alias: str, at: int) -> int | None:
    """The version ``alias`` of ``name`` named at time ``at`` (ms): its last move or removal up
    to then, found by one query on the (model, time) index of the history."""
    query = _alias_events(conn, name, alias, removals=True).where(registry_events.c.at <= at)
    row = conn.execute(query).first()
    return int(row.version) if row is not None and row.action == "alias_set" else None


def rollback_alias(conn: Connection, name: str, alias: str, user: str, reason: str = "") -> int:
    """Point ``alias`` back at the version it named before its last move; returns that version.

    The model row stays locked from reading the last move to writing the new one."""
    _model_row(conn, name, lock=True)
    row = conn.execute(_alias_events(conn, name, alias, removals=False)).first()
    previous = orjson.loads(row.detail).get("previous") if row is not None else None
    if row is None or previous is None:
        raise InvalidState(f"alias {alias!r} of {name!r} has no earlier version to roll back to")
    try:
        set_alias(
            conn, name, alias, int(previous), user, reason or f"rollback from version {row.version}"
        )
    except NotFound:  # the model row is locked: only the earlier version can be missing
        raise InvalidState(
            f"alias {alias!r} of {name!r} named version {previous} before its last move, "
            "and that version was deleted: move the alias instead"
        ) from None
    return int(previous)
